"""``Accounts``: manage users and their API keys (what ``workbench users`` and ``workbench keys`` call).

Passwords are stored as argon2id hashes, keys as SHA-256 hashes; a new key and a new TOTP enrolment URI are
returned once, to be shown once. Every change is written to the audit log with the actor who made it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from workbench.auth.audit import audit
from workbench.auth.errors import AccountError
from workbench.auth.keys import new_key
from workbench.auth.passwords import hash_password
from workbench.auth.policy import AuthPolicy
from workbench.auth.principal import scopes_for
from workbench.auth.totp import new_secret, provisioning_uri
from workbench.auth.vault import Vault
from workbench.clock import Clock, SystemClock
from workbench.store.database import Store
from workbench.store.models_admin import ApiKeyRow, UserRole, UserRow
from workbench.store.unit_of_work import UnitOfWork

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True)
class UserInfo:
    """A user as listed: never the password hash nor the TOTP secret."""

    id: int
    username: str
    role: str
    disabled: bool
    totp: bool
    created_at: datetime
    locked_until: datetime | None

    @classmethod
    def of(cls, row: UserRow) -> UserInfo:
        return cls(
            row.id,
            row.username,
            row.role,
            row.disabled,
            row.totp_sealed is not None or row.totp_secret is not None,
            row.created_at,
            row.locked_until,
        )


@dataclass(frozen=True)
class KeyInfo:
    """An API key as listed: its id, prefix, owner, scopes and dates, never the key."""

    id: int
    prefix: str
    username: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime) -> str:
        """``active``, ``expired`` or ``revoked`` at ``now``."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at is not None and self.expires_at <= now else "active"


@dataclass(frozen=True)
class NewUser:
    """A user just added, and the URI that enrols its TOTP secret (None without a second factor), shown once."""

    user: UserInfo
    totp_uri: str | None

    def __repr__(self) -> str:
        return f"NewUser(user={self.user!r}, totp={self.totp_uri is not None})"


@dataclass(frozen=True)
class CreatedKey:
    """A key just created: ``key`` is shown once and never stored."""

    key: str
    info: KeyInfo

    def __repr__(self) -> str:
        return f"CreatedKey(info={self.info!r})"


class Accounts:
    """Users and API keys in ``store``.

    Examples
    --------
    >>> accounts = Accounts(Store.open("sqlite://"))
    >>> accounts.add_user("ada", "correct horse battery", role="trader", actor="cli:root").user.role
    'trader'
    >>> created = accounts.create_key("ada", scopes=["read"], expires_in=timedelta(days=90), actor="cli:root")
    >>> [(k.username, k.scopes) for k in accounts.list_keys()]
    [('ada', ('read',))]
    """

    def __init__(
        self, store: Store, policy: AuthPolicy | None = None, clock: Clock | None = None, vault: Vault | None = None
    ) -> None:
        self.store = store
        self.policy = policy or AuthPolicy()
        self.clock = clock or SystemClock()
        #: Seals the TOTP secrets at rest (by default the settings' key, read when first needed).
        self.vault = vault if vault is not None else Vault()

    def add_user(
        self, username: str, password: str, *, role: UserRole | str = UserRole.VIEWER, totp: bool = False, actor: str
    ) -> NewUser:
        """Add a user with ``password`` (hashed) and ``role``; with ``totp`` a second factor is enrolled.

        Raises
        ------
        AccountError
            A malformed or taken username, a password too short or too long, or an unknown role.
        """
        _check_username(username)
        self._check_password(password)
        try:
            role = UserRole(role)
        except ValueError:
            roles = ", ".join(UserRole)
            message = f"role {role!r} is not one of {roles}"
            raise AccountError(message, field="role", value=role, expected=roles) from None
        secret = new_secret() if totp else None
        password_hash = hash_password(password, self.policy.hasher)
        now = self.clock.now()
        with self.store.unit_of_work() as uow:
            if uow.users.by_username(username) is not None:
                raise AccountError(f"user {username!r} exists already", field="username", value=username)
            row = uow.users.add(username, password_hash, role=role, now=now)
            row.totp_sealed = None if secret is None else self.vault.seal(secret)  # sealed at rest
            audit(uow, actor, "user.add", f"user:{username}", now=now, role=role.value, totp=totp)
            user = UserInfo.of(row)
        return NewUser(user, None if secret is None else provisioning_uri(secret, username))

    def list_users(self) -> list[UserInfo]:
        """Every user, by name."""
        with self.store.unit_of_work(readonly=True) as uow:
            return [UserInfo.of(row) for row in uow.users.find()]

    def disable_user(self, username: str, *, actor: str) -> UserInfo:
        """Disable a user: no more logins, and every session and key of theirs stops working at once."""
        now = self.clock.now()
        with self.store.unit_of_work() as uow:
            row = _user(uow, username)
            uow.users.update(row.id, disabled=True)
            ended = uow.sessions.revoke_all(row.id, now=now)
            audit(uow, actor, "user.disable", f"user:{username}", now=now, sessions_revoked=ended)
            return UserInfo.of(row)

    def create_key(
        self, username: str, *, scopes: Iterable[str] = (), expires_in: timedelta | None, actor: str
    ) -> CreatedKey:
        """A new API key of ``username`` with ``scopes`` (all the role grants when empty), expiring after
        ``expires_in`` (None: never). The key is in the result only; the store keeps its hash."""
        if expires_in is not None and expires_in <= timedelta(0):
            raise AccountError(
                f"expires_in={expires_in} is invalid: expected a positive duration or None",
                field="expires_in",
                value=expires_in,
                expected="a positive duration",
            )
        now = self.clock.now()
        new = new_key()
        with self.store.unit_of_work() as uow:
            user = _user(uow, username)
            granted = sorted(scopes_for(user.role, scopes))
            expires_at = None if expires_in is None else now + expires_in
            row = uow.api_keys.add(user.id, new.key_hash, new.prefix, scopes=granted, expires_at=expires_at, now=now)
            audit(uow, actor, "key.create", f"key:{new.prefix}", now=now, user=username, scopes=granted)
            info = _key_info(row, username)
        return CreatedKey(new.key, info)

    def list_keys(self, username: str | None = None) -> list[KeyInfo]:
        """The keys of ``username`` (None: of everyone), oldest first."""
        with self.store.unit_of_work(readonly=True) as uow:
            names = {row.id: row.username for row in uow.users.find()}
            rows = uow.api_keys.find() if username is None else uow.api_keys.for_user(_user(uow, username).id)
            return [_key_info(row, names[row.user_id]) for row in rows]

    def revoke_key(self, key: str | int, *, actor: str) -> KeyInfo:
        """Revoke a key, named by its id or its prefix; it stops working at the next request."""
        now = self.clock.now()
        with self.store.unit_of_work() as uow:
            row = _find_key(uow, key)
            if row.revoked_at is None:
                uow.api_keys.revoke(row.id, now=now)
            user = uow.users.get(row.user_id)
            audit(uow, actor, "key.revoke", f"key:{row.prefix}", now=now, user=user.username)
            return _key_info(row, user.username)

    def configured(self) -> bool:
        """Whether anyone can authenticate: at least one enabled user (what serving beyond loopback needs)."""
        return any(not user.disabled for user in self.list_users())

    def _check_password(self, password: str) -> None:
        low, high = self.policy.min_password_length, MAX_PASSWORD_LENGTH
        if not low <= len(password) <= high:
            raise AccountError(
                f"the password has {len(password)} characters: expected {low} to {high}",
                field="password",
                value="**********",
                expected=f"{low} to {high} characters",
            )


def _check_username(username: str) -> None:
    if not USERNAME.fullmatch(username):
        raise AccountError(
            f"username {username!r} is invalid: expected 1 to 64 letters, digits or _.@- (the first a letter or digit)",
            field="username",
            value=username,
            expected="1 to 64 letters, digits or _.@-",
        )


def _user(uow: UnitOfWork, username: str) -> UserRow:
    row = uow.users.by_username(username)
    if row is None:
        raise AccountError(f"user {username!r} does not exist", field="username", value=username)
    return row


def _find_key(uow: UnitOfWork, key: str | int) -> ApiKeyRow:
    text = str(key)
    rows = [uow.api_keys.get(int(text))] if text.isdigit() else uow.api_keys.by_prefix(text)
    rows = [row for row in rows if row is not None]
    if len(rows) != 1:
        problem = "does not exist" if not rows else "is ambiguous: revoke it by id"
        raise AccountError(f"API key {text!r} {problem}", field="key", value=text, expected="a key id or prefix")
    return rows[0]


def _key_info(row: ApiKeyRow, username: str) -> KeyInfo:
    return KeyInfo(row.id, row.prefix, username, tuple(row.scopes), row.created_at, row.expires_at, row.revoked_at)

"""``AuthService``: logins, token refresh with rotation, logout, and the credential check of every API request.

Every login, refresh and logout, succeeded or failed, and every credential refused, is written to the audit log
with the real reason (the caller only hears "invalid credentials"); a secret is never written anywhere.

Sessions: a login issues an access token and a refresh token of a new *family*. A refresh token is exchanged once
for a new pair of the same family (rotation); presented a second time it is treated as stolen and the whole family
is revoked (reuse detection), so whoever holds the other copy is logged out too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workbench.auth.audit import ANONYMOUS, FAILURE, audit
from workbench.auth.errors import AuthError
from workbench.auth.keys import KEY_MARK, key_matches, key_prefix
from workbench.auth.passwords import hash_password, needs_rehash, verify_password
from workbench.auth.policy import AuthPolicy
from workbench.auth.principal import ROLE_SCOPES, Principal
from workbench.auth.tokens import TokenPair, new_token, token_hash, token_kind
from workbench.auth.totp import accept_code
from workbench.auth.vault import Vault, seal_stored
from workbench.clock import Clock, SystemClock
from workbench.logs import get_logger
from workbench.store.database import Store
from workbench.store.models_admin import SessionRow, TokenKind, UserRow
from workbench.store.unit_of_work import UnitOfWork

#: What a caller hears whenever authentication fails, whatever the reason (no hint for guessing).
INVALID = "invalid credentials"
#: Failed logins that count towards a lockout: guesses. Attempts on a locked or disabled user do not extend it.
_COUNTED = frozenset({"bad_password", "totp_required", "bad_totp"})
_log = get_logger("workbench.auth")


@dataclass(frozen=True)
class _Verdict:
    """The password and code check of a login: why it fails (None: it succeeds), the TOTP step it used, and the
    password's new hash when the stored one was made with outdated parameters."""

    reason: str | None
    step: int | None = None
    rehash: str | None = None


@dataclass
class _Outcome:
    """What a write unit of work decided: tokens, or the failure to raise once the audit entry is committed."""

    pair: TokenPair | None = None
    failure: AuthError | None = None

    def result(self) -> TokenPair:
        if self.failure is not None:
            raise self.failure
        assert self.pair is not None
        return self.pair


class AuthService:
    """Authenticates users (password, optional TOTP) and API requests (API key or access token) against ``store``.

    Examples
    --------
    >>> from workbench.auth.accounts import Accounts
    >>> store = Store.open("sqlite://")
    >>> _ = Accounts(store).add_user("ada", "correct horse battery", role="trader", actor="cli:root")
    >>> auth = AuthService(store)
    >>> pair = auth.login("ada", "correct horse battery", source="127.0.0.1")
    >>> auth.authenticate(pair.access_token).username
    'ada'
    >>> pair = auth.refresh(pair.refresh_token)  # the old refresh token is spent
    """

    def __init__(
        self, store: Store, policy: AuthPolicy | None = None, clock: Clock | None = None, vault: Vault | None = None
    ) -> None:
        self.store = store
        self.policy = policy or AuthPolicy()
        self.clock = clock or SystemClock()
        #: Seals the TOTP secrets at rest (by default the settings' key, read when first needed).
        self.vault = vault if vault is not None else Vault()
        seal_stored(store, self.vault)  # secrets stored in clear before: sealed now (the key is read only then)
        # Verified against when the user does not exist, so a login takes as long either way.
        self._decoy = hash_password("decoy password", self.policy.hasher)

    def login(self, username: str, password: str, code: str | None = None, *, source: str = "") -> TokenPair:
        """Tokens for ``username`` if ``password`` (and ``code``, the TOTP of a user who has one) are right.

        Failures count towards the lockout (`AuthPolicy.lock_for`); a locked, disabled or unknown user fails
        the same way as a wrong password.

        Raises
        ------
        AuthError
            With the public message "invalid credentials" and the real ``reason``.
        """
        now = self.clock.now()
        # The slow part (argon2) runs outside the write transaction, which would hold SQLite's write lock meanwhile.
        with self.store.unit_of_work(readonly=True) as uow:
            found = uow.users.by_username(username)
        verdict = self._verify(found, password, code, now)
        outcome = _Outcome()
        with self.store.unit_of_work() as uow:
            user = None if found is None else uow.users.get(found.id)
            reason = verdict.reason or ("unknown_user" if user is None else _replayed(user, verdict.step))
            if reason is None:
                assert user is not None
                changes: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
                if verdict.step is not None:
                    changes["totp_counter"] = verdict.step
                if verdict.rehash is not None:
                    changes["password_hash"] = verdict.rehash
                uow.users.update(user.id, **changes)
                outcome.pair = self._issue(uow, user, family=None, now=now)
                audit(uow, username, "auth.login", f"user:{username}", now=now, source=source)
            else:
                lock = self._count_failure(uow, user, now) if user is not None and reason in _COUNTED else None
                details = {"reason": reason, "source": source, "locked_until": lock and lock.isoformat()}
                audit(uow, username, "auth.login", f"user:{username}", now=now, outcome=FAILURE, **details)
                outcome.failure = AuthError(INVALID, reason=reason)
        if outcome.failure is not None:
            _log.info("login refused", username=username, reason=outcome.failure.reason, source=source)
        return outcome.result()

    def refresh(self, refresh_token: str, *, source: str = "") -> TokenPair:
        """A new pair for a refresh token, which is spent; a spent one presented again revokes its whole login.

        Raises
        ------
        AuthError
            Unknown, revoked, expired or reused token, or a disabled user.
        """
        now = self.clock.now()
        outcome = _Outcome()
        with self.store.unit_of_work() as uow:
            row = uow.sessions.by_token_hash(token_hash(refresh_token))
            user = None if row is None else uow.users.get(row.user_id)
            reason = _refresh_problem(uow, row, user, now, self.policy)
            if reason is None:
                assert row is not None and user is not None
                outcome.pair = self._issue(uow, user, family=row.family, now=now)
            elif reason in ("reused", "disabled") and row is not None:
                uow.sessions.revoke_family(row.family, now=now)
            actor = ANONYMOUS if user is None else user.username
            target = None if row is None else f"session:{row.family}"
            if reason is None:
                audit(uow, actor, "auth.refresh", target, now=now, source=source)
            else:
                audit(uow, actor, "auth.refresh", target, now=now, outcome=FAILURE, reason=reason, source=source)
                outcome.failure = AuthError(INVALID, reason=reason)
        if outcome.failure is not None:
            _log.warning("refresh refused", reason=outcome.failure.reason, source=source)
        return outcome.result()

    def logout(self, principal: Principal, *, source: str = "") -> int:
        """End the login of a bearer-token ``principal`` (every token of its family); returns how many tokens."""
        now = self.clock.now()
        with self.store.unit_of_work() as uow:
            ended = 0 if principal.session is None else uow.sessions.revoke_family(principal.session, now=now)
            audit(uow, principal.username, "auth.logout", principal.credential, now=now, source=source, tokens=ended)
        return ended

    def authenticate(self, credential: str, *, source: str = "") -> Principal:
        """The caller an API key (``wbk_...``) or access token (``wba_...``) belongs to, checked in full on every
        request: it exists, is not revoked nor expired, and its user is enabled.

        Raises
        ------
        AuthError
            Anything else; the refusal is audited (with the key's prefix when the key is well-formed).
        """
        now = self.clock.now()
        if credential.startswith(KEY_MARK):
            action, target = "auth.key", key_prefix(credential)
            with self.store.unit_of_work(readonly=True) as uow:
                principal, reason = _check_key(uow, credential, target, now)
        else:
            action, target = "auth.token", None
            with self.store.unit_of_work(readonly=True) as uow:
                principal, reason = _check_token(uow, credential, now)
        if principal is not None:
            return principal
        with self.store.unit_of_work() as uow:
            actor = ANONYMOUS if target is None else f"key:{target}"
            audit(uow, actor, action, target, now=now, outcome=FAILURE, reason=reason, source=source)
        _log.info("credential refused", kind=action, prefix=target, reason=reason, source=source)
        raise AuthError(INVALID, reason=reason)

    def _verify(self, user: UserRow | None, password: str, code: str | None, now: datetime) -> _Verdict:
        """Why a login fails (no reason: it succeeds), the TOTP step it used, and a new hash if the stored one is
        outdated. The password is verified in every case, so a refusal takes as long whatever its reason."""
        if user is None:
            verify_password(self._decoy, password, self.policy.hasher)
            return _Verdict("unknown_user")
        password_ok = verify_password(user.password_hash, password, self.policy.hasher)
        if user.disabled:
            return _Verdict("disabled")
        if user.locked_until is not None and now < user.locked_until:
            return _Verdict("locked")
        if not password_ok:
            return _Verdict("bad_password")
        step = None
        stored = user.totp_sealed or user.totp_secret  # sealed; in clear only if stored before and not sealed yet
        if stored is not None:
            if not code:
                return _Verdict("totp_required")
            step = accept_code(self.vault.open(stored), code, now, user.totp_counter)
            if step is None:
                return _Verdict("bad_totp")
        if needs_rehash(user.password_hash, self.policy.hasher):
            return _Verdict(None, step, hash_password(password, self.policy.hasher))
        return _Verdict(None, step)

    def _count_failure(self, uow: UnitOfWork, user: UserRow, now: datetime) -> datetime | None:
        """Count a failed login of ``user``; returns until when it is now locked (None: not locked)."""
        failures = user.failed_logins + 1
        lock = self.policy.lock_for(failures)
        until = None if lock is None else now + lock
        uow.users.update(user.id, failed_logins=failures, locked_until=until or user.locked_until)
        return until

    def _issue(self, uow: UnitOfWork, user: UserRow, *, family: str | None, now: datetime) -> TokenPair:
        """A new access and refresh token for ``user`` in login ``family`` (None: a new login)."""
        started = now if family is None else uow.sessions.family(family)[0].created_at
        end = started + self.policy.session_max
        access, access_hash = new_token(TokenKind.ACCESS)
        refresh, refresh_hash = new_token(TokenKind.REFRESH)
        access_end = min(now + self.policy.access_ttl, end)
        refresh_end = min(now + self.policy.refresh_idle, end)
        row = uow.sessions.add(user.id, access_hash, access_end, family=family, kind=TokenKind.ACCESS, now=now)
        uow.sessions.add(user.id, refresh_hash, refresh_end, family=row.family, kind=TokenKind.REFRESH, now=now)
        return TokenPair(access, refresh, access_end, refresh_end)


def _replayed(user: UserRow | None, step: int | None) -> str | None:
    """ "bad_totp" if a login's TOTP step was used up meanwhile (two logins racing with one code), else None."""
    if user is not None and step is not None and user.totp_counter is not None and step <= user.totp_counter:
        return "bad_totp"
    return None


def _refresh_problem(
    uow: UnitOfWork, row: SessionRow | None, user: UserRow | None, now: datetime, policy: AuthPolicy
) -> str | None:
    """Why a refresh token cannot be exchanged (None: it can, and is now marked spent)."""
    if row is None or row.kind != TokenKind.REFRESH:
        return "unknown_token"
    if row.revoked_at is not None:
        return "revoked"
    if row.used_at is not None or not uow.sessions.mark_used(row.id, now=now):
        return "reused"
    if now >= row.expires_at:
        return "expired"
    if user is None or user.disabled:
        return "disabled"
    if now >= uow.sessions.family(row.family)[0].created_at + policy.session_max:
        return "expired"
    return None


def _check_key(uow: UnitOfWork, key: str, prefix: str | None, now: datetime) -> tuple[Principal | None, str]:
    """The principal of API key ``key``, or None and why not."""
    if prefix is None:
        return None, "malformed_key"
    # Every candidate is compared, in constant time, so a near miss takes as long as a far one.
    matches = [row for row in uow.api_keys.by_prefix(prefix) if key_matches(row.key_hash, key)]
    if not matches:
        return None, "unknown_key"
    row = matches[0]
    user = uow.users.get(row.user_id)
    if row.revoked_at is not None:
        return None, "revoked"
    if row.expires_at is not None and now >= row.expires_at:
        return None, "expired"
    if user is None or user.disabled:
        return None, "disabled"
    scopes = frozenset(row.scopes) & ROLE_SCOPES[user.role]  # a role lowered since the key was made still binds
    return Principal(user.id, user.username, user.role, scopes, key_prefix=prefix), ""


def _check_token(uow: UnitOfWork, token: str, now: datetime) -> tuple[Principal | None, str]:
    """The principal of access token ``token``, or None and why not."""
    if token_kind(token) is not TokenKind.ACCESS:
        return None, "malformed_token"
    row = uow.sessions.by_token_hash(token_hash(token))
    if row is None or row.kind != TokenKind.ACCESS:
        return None, "unknown_token"
    if row.revoked_at is not None:
        return None, "revoked"
    if now >= row.expires_at:
        return None, "expired"
    user = uow.users.get(row.user_id)
    if user is None or user.disabled:
        return None, "disabled"
    return Principal(user.id, user.username, user.role, ROLE_SCOPES[user.role], session=row.family), ""

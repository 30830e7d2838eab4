"""workbench.auth: password, key, token and TOTP primitives; users and keys (`Accounts`); logins, lockout, token
rotation with reuse detection and expiry (`AuthService`), on SQLite and PostgreSQL; the 0003 migration."""

from __future__ import annotations

import doctest
import hmac
import importlib
import json
from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa
from api_support import CHEAP, PASSWORD, T0
from argon2 import PasswordHasher

from workbench.auth import keys, passwords, tokens, totp
from workbench.auth.accounts import Accounts
from workbench.auth.errors import AccountError, AuthError
from workbench.auth.policy import AuthPolicy
from workbench.auth.principal import Scope, scopes_for
from workbench.auth.service import INVALID, AuthService
from workbench.auth.vault import PREFIX, Vault
from workbench.store import Store, create_store_engine
from workbench.store.migrate import downgrade, upgrade
from workbench.store.models_admin import UserRow
from workbench.testing import FrozenClock

pytest_plugins = ["store_fixtures"]


@pytest.mark.parametrize(
    "module",
    ["", ".keys", ".tokens", ".totp", ".principal", ".policy", ".passwords", ".accounts", ".service", ".vault"],
)
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"workbench.auth{module}"), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


# -- primitives ------------------------------------------------------------------------------------------------


def test_passwords_verify_and_refuse() -> None:
    stored = passwords.hash_password(PASSWORD, CHEAP.hasher)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert passwords.verify_password(stored, PASSWORD, CHEAP.hasher)
    assert not passwords.verify_password(stored, PASSWORD + "!", CHEAP.hasher)
    assert not passwords.verify_password("not a hash", PASSWORD, CHEAP.hasher)
    assert not passwords.needs_rehash(stored, CHEAP.hasher)
    assert passwords.needs_rehash(stored, PasswordHasher(time_cost=2, memory_cost=8, parallelism=1))


def test_keys_are_random_hashed_and_found_by_prefix() -> None:
    one, two = keys.new_key(), keys.new_key()
    assert one.key != two.key and one.prefix != two.prefix
    assert keys.key_prefix(one.key) == one.prefix and len(one.prefix) == 12
    assert one.key not in repr(one) and one.key_hash == keys.key_hash(one.key) != one.key
    tampered = one.key[:-1] + ("A" if one.key[-1] != "A" else "B")
    assert keys.key_matches(one.key_hash, one.key) and not keys.key_matches(one.key_hash, tampered)
    for malformed in ("", "wbk_", one.key + "x", one.key.replace("wbk_", "wbx_"), "wbk_zzzzzzzz_" + "a" * 43):
        assert keys.key_prefix(malformed) is None


def test_key_and_code_comparisons_are_constant_time(monkeypatch) -> None:
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    new = keys.new_key()
    keys.key_matches(new.key_hash, new.key)
    secret = totp.new_secret()
    totp.accept_code(secret, "000000", T0, None)
    assert len(calls) == 1 + 2 * totp.DRIFT_STEPS + 1


def test_tokens_have_a_kind_and_hide_in_reprs() -> None:
    access, digest = tokens.new_token("access")
    refresh, _ = tokens.new_token("refresh")
    assert tokens.token_kind(access) == "access" and tokens.token_kind(refresh) == "refresh"
    assert tokens.token_hash(access) == digest and tokens.token_kind(access + "x") is None
    pair = tokens.TokenPair(access, refresh, T0, T0)
    assert access not in repr(pair) and refresh not in repr(pair)


def test_totp_accepts_drift_of_one_step_and_no_replay() -> None:
    secret = totp.new_secret()
    code = pyotp.TOTP(secret).at(T0)
    step = totp.accept_code(secret, code, T0, None)
    assert step == pyotp.TOTP(secret).timecode(T0)
    assert totp.accept_code(secret, code, T0 + timedelta(seconds=30), None) == step  # one step late: drift
    assert totp.accept_code(secret, code, T0 + timedelta(seconds=90), None) is None  # three steps: too old
    assert totp.accept_code(secret, code, T0, step) is None  # replay
    assert totp.accept_code(secret, "123", T0, None) is None
    assert totp.provisioning_uri(secret, "ada").startswith("otpauth://totp/Quant%20Workbench:ada?secret=")


def test_policy_backs_off_and_validates() -> None:
    policy = AuthPolicy(max_failures=2, lockout=timedelta(seconds=10), max_lockout=timedelta(seconds=30))
    assert [policy.lock_for(n) for n in range(1, 6)] == [None] + [timedelta(seconds=s) for s in (10, 20, 30, 30)]
    with pytest.raises(ValueError, match="access_ttl"):
        AuthPolicy(access_ttl=timedelta(0))
    with pytest.raises(ValueError, match="session_max"):
        AuthPolicy(session_max=timedelta(minutes=1))


def test_roles_bound_the_scopes_of_keys() -> None:
    assert scopes_for("viewer") == {Scope.READ}
    assert scopes_for("admin") == set(Scope)
    assert scopes_for("trader", ["read"]) == {Scope.READ}
    with pytest.raises(AccountError, match="a viewer cannot hold scope trade"):
        scopes_for("viewer", ["trade"])
    with pytest.raises(AccountError, match="scope 'root' does not exist"):
        scopes_for("admin", ["root"])


# -- accounts ----------------------------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


#: The key the tests' TOTP secrets are sealed with (not the settings' key file).
VAULT = Vault(Vault.new_key())


@pytest.fixture
def accounts(store: Store, clock: FrozenClock) -> Accounts:
    return Accounts(store, CHEAP, clock, VAULT)


def test_users_are_added_listed_and_disabled(accounts: Accounts, store: Store) -> None:
    new = accounts.add_user("ada", PASSWORD, role="trader", totp=True, actor="cli:root")
    assert new.totp_uri is not None and new.totp_uri.startswith("otpauth://")
    assert new.totp_uri not in repr(new)
    accounts.add_user("bob", PASSWORD, actor="cli:root")
    assert [(u.username, u.role, u.totp, u.disabled) for u in accounts.list_users()] == [
        ("ada", "trader", True, False),
        ("bob", "viewer", False, False),
    ]
    assert accounts.configured()
    for user in ("ada", "bob"):
        accounts.disable_user(user, actor="cli:root")
    assert not accounts.configured()
    with store.unit_of_work(readonly=True) as uow:
        row = uow.users.by_username("ada")
        assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
        assert [(e.actor, e.action, e.target) for e in uow.audit.find(limit=2)][::-1] == [
            ("cli:root", "user.disable", "user:ada"),
            ("cli:root", "user.disable", "user:bob"),
        ]


@pytest.mark.parametrize(
    ("username", "password", "role", "match"),
    [
        ("", PASSWORD, "viewer", "username '' is invalid"),
        ("a b", PASSWORD, "viewer", "username 'a b' is invalid"),
        ("x" * 65, PASSWORD, "viewer", "is invalid"),
        ("ada", "short", "viewer", "the password has 5 characters: expected 8 to 1024"),
        ("ada", PASSWORD, "root", "role 'root' is not one of admin, trader, viewer"),
    ],
)
def test_bad_users_are_refused(username, password, role, match) -> None:
    accounts = Accounts(Store.open("sqlite://"), CHEAP)  # refused before any SQL: one database will do
    with pytest.raises(AccountError, match=match):
        accounts.add_user(username, password, role=role, actor="t")


def test_a_taken_username_is_refused(accounts: Accounts) -> None:
    accounts.add_user("ada", PASSWORD, actor="t")
    with pytest.raises(AccountError, match="user 'ada' exists already"):
        accounts.add_user("ada", PASSWORD, actor="t")
    with pytest.raises(AccountError, match="user 'eve' does not exist"):
        accounts.disable_user("eve", actor="t")


def test_keys_are_shown_once_stored_hashed_listed_and_revoked(accounts: Accounts, store: Store, clock) -> None:
    accounts.add_user("ada", PASSWORD, role="trader", actor="t")
    first = accounts.create_key("ada", scopes=["read"], expires_in=timedelta(days=1), actor="t")
    second = accounts.create_key("ada", expires_in=None, actor="t")
    assert first.key not in repr(first)
    assert (first.info.scopes, second.info.scopes) == (("read",), ("read", "trade"))
    with store.unit_of_work(readonly=True) as uow:
        stored = [(row.key_hash, row.prefix) for row in uow.api_keys.find()]
    assert stored == [(keys.key_hash(first.key), first.info.prefix), (keys.key_hash(second.key), second.info.prefix)]
    assert [k.status(clock.now()) for k in accounts.list_keys("ada")] == ["active", "active"]
    assert accounts.list_keys()[0].status(T0 + timedelta(days=2)) == "expired"
    assert accounts.revoke_key(first.info.prefix, actor="t").id == first.info.id
    assert accounts.revoke_key(str(second.info.id), actor="t").prefix == second.info.prefix
    assert [k.status(clock.now()) for k in accounts.list_keys()] == ["revoked", "revoked"]
    with pytest.raises(AccountError, match="API key 'wbk_00000000' does not exist"):
        accounts.revoke_key("wbk_00000000", actor="t")
    with pytest.raises(AccountError, match="expires_in"):
        accounts.create_key("ada", expires_in=timedelta(0), actor="t")
    with pytest.raises(AccountError, match="a trader cannot hold scope admin"):
        accounts.create_key("ada", scopes=["admin"], expires_in=None, actor="t")


# -- logins, lockout, TOTP ------------------------------------------------------------------------------------------


@pytest.fixture
def auth(store: Store, clock: FrozenClock, accounts: Accounts) -> AuthService:
    accounts.add_user("ada", PASSWORD, role="trader", actor="t")
    policy = AuthPolicy(
        hasher=CHEAP.hasher,
        max_failures=3,
        lockout=timedelta(minutes=1),
        refresh_idle=timedelta(hours=1),
        session_max=timedelta(hours=4),
    )
    return AuthService(store, policy, clock)


def _audited(store: Store, action: str) -> list[tuple[str, str, str | None]]:
    """(actor, outcome, reason) of the entries of ``action``, oldest first."""
    with store.unit_of_work(readonly=True) as uow:
        entries = uow.audit.find(action=action, limit=None)
    return [(e.actor, e.details["outcome"], e.details.get("reason")) for e in reversed(entries)]


def test_every_login_attempt_is_audited_and_failures_look_alike(auth: AuthService, store: Store, accounts) -> None:
    accounts.add_user("bob", PASSWORD, actor="t")
    accounts.disable_user("bob", actor="t")
    auth.login("ada", PASSWORD, source="10.0.0.1")
    messages = set()
    for username, password in (("ada", "wrong password"), ("eve", PASSWORD), ("bob", PASSWORD)):
        with pytest.raises(AuthError) as info:
            auth.login(username, password, source="10.0.0.1")
        messages.add(str(info.value))
    assert messages == {INVALID}
    assert _audited(store, "auth.login") == [
        ("ada", "success", None),
        ("ada", "failure", "bad_password"),
        ("eve", "failure", "unknown_user"),
        ("bob", "failure", "disabled"),
    ]
    with store.unit_of_work(readonly=True) as uow:
        assert uow.audit.find(action="auth.login", limit=1)[0].details["source"] == "10.0.0.1"


def test_repeated_failures_lock_the_user_out_with_backoff(auth: AuthService, store: Store, clock) -> None:
    for _ in range(3):
        with pytest.raises(AuthError):
            auth.login("ada", "wrong password")
    with pytest.raises(AuthError) as info:
        auth.login("ada", PASSWORD)  # the right password, but locked for a minute
    assert info.value.reason == "locked"
    clock.advance(timedelta(seconds=61))
    with pytest.raises(AuthError):
        auth.login("ada", "wrong password")  # the fourth failure in a row: locked for two minutes now
    clock.advance(timedelta(seconds=61))
    with pytest.raises(AuthError, match=INVALID):
        auth.login("ada", PASSWORD)
    clock.advance(timedelta(seconds=60))
    auth.login("ada", PASSWORD)  # unlocked, and the count starts over
    with store.unit_of_work(readonly=True) as uow:
        user = uow.users.by_username("ada")
        assert (user.failed_logins, user.locked_until) == (0, None)
    assert [r for _, _, r in _audited(store, "auth.login")] == [
        "bad_password",
        "bad_password",
        "bad_password",
        "locked",
        "bad_password",
        "locked",
        None,
    ]


def test_totp_is_required_checked_and_not_replayable(store: Store, clock, accounts: Accounts) -> None:
    uri = accounts.add_user("tia", PASSWORD, role="viewer", totp=True, actor="t").totp_uri
    code = pyotp.parse_uri(uri).at(T0)
    auth = AuthService(store, CHEAP, clock, VAULT)
    reasons = []
    for given in (None, "000000" if code != "000000" else "111111"):
        with pytest.raises(AuthError) as info:
            auth.login("tia", PASSWORD, given)
        reasons.append(info.value.reason)
    auth.login("tia", PASSWORD, code)
    with pytest.raises(AuthError) as info:
        auth.login("tia", PASSWORD, code)
    assert [*reasons, info.value.reason] == ["totp_required", "bad_totp", "bad_totp"]


def test_a_password_hashed_with_old_parameters_is_rehashed_at_login(store: Store, clock, accounts) -> None:
    accounts.add_user("old", PASSWORD, actor="t")
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    AuthService(store, AuthPolicy(hasher=stronger), clock).login("old", PASSWORD)
    with store.unit_of_work(readonly=True) as uow:
        assert "m=16,t=2,p=1" in uow.users.by_username("old").password_hash


# -- sessions -------------------------------------------------------------------------------------------------------


def test_refresh_rotates_and_a_reused_token_ends_the_login(auth: AuthService, store: Store) -> None:
    first = auth.login("ada", PASSWORD)
    second = auth.refresh(first.refresh_token)
    assert auth.authenticate(second.access_token).username == "ada"
    assert auth.authenticate(first.access_token).session == auth.authenticate(second.access_token).session
    with pytest.raises(AuthError) as info:
        auth.refresh(first.refresh_token)  # spent: only a copy can come back
    assert info.value.reason == "reused"
    for token in (first.access_token, second.access_token):
        with pytest.raises(AuthError):
            auth.authenticate(token)
    with pytest.raises(AuthError) as info:
        auth.refresh(second.refresh_token)
    assert info.value.reason == "revoked"
    assert [r for _, _, r in _audited(store, "auth.refresh")] == [None, "reused", "revoked"]


def test_tokens_expire_idle_and_absolute(auth: AuthService, clock) -> None:
    pair = auth.login("ada", PASSWORD)
    clock.advance(timedelta(minutes=15))
    with pytest.raises(AuthError) as info:
        auth.authenticate(pair.access_token)
    assert info.value.reason == "expired"
    clock.advance(timedelta(minutes=46))  # the refresh token sat unused for more than its hour
    with pytest.raises(AuthError) as info:
        auth.refresh(pair.refresh_token)
    assert info.value.reason == "expired"
    pair = auth.login("ada", PASSWORD)
    end = clock.now() + timedelta(hours=4)
    while True:  # refreshed every 50 minutes the login lives on, but never past its 4 hours
        clock.advance(timedelta(minutes=50))
        try:
            pair = auth.refresh(pair.refresh_token)
        except AuthError as exc:
            assert exc.reason == "expired"
            break
        assert pair.refresh_expires_at <= end
    assert clock.now() >= end - timedelta(minutes=50)


def test_logout_and_disabling_revoke_every_token(auth: AuthService, accounts: Accounts) -> None:
    pair = auth.login("ada", PASSWORD)
    assert auth.logout(auth.authenticate(pair.access_token)) == 2
    with pytest.raises(AuthError):
        auth.authenticate(pair.access_token)
    pair = auth.login("ada", PASSWORD)
    key = accounts.create_key("ada", expires_in=None, actor="t").key
    accounts.disable_user("ada", actor="t")
    for credential in (pair.access_token, key):
        with pytest.raises(AuthError) as info:
            auth.authenticate(credential)
        assert info.value.reason in ("revoked", "disabled")
    with pytest.raises(AuthError):
        auth.refresh(pair.refresh_token)


def test_a_key_carries_its_scopes_within_its_users_role(auth: AuthService, accounts, store: Store) -> None:
    key = accounts.create_key("ada", expires_in=None, actor="t").key
    assert auth.authenticate(key).scopes == {"read", "trade"}
    with store.unit_of_work() as uow:
        uow.users.update(uow.users.by_username("ada").id, role="viewer")
    assert auth.authenticate(key).scopes == {"read"}


def test_refused_credentials_are_audited_without_the_secret(auth: AuthService, accounts, store: Store) -> None:
    key = accounts.create_key("ada", expires_in=timedelta(hours=1), actor="t").key
    tampered = key[:-2] + ("xy" if not key.endswith("xy") else "zz")
    pair = auth.login("ada", PASSWORD)
    refused = [tampered, "wbk_garbage", pair.access_token[:-1] + "!", pair.refresh_token]
    for credential in refused:
        with pytest.raises(AuthError):
            auth.authenticate(credential)
    accounts.revoke_key(keys.key_prefix(key), actor="t")
    with pytest.raises(AuthError):
        auth.authenticate(key)
    reasons = [r for _, _, r in _audited(store, "auth.key") + _audited(store, "auth.token")]
    assert reasons == ["unknown_key", "malformed_key", "revoked", "malformed_token", "malformed_token"]
    with store.unit_of_work(readonly=True) as uow:
        everything = json.dumps([(e.actor, e.target, e.details) for e in uow.audit.find(limit=None)])
    for secret in (key, tampered, pair.access_token, pair.refresh_token, PASSWORD):
        assert secret not in everything
    assert keys.key_prefix(key) in everything


def test_only_one_of_two_exchanges_of_a_refresh_token_wins(auth: AuthService, store: Store) -> None:
    pair = auth.login("ada", PASSWORD)
    with store.unit_of_work() as uow:
        row = uow.sessions.by_token_hash(tokens.token_hash(pair.refresh_token))
        assert uow.sessions.mark_used(row.id, now=T0) and not uow.sessions.mark_used(row.id, now=T0)


# -- migration ---------------------------------------------------------------------------------------------------


def test_0003_keeps_existing_users_and_what_hangs_off_them(db_url: str) -> None:
    """Users' keys, sessions and runs survive (on SQLite, rebuilding users in batch mode would cascade-delete)."""
    engine = create_store_engine(db_url)
    inserts = [
        "INSERT INTO users (id, username, password_hash, role, created_at, disabled) "
        "VALUES (1, 'ada', 'h', 'admin', :t, false)",
        "INSERT INTO sessions (id, user_id, token_hash, created_at, expires_at) VALUES (7, 1, 'x', :t, :e)",
        "INSERT INTO api_keys (id, user_id, key_hash, prefix, scopes, created_at) VALUES (3, 1, 'k', 'p', '[]', :t)",
        "INSERT INTO runs (id, kind, strategy, params, user_id, started_at, status, config, costs) "
        "VALUES (5, 'live', 's', '{}', 1, :t, 'running', '{}', '{}')",
    ]
    try:
        upgrade(engine, "0002")
        with engine.begin() as connection:
            for insert in inserts:
                connection.execute(sa.text(insert), {"t": T0, "e": T0 + timedelta(hours=1)})
        assert upgrade(engine, "0003") == "0003"
        with engine.connect() as connection:
            rows = {
                "users": connection.execute(sa.text("SELECT failed_logins, totp_secret FROM users")).all(),
                "sessions": connection.execute(sa.text("SELECT family, kind, used_at FROM sessions")).all(),
                "api_keys": connection.execute(sa.text("SELECT id FROM api_keys")).all(),
                "runs": connection.execute(sa.text("SELECT user_id FROM runs")).all(),
            }
        assert rows == {
            "users": [(0, None)],
            "sessions": [("legacy-7", "access", None)],
            "api_keys": [(3,)],
            "runs": [(1,)],
        }
        assert downgrade(engine, "0002") == "0002"
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM api_keys")).scalar() == 1
    finally:
        engine.dispose()


# -- TOTP secrets at rest --------------------------------------------------------------------------------------


def test_a_totp_secret_is_stored_sealed_and_useless_without_the_key(store: Store, clock, accounts) -> None:
    """Whoever read the database could make second factors: the secret was stored in clear."""
    uri = accounts.add_user("tia", PASSWORD, role="viewer", totp=True, actor="t").totp_uri
    secret = pyotp.parse_uri(uri).secret
    with store.engine.connect() as connection:  # what a reader of the database (or a backup) sees
        stored = connection.execute(sa.text("SELECT * FROM users WHERE username = 'tia'")).mappings().one()
    assert stored["totp_sealed"].startswith(PREFIX) and stored["totp_secret"] is None
    assert not any(secret in str(value) for value in stored.values())
    other = AuthService(store, CHEAP, clock, Vault(Vault.new_key()))  # the database without its key
    with pytest.raises(AuthError) as refused:
        other.login("tia", PASSWORD, pyotp.TOTP(secret).at(T0))
    assert refused.value.reason.startswith("totp_key_mismatch")
    assert AuthService(store, CHEAP, clock, VAULT).login("tia", PASSWORD, pyotp.TOTP(secret).at(T0))


def test_a_key_from_a_passphrase_or_the_key_file(tmp_path) -> None:
    from workbench.config import load_settings

    by_phrase = Vault(settings=load_settings(overrides={"totp_key": "a long passphrase"}, env={}))
    assert Vault("a long passphrase").open(by_phrase.seal("JBSWY3DPEHPK3PXP")) == "JBSWY3DPEHPK3PXP"
    home = load_settings(overrides={"home": str(tmp_path)}, env={})
    sealed = Vault(settings=home).seal("JBSWY3DPEHPK3PXP")  # the key file is made on first need
    key_file = tmp_path / "secrets" / "totp.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert Vault(key_file.read_text().strip()).open(sealed) == "JBSWY3DPEHPK3PXP"
    assert Vault(settings=home).open(sealed) == "JBSWY3DPEHPK3PXP"  # read again, not made again


def test_secrets_stored_in_clear_before_are_sealed_and_logins_go_on(db_url: str, clock) -> None:
    """A database of before (0006, the secret in clear) upgraded: the first service to meet it seals every secret
    still in clear with the key, and the user logs in with the same authenticator as before."""
    engine = create_store_engine(db_url)
    upgrade(engine, "0006")
    store = Store(engine)
    secret = totp.new_secret()
    with engine.begin() as connection:  # a user as a workbench of before stored it
        connection.execute(
            sa.text(
                "INSERT INTO users (username, password_hash, role, created_at, disabled, totp_secret, failed_logins) "
                "VALUES ('old', :hash, 'viewer', :now, false, :secret, 0)"
            ),
            {"hash": passwords.hash_password(PASSWORD, CHEAP.hasher), "now": T0, "secret": secret},
        )
    upgrade(engine)
    with store.unit_of_work(readonly=True) as uow:
        row = uow.session.get(UserRow, 1)
        assert (row.totp_secret, row.totp_sealed) == (secret, None)  # the migration has no key: it adds a column

    auth = AuthService(store, CHEAP, clock, VAULT)

    with store.unit_of_work(readonly=True) as uow:
        row = uow.session.get(UserRow, 1)
    assert row.totp_secret is None and VAULT.open(row.totp_sealed) == secret
    assert auth.login("old", PASSWORD, pyotp.TOTP(secret).at(T0)).access_token
    with pytest.raises(Exception, match="1 users hold a sealed TOTP secret"):
        downgrade(engine, "0006")
    engine.dispose()

"""Authentication: users with roles, API keys, login sessions with rotating tokens, an optional TOTP factor.

>>> from workbench.auth import Accounts, AuthService
>>> from workbench.store import Store
>>> store = Store.open("sqlite://")
>>> _ = Accounts(store).add_user("ada", "correct horse battery", role="viewer", actor="cli:root")
>>> key = Accounts(store).create_key("ada", expires_in=None, actor="cli:root").key  # shown once, then gone
>>> AuthService(store).authenticate(key).scopes
frozenset({<Scope.READ: 'read'>})

- `Accounts` manages users (argon2id password hashes, roles viewer / trader / admin, optional TOTP) and API keys
  (shown once, stored as a hash, a public prefix, scopes, expiry, revocation): what ``workbench users`` and
  ``workbench keys`` call.
- `AuthService` logs users in (lockout with backoff after repeated failures), refreshes and revokes their
  sessions, and checks the credential of every API request.
- Every attempt, success or failure, goes to the audit log; secrets go nowhere.

Names load on first use, so importing this package costs nothing until it is used.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Accounts": "workbench.auth.accounts",
    "AccountError": "workbench.auth.errors",
    "AuthError": "workbench.auth.errors",
    "AuthPolicy": "workbench.auth.policy",
    "AuthService": "workbench.auth.service",
    "PermissionDenied": "workbench.auth.errors",
    "Principal": "workbench.auth.principal",
    "Scope": "workbench.auth.principal",
    "TokenPair": "workbench.auth.tokens",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'workbench.auth' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)

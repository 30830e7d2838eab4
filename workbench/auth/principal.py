"""Who is calling and what they may do: roles grant scopes, a key may carry fewer, and every action needs one.

========  =====================================================
scope     allows
========  =====================================================
read      look: strategies, runs, orders, positions, account, risk, metrics
trade     act: submit and cancel orders, switch strategies on and off, halt and resume
admin     administer: the audit log
========  =====================================================

>>> sorted(s.value for s in scopes_for("trader", ["read"]))
['read']
>>> Principal(1, "ada", "viewer", frozenset({"read"}), key_prefix="wbk_0123abcd").allows("trade")
False
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from workbench.auth.errors import AccountError
from workbench.store.models_admin import UserRole


class Scope(StrEnum):
    """A kind of action (see the module docstring)."""

    READ = "read"
    TRADE = "trade"
    ADMIN = "admin"


#: The scopes each role grants.
ROLE_SCOPES: dict[UserRole, frozenset[Scope]] = {
    UserRole.VIEWER: frozenset({Scope.READ}),
    UserRole.TRADER: frozenset({Scope.READ, Scope.TRADE}),
    UserRole.ADMIN: frozenset(Scope),
}


def scopes_for(role: UserRole | str, requested: Iterable[str] = ()) -> frozenset[Scope]:
    """The scopes of a key of a user with ``role``: ``requested`` (all the role grants when empty), each of
    which the role must grant.

    Raises
    ------
    AccountError
        A scope that does not exist, or that the role does not grant.
    """
    granted = ROLE_SCOPES[UserRole(role)]
    wanted = set()
    for name in requested:
        try:
            wanted.add(Scope(name))
        except ValueError:
            raise AccountError(
                f"scope {name!r} does not exist: expected one of {', '.join(Scope)}",
                field="scopes",
                value=name,
                expected=", ".join(Scope),
            ) from None
    beyond = wanted - granted
    if beyond:
        names = ", ".join(sorted(beyond))
        raise AccountError(
            f"a {role} cannot hold scope {names}: the role grants {', '.join(sorted(granted))}",
            field="scopes",
            value=names,
            expected=", ".join(sorted(granted)),
        )
    return frozenset(wanted) or granted


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the user, the scopes this credential carries, and the credential itself
    (``key_prefix`` for an API key, ``session`` the login family for a bearer token)."""

    user_id: int
    username: str
    role: str
    scopes: frozenset[str]
    key_prefix: str | None = None
    session: str | None = None

    def allows(self, scope: Scope | str) -> bool:
        """Whether this credential may perform actions of ``scope``."""
        return scope in self.scopes

    @property
    def credential(self) -> str:
        """The credential in words safe to log and audit: ``key:wbk_0123abcd`` or ``session:<family>``."""
        return f"key:{self.key_prefix}" if self.key_prefix else f"session:{self.session}"

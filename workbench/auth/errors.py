"""Errors of authentication and account management: who failed to prove who they are, what they may not do,
and a bad request to manage users or keys."""

from __future__ import annotations

from typing import Any

from workbench.errors import WorkbenchError


class AuthError(WorkbenchError):
    """Authentication failed. The message is deliberately vague (it goes back to the caller); ``reason`` says
    what really happened (unknown user, bad password, locked, revoked, ...) and goes to the audit log only."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class PermissionDenied(WorkbenchError):
    """An authenticated caller asked for something its role or its key's scopes do not allow."""


class AccountError(WorkbenchError, ValueError):
    """A request to manage users or keys is invalid: ``field``, ``value`` and ``expected`` say which and why."""

    def __init__(self, message: str, *, field: str = "", value: Any = None, expected: str = "") -> None:
        super().__init__(message)
        self.field, self.value, self.expected = field, value, expected

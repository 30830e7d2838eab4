"""``AuthPolicy``: how long tokens live, when repeated failures lock a user out, and how passwords are hashed."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import timedelta

from argon2 import PasswordHasher

from workbench.auth.passwords import DEFAULT_HASHER


@dataclass(frozen=True)
class AuthPolicy:
    """The rules of logins and sessions.

    - An access token works for ``access_ttl``; a refresh token for ``refresh_idle`` unless exchanged (idle
      expiry: a login unused that long ends), and no token of a login outlives ``session_max`` after the login
      (absolute expiry).
    - After ``max_failures`` failed logins in a row a user is locked for ``lockout``, doubled with every further
      failure up to ``max_lockout`` (backoff); a successful login resets the count.

    Examples
    --------
    >>> policy = AuthPolicy(max_failures=3)
    >>> [policy.lock_for(n) for n in (2, 3, 4)]
    [None, datetime.timedelta(seconds=60), datetime.timedelta(seconds=120)]
    """

    access_ttl: timedelta = timedelta(minutes=15)
    refresh_idle: timedelta = timedelta(days=1)
    session_max: timedelta = timedelta(days=7)
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=1)
    max_lockout: timedelta = timedelta(hours=1)
    min_password_length: int = 8
    hasher: PasswordHasher = field(default=DEFAULT_HASHER, compare=False, repr=False)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, timedelta | int) and not isinstance(value, bool) and value <= type(value)():
                raise ValueError(f"AuthPolicy.{f.name}={value!r} is invalid: expected a positive value")
        if self.session_max < max(self.access_ttl, self.refresh_idle):
            raise ValueError(
                f"AuthPolicy.session_max={self.session_max} is invalid: expected at least access_ttl and refresh_idle"
            )

    def lock_for(self, failures: int) -> timedelta | None:
        """How long ``failures`` failed logins in a row lock a user out (None: not yet)."""
        if failures < self.max_failures:
            return None
        return min(self.lockout * 2 ** min(failures - self.max_failures, 32), self.max_lockout)

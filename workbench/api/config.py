"""``ApiConfig``: the API server's limits (request rates, body size) and its authentication policy."""

from __future__ import annotations

from dataclasses import dataclass, field

from limits import parse

from workbench.auth.policy import AuthPolicy


@dataclass(frozen=True)
class ApiConfig:
    """Limits of the API, in the `limits` library's notation (``"120/minute"``, ``"10 per second"``).

    - ``per_key``: requests per credential (an API key; all the bearer tokens of one user count together).
    - ``per_ip``: requests per client address, authenticated or not (checked first, before any credential).
    - ``login``: login and refresh attempts per client address (besides the per-user lockout).
    - ``max_body``: largest request body, in bytes.
    - ``storage_url``: where rate-limit counters live (``memory://``, ``redis://host:6379``); None: the settings'
      ``redis_url`` if set, else memory (one process).
    - ``namespace``: prefix of the counters, so two servers on one Redis can keep apart.

    Examples
    --------
    >>> ApiConfig(per_key="5/minute").per_key
    '5/minute'
    """

    per_key: str = "120/minute"
    per_ip: str = "600/minute"
    login: str = "10/minute"
    max_body: int = 64 * 1024
    storage_url: str | None = None
    namespace: str = "workbench"
    policy: AuthPolicy = field(default_factory=AuthPolicy)

    def __post_init__(self) -> None:
        for name in ("per_key", "per_ip", "login"):
            value = getattr(self, name)
            try:
                parse(value)
            except ValueError:
                expected = "expected a rate such as '120/minute'"
                raise ValueError(f"ApiConfig.{name}={value!r} is invalid: {expected}") from None
        if self.max_body <= 0:
            raise ValueError(f"ApiConfig.max_body={self.max_body!r} is invalid: expected a positive number of bytes")

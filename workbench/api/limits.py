"""Request limits: rates per credential and per client address (the `limits` library, a moving window kept in
memory or in Redis, shared by every server process), and the largest request body.

A request over a rate is answered 429 with ``Retry-After``, the seconds until the window lets one more through; a
body over the size limit 413, before a route sees it.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workbench.api.errors import ApiError, error_response
from workbench.logs import get_logger

_log = get_logger("workbench.api")


class RateLimiter:
    """Counts requests per identity in a moving window, in ``storage_url`` (``memory://`` or ``redis://...``).

    Examples
    --------
    >>> limiter = RateLimiter("memory://", namespace="example")
    >>> limiter.hit("2/minute", "ip", "10.0.0.1"); limiter.hit("2/minute", "ip", "10.0.0.1")
    >>> limiter.hit("2/minute", "ip", "10.0.0.1")
    Traceback (most recent call last):
    ...
    workbench.api.errors.ApiError: rate limit of 2 per 1 minute exceeded
    """

    def __init__(self, storage_url: str, *, namespace: str) -> None:
        options = {"wrap_exceptions": True}
        self.storage = storage_from_string(storage_url, **options)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.namespace = namespace
        self._items: dict[str, RateLimitItem] = {}

    def hit(self, rate: str, *identity: str) -> None:
        """Count one request of ``identity`` against ``rate``.

        Raises
        ------
        ApiError
            429 with ``Retry-After`` when over the rate; 503 when the counter storage cannot be reached (refused
            rather than let through unlimited).
        """
        item = self._items.get(rate) or self._items.setdefault(rate, parse(rate))
        try:
            if self.limiter.hit(item, self.namespace, *identity):
                return
            reset = self.limiter.get_window_stats(item, self.namespace, *identity).reset_time
        except StorageError as exc:
            _log.error("rate limit storage unavailable", error=str(exc.storage_error))
            raise ApiError(503, "rate limiting is unavailable; try again later") from None
        wait = max(1, math.ceil(reset - time.time()))
        raise ApiError(429, f"rate limit of {item} exceeded", headers={"Retry-After": str(wait)})


class BodyTooLarge(HTTPException):
    """A request body past the limit (an HTTPException, so the framework passes it on to the error handlers
    instead of calling it a parse error)."""

    def __init__(self, max_body: int) -> None:
        super().__init__(413, f"request body larger than {max_body} bytes")


class BodySizeLimit:
    """ASGI middleware: a request body larger than ``max_body`` bytes is answered 413, at once when its
    ``Content-Length`` says so, else as soon as the body read grows past the limit (a chunked upload)."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.max_body:
            too_large = ApiError(413, f"request body larger than {self.max_body} bytes")
            await error_response(too_large)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise BodyTooLarge(self.max_body)
            return message

        await self.app(scope, limited, send)

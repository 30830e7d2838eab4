"""Alpaca's ``trade_updates`` websocket on a background thread, reporting into a queue.

alpaca-py's ``TradingStream`` connects, authenticates, listens and reconnects with jittered backoff by itself; it
runs here in its own thread and event loop, and everything it hears goes into `TradeUpdateStream.events` for the
broker to handle on its own thread: ``("update", TradeUpdate)``, ``("listening", n)`` each time Alpaca
acknowledges a subscription (the n-th: every reconnection, after which updates made meanwhile are lost and must
be caught up through REST), and ``("error", exc)`` when it cannot go on (keys refused).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import threading
from typing import Any

from alpaca.trading.models import TradeUpdate
from alpaca.trading.stream import TradingStream

from workbench.errors import ConfigError
from workbench.logs import get_logger

_log = get_logger("workbench.brokers.alpaca")


class TradeUpdateStream:
    """The trade-updates stream of one account, run in a daemon thread between `start` and `close`.

    ``reconnect`` is the first and the longest wait between reconnection attempts, in seconds.

    Examples
    --------
    >>> stream = TradeUpdateStream(key, secret, paper=True)  # doctest: +SKIP
    >>> stream.start()  # doctest: +SKIP
    >>> kind, payload = stream.events.get()  # doctest: +SKIP
    """

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        *,
        paper: bool = True,
        url_override: str | None = None,
        reconnect: tuple[float, float] = (1.0, 30.0),
    ) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._client = _StreamClient(self.events, api_key, secret_key, paper=paper, url_override=url_override)
        self._client._reconnect_min_backoff, self._client._reconnect_max_backoff = reconnect
        self._client.subscribe_trade_updates(self._on_update)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> bool:
        """Connect in the background; wait up to ``timeout`` s for the first subscription. Returns whether it
        came (without it the stream keeps trying, and the broker catches up when it does)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="alpaca-trade-updates", daemon=True)
            self._thread.start()
        return self._client.subscribed.wait(timeout)

    def close(self) -> None:
        """Stop reconnecting and close the connection (safe to call twice)."""
        if self._thread is not None and self._thread.is_alive() and self._ready.wait(timeout=5):
            assert self._loop is not None
            # RuntimeError, CancelledError: the loop ended meanwhile, so there is nothing left to stop
            with contextlib.suppress(RuntimeError, TimeoutError, concurrent.futures.CancelledError):
                asyncio.run_coroutine_threadsafe(self._client.shutdown(), self._loop).result(timeout=10)
            self._thread.join(timeout=10)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._ready.set()
            await self._client._run_forever()

        try:
            asyncio.run(main())
        except Exception as exc:  # reported to the broker's thread, which raises it
            self.events.put(("error", exc))

    async def _on_update(self, update: TradeUpdate) -> None:
        self.events.put(("update", update))


class _StreamClient(TradingStream):
    """``TradingStream`` that reports each acknowledged subscription and stops on refused keys instead of
    retrying forever. It relies on alpaca-py 0.44's ``_auth``, ``_dispatch`` and ``_run_forever``."""

    def __init__(self, events: queue.Queue[tuple[str, Any]], api_key: str, secret_key: str, **options: Any) -> None:
        # A ping every 10 s, answered within 20 s, or the connection counts as dead (alpaca-py waits 180 s).
        websocket = {"ping_interval": 10, "ping_timeout": 20, "max_queue": 1024}
        super().__init__(api_key, secret_key, websocket_params=websocket, **options)
        self.subscriptions = 0
        self.subscribed = threading.Event()
        self._events = events

    async def _auth(self) -> None:
        try:
            await super()._auth()
        except ValueError as exc:
            message = f"alpaca trade-updates stream refused the login ({exc})"
            self._events.put(("error", ConfigError(f"{message}: check alpaca_api_key and alpaca_secret_key")))
            await self.stop_ws()
            raise

    async def _dispatch(self, msg: dict[str, Any]) -> None:
        if msg.get("stream") == "listening" and "trade_updates" in (msg.get("data") or {}).get("streams", []):
            self.subscriptions += 1
            if self.subscriptions > 1:
                _log.info("alpaca trade-updates stream resubscribed", subscriptions=self.subscriptions)
            self._events.put(("listening", self.subscriptions))
            self.subscribed.set()
        await super()._dispatch(msg)

    async def shutdown(self) -> None:
        """Stop reconnecting and close the connection now (not at the next receive timeout)."""
        await self.stop_ws()
        await self.close()

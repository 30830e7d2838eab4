"""Alpaca market data through alpaca-py: history, the latest quote, and a live minute-bar stream that survives
disconnects.

`AlpacaDataSource` is a `StreamingSource`. History comes from ``StockHistoricalDataClient`` (alpaca-py follows
``next_page_token`` itself) and is validated like every source; Alpaca stamps daily bars at midnight New York,
which becomes the session date at 00:00 UTC of the canonical schema. `AlpacaBarStream` wraps ``StockDataStream``:
a websocket ping and an optional silence timeout (heartbeat) detect a dead connection, alpaca-py reconnects with
jittered exponential backoff, and after every (re)subscription the bars missed meanwhile are fetched through REST,
so downstream sees each bar exactly once, in time order.

Failures: keys Alpaca rejects are a `ConfigError` at once (REST and stream alike, no retry loop); a malformed
symbol or one without bars is a `DataNotFoundError`; HTTP 429 is waited out page by page by alpaca-py
(``rate_limit_retries`` waits of ``rate_limit_wait`` seconds, and never sooner than its ``Retry-After``), then
reported; network and server errors are retried with a `RetryPolicy`. Every request keeps to the key's budget
(``requests_per_minute``, `workbench.data.request_budget`), so a session's backfills and history do not outrun
Alpaca's limit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pandas as pd
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.live.stock import StockDataStream
from alpaca.data.models import Bar as AlpacaBar
from alpaca.data.requests import StockBarsRequest, StockLatestBarRequest, StockLatestQuoteRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

from workbench.data.feeds import Bar
from workbench.data.remote import RemoteSource
from workbench.data.request_budget import ALPACA_PER_MINUTE, budget_for, mount
from workbench.data.sources import RetryPolicy, TimeBound, Timeframe, time_bound, validated
from workbench.errors import ConfigError, DataNotFoundError, WorkbenchError

if TYPE_CHECKING:
    from workbench.config import Settings

SOURCE = "alpaca"
#: Where history starts when no start is given (Alpaca's stock bars begin in 2016).
HISTORY_START = pd.Timestamp("2016-01-01", tz="UTC")
NEW_YORK = "America/New_York"
_MINUTE = Timeframe(1, "Min")
_log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True)
class Quote:
    """The best bid and offer of `symbol` at `timestamp` (UTC)."""

    symbol: str
    timestamp: datetime
    bid: float
    bid_size: float
    ask: float
    ask_size: float


class AlpacaDataSource(RemoteSource):
    """Bars and quotes from Alpaca's market-data API (a `StreamingSource`).

    ``history`` (see `RemoteSource.history`; ``read``: daily bars since `HISTORY_START`) serves ``"<n>Min"``
    (1-59), ``"<n>Hour"`` (1-23), ``"1Day"`` (the default), ``"1Week"`` and ``"<n>Month"`` (1, 2, 3, 6, 12);
    a malformed symbol is a `DataNotFoundError`, keys Alpaca rejects a `ConfigError`.

    Parameters
    ----------
    api_key, secret_key : str
        Alpaca keys; `from_settings` takes them from the workbench settings.
    feed : {"iex", "sip", "delayed_sip"}
        Alpaca's data feed (``iex`` is the free one; streams take ``iex`` or ``sip``).
    adjustment : {"raw", "split", "dividend", "all"}
        Corporate actions applied to history: ``split`` (default) matches Yahoo's quoted prices.
    retry : RetryPolicy, optional
        Retries of network and server errors.
    rate_limit_retries, rate_limit_wait : int, float
        alpaca-py's own handling of HTTP 429 (and 504): that many waits of that many seconds per page.
    url_override, stream_url_override : str, optional
        Another REST base URL (without ``/v2``) and full stream URL, for a loopback server in tests.
    requests_per_minute : int
        The request budget of the key in this process (Alpaca allows 200 a minute).

    Examples
    --------
    >>> source = AlpacaDataSource.from_settings(load_settings())  # doctest: +SKIP
    >>> spy = source.history("SPY", start="2024-01-02", end="2024-01-31")  # doctest: +SKIP
    >>> for bar in source.stream(["SPY", "QQQ"]):  # doctest: +SKIP
    ...     print(bar.symbol, bar.timestamp, bar.close)
    """

    source_name = SOURCE

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        *,
        feed: Literal["iex", "sip", "delayed_sip"] = "iex",
        adjustment: Literal["raw", "split", "dividend", "all"] = "split",
        retry: RetryPolicy | None = None,
        rate_limit_retries: int = 3,
        rate_limit_wait: float = 3.0,
        url_override: str | None = None,
        stream_url_override: str | None = None,
        requests_per_minute: int = ALPACA_PER_MINUTE,
    ) -> None:
        self.feed = DataFeed(feed)
        self.adjustment = Adjustment(adjustment)
        self.retry = retry or RetryPolicy()
        self.rate_limit_retries = rate_limit_retries
        self.rate_limit_wait = rate_limit_wait
        self.stream_url_override = stream_url_override
        self._keys = (api_key, secret_key)
        self._client = StockHistoricalDataClient(api_key, secret_key, url_override=url_override)
        # StockHistoricalDataClient does not pass RESTClient's retry arguments through; these are what they set.
        self._client._retry, self._client._retry_wait = rate_limit_retries, rate_limit_wait
        #: The request budget of this key (and endpoint) in this process.
        self.budget = budget_for("alpaca-data", f"{api_key}@{url_override}", requests_per_minute)
        mount(self._client._session, self.budget)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> AlpacaDataSource:
        """A source with the keys of `settings` (``alpaca_api_key``, ``alpaca_secret_key``) and its URLs (REST:
        ``alpaca_data_url``; stream: ``alpaca_data_stream_url`` with the feed's path), so a proxy, a recorder or a
        test server can stand in for Alpaca; `options` as for the constructor. ConfigError naming the settings
        when a key is missing."""
        if settings.alpaca_api_key is None or settings.alpaca_secret_key is None:
            raise ConfigError(
                "source 'alpaca' needs alpaca_api_key and alpaca_secret_key (set WORKBENCH_ALPACA_API_KEY and "
                "WORKBENCH_ALPACA_SECRET_KEY, or alpaca_api_key = ... in workbench.toml)"
            )
        keys = settings.alpaca_api_key.get_secret_value(), settings.alpaca_secret_key.get_secret_value()
        options.setdefault("requests_per_minute", settings.alpaca_requests_per_minute)
        if settings.alpaca_data_url is not None:
            options.setdefault("url_override", settings.alpaca_data_url)
        if settings.alpaca_data_stream_url is not None:  # Alpaca's streams: <base>/v2/<feed>
            feed = DataFeed(options.get("feed", "iex")).value
            options.setdefault("stream_url_override", f"{settings.alpaca_data_stream_url}/v2/{feed}")
        return cls(*keys, **options)

    def __repr__(self) -> str:
        return f"AlpacaDataSource(feed={self.feed.value!r}, adjustment={self.adjustment.value!r})"

    def latest_quote(self, symbol: str) -> Quote:
        """Return `symbol`'s latest quote (`DataNotFoundError` if Alpaca has none).

        Examples
        --------
        >>> source.latest_quote("SPY").ask  # doctest: +SKIP
        545.35
        """
        name = symbol.strip().upper()
        request = StockLatestQuoteRequest(symbol_or_symbols=[name], feed=self.feed)
        quotes = self._call(lambda: self._client.get_stock_latest_quote(request), f"latest quote of {name}")
        if name not in quotes:
            raise DataNotFoundError(f"{SOURCE}: no quote for {name}")
        q = quotes[name]
        stamp = pd.Timestamp(q.timestamp).tz_convert("UTC").to_pydatetime()
        return Quote(name, stamp, q.bid_price, q.bid_size, q.ask_price, q.ask_size)

    def stream(
        self,
        symbols: Sequence[str],
        since: TimeBound = None,
        *,
        heartbeat: float | None = None,
        reconnect: tuple[float, float] = (1.0, 30.0),
    ) -> AlpacaBarStream:
        """Return a live `DataFeed` of `symbols`' minute bars (see `AlpacaBarStream`).

        `since`: deliver bars from then on (backfilled first); default: from the bar after each symbol's
        latest. `heartbeat`: seconds without any bar after which the connection is taken as dead and
        reconnected (None: only the websocket ping decides). `reconnect`: the first and the longest wait
        between reconnection attempts, seconds (jittered, doubling).
        """
        if self.feed not in (DataFeed.IEX, DataFeed.SIP):
            raise ValueError(f"{SOURCE} streams the iex or sip feed, not {self.feed.value}")
        return AlpacaBarStream(self, symbols, since, heartbeat=heartbeat, reconnect=reconnect)

    def _fetch_range(
        self, symbol: str, tf: Timeframe, lo: pd.Timestamp | None, hi: pd.Timestamp | None
    ) -> pd.DataFrame:
        """`symbol`'s bars from `lo` to `hi` (see `_fetch`), for `RemoteSource.history`."""
        return self._fetch([symbol], tf, lo, hi)[symbol]

    def _fetch(
        self, symbols: list[str], tf: Timeframe, lo: pd.Timestamp | None, hi: pd.Timestamp | None
    ) -> dict[str, pd.DataFrame]:
        """Each symbol's bars from `lo` to `hi` (None: from `HISTORY_START`, up to now) as normalized frames
        on canonical stamps, in the order Alpaca sent them."""
        if tf.intraday:
            first, last = lo, hi
        else:  # Alpaca stamps these at midnight New York (04:00 or 05:00 UTC): widen by a day, slice after
            first = None if lo is None else lo - pd.Timedelta(days=1)
            last = None if hi is None else hi + pd.Timedelta(days=1)
        request = StockBarsRequest(
            symbol_or_symbols=symbols,
            timeframe=_alpaca_timeframe(tf),
            start=_utc(first if first is not None else HISTORY_START),
            end=None if last is None else _utc(last),
            adjustment=self.adjustment,
            feed=self.feed,
        )
        barset = self._call(lambda: self._client.get_stock_bars(request), f"{tf} bars of {','.join(symbols)}")
        return {s: _frame(barset.data.get(s, []), tf) for s in symbols}

    def _latest_bar_times(self, symbols: list[str]) -> dict[str, pd.Timestamp]:
        """Each symbol's latest minute bar's stamp; `DataNotFoundError` naming the symbols that have none."""
        request = StockLatestBarRequest(symbol_or_symbols=symbols, feed=self.feed)
        latest = self._call(lambda: self._client.get_stock_latest_bar(request), f"latest bars of {','.join(symbols)}")
        missing = [s for s in symbols if s not in latest]
        if missing:
            raise DataNotFoundError(f"{SOURCE}: no bars for {', '.join(missing)} (unknown symbol?)")
        return {s: pd.Timestamp(latest[s].timestamp).tz_convert("UTC") for s in symbols}

    def _call(self, request: Callable[[], _T], what: str) -> _T:
        """Run one REST call, with Alpaca's errors turned into ours and transient ones retried."""

        def attempt() -> _T:
            try:
                return request()
            except APIError as exc:
                raise _translated(exc, what, self) from exc

        return self.retry.call(attempt, transient=_transient, what=f"{SOURCE} {what}")


class AlpacaBarStream:
    """A live `DataFeed` of Alpaca minute bars: each bar once, in time order, with no gap across reconnects.

    Iterating connects (``StockDataStream`` in a background thread) and blocks for the next bar; it ends when
    `close` is called (from another thread, or by leaving a ``with`` block or the loop). Before connecting it
    notes where each symbol's delivery starts (`since`, else its latest bar). After every subscription,
    including the first, it fetches through REST the bars after the last one delivered; live bars at or
    before a symbol's last delivered bar are dropped. A bar that fails validation raises
    `DataValidationError`; keys the stream rejects raise `ConfigError`.

    Examples
    --------
    >>> with source.stream(["SPY"], heartbeat=90) as feed:  # doctest: +SKIP
    ...     for bar in feed:
    ...         print(bar)
    """

    def __init__(
        self,
        source: AlpacaDataSource,
        symbols: Sequence[str],
        since: TimeBound = None,
        *,
        heartbeat: float | None = None,
        reconnect: tuple[float, float] = (1.0, 30.0),
    ) -> None:
        self.symbols = list(dict.fromkeys(s.strip().upper() for s in symbols))
        if not self.symbols:
            raise ValueError("stream needs at least one symbol")
        self.since = time_bound(since, "since", whole_day=False)
        #: How many times the stream subscribed (1 + reconnections), and bars delivered live, delivered from a
        #: backfill, and dropped as already delivered.
        self.subscriptions = self.live = self.backfilled = self.duplicates = 0
        self._source = source
        self._heartbeat = heartbeat
        self._reconnect = reconnect
        self._events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._last: dict[str, pd.Timestamp] = {}
        self._client: _StreamClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._closing = False

    def __enter__(self) -> AlpacaBarStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Bar]:
        if self._thread is not None:
            raise RuntimeError("an AlpacaBarStream is iterated once; ask the source for another stream")
        if self.since is None:
            self._last = self._source._latest_bar_times(self.symbols)
        else:
            self._last = dict.fromkeys(self.symbols, self.since - pd.Timedelta(1, "ns"))
        self._start()
        try:
            while True:
                kind, payload = self._events.get()
                if kind == "bar":
                    yield from self._deliver([_bar(payload)], live=True)
                elif kind == "subscribed":
                    self.subscriptions += 1
                    yield from self._deliver(self._backfill(), live=False)
                elif kind == "error":
                    raise payload
                else:  # "closed"
                    return
        finally:
            self.close()

    def close(self) -> None:
        """Disconnect and end the iteration (safe to call more than once, from any thread)."""
        self._closing = True
        if self._thread is not None and self._thread.is_alive() and self._ready.wait(timeout=5):
            assert self._client is not None and self._loop is not None
            # RuntimeError, CancelledError: the stream's loop ended meanwhile, so nothing is left to stop
            with contextlib.suppress(RuntimeError, TimeoutError, concurrent.futures.CancelledError):
                asyncio.run_coroutine_threadsafe(self._client.shutdown(), self._loop).result(timeout=10)
            self._thread.join(timeout=10)
        self._events.put(("closed", None))

    def _start(self) -> None:
        api_key, secret_key = self._source._keys
        self._client = _StreamClient(
            self._events,
            api_key,
            secret_key,
            feed=self._source.feed,
            url_override=self._source.stream_url_override,
            heartbeat=self._heartbeat,
            reconnect=self._reconnect,
        )
        self._client.subscribe_bars(self._on_bar, *self.symbols)
        self._thread = threading.Thread(target=self._run, name=f"alpaca-bars-{','.join(self.symbols)}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """The stream's thread: alpaca-py's connect / consume / reconnect loop until `close` or a fatal error."""

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._ready.set()
            assert self._client is not None
            await self._client._run_forever()

        try:
            asyncio.run(main())
        except Exception as exc:  # reported to the iterating thread, which raises it
            self._events.put(("error", exc))
        if not self._closing:
            self._events.put(("error", WorkbenchError(f"{SOURCE} bar stream stopped unexpectedly (see the log)")))

    async def _on_bar(self, bar: AlpacaBar) -> None:
        self._events.put(("bar", bar))

    def _backfill(self) -> list[Bar]:
        """The bars after each symbol's last delivered one, from REST, in time order."""
        frames = self._source._fetch(self.symbols, _MINUTE, min(self._last.values()), None)
        bars = []
        for symbol, raw in frames.items():
            if len(raw):
                frame = validated(raw, symbol, SOURCE)
                frame = frame[frame.index > self._last[symbol]]
                bars += [
                    Bar(symbol, ts.to_pydatetime(), *row) for ts, row in zip(frame.index, _ohlcv(frame), strict=True)
                ]
        order = {s: i for i, s in enumerate(self.symbols)}
        return sorted(bars, key=lambda b: (b.timestamp, order[b.symbol]))

    def _deliver(self, bars: list[Bar], live: bool) -> Iterator[Bar]:
        for bar in bars:
            if bar.timestamp <= self._last[bar.symbol]:
                self.duplicates += 1
                continue
            self._last[bar.symbol] = pd.Timestamp(bar.timestamp)
            if live:
                self.live += 1
            else:
                self.backfilled += 1
            yield bar


class _StreamClient(StockDataStream):
    """alpaca-py's ``StockDataStream`` reporting to a queue: each acknowledged subscription (so every
    (re)connection), and a refused login, after which it stops instead of reconnecting forever.

    It relies on ``StockDataStream``'s internals: ``_auth``, ``_dispatch``, ``_run_forever`` and the reconnect
    backoff attributes (alpaca-py 0.44).
    """

    def __init__(
        self,
        events: queue.Queue[tuple[str, Any]],
        api_key: str,
        secret_key: str,
        *,
        feed: DataFeed,
        url_override: str | None,
        heartbeat: float | None,
        reconnect: tuple[float, float],
    ) -> None:
        # A ping every 10 s, answered within 20 s, or the connection counts as dead (alpaca-py waits 180 s).
        websocket = {"ping_interval": 10, "ping_timeout": 20, "max_queue": 1024}
        super().__init__(
            api_key,
            secret_key,
            feed=feed,
            websocket_params=websocket,
            url_override=url_override,
            data_timeout=heartbeat,
        )
        self._reconnect_min_backoff, self._reconnect_max_backoff = reconnect
        self._events = events

    async def _auth(self) -> None:
        try:
            await super()._auth()
        except ValueError as exc:
            self._events.put(
                (
                    "error",
                    ConfigError(
                        f"{SOURCE} stream refused the login ({exc}): check alpaca_api_key "
                        "and alpaca_secret_key; Alpaca allows one stream per key"
                    ),
                )
            )
            await self.stop_ws()
            raise

    async def _dispatch(self, msg: dict) -> None:
        if msg.get("T") == "subscription":
            self._events.put(("subscribed", None))
        await super()._dispatch(msg)

    async def shutdown(self) -> None:
        """Stop reconnecting and close the connection now (not at the next receive timeout)."""
        await self.stop_ws()
        await self.close()


def _alpaca_timeframe(tf: Timeframe) -> TimeFrame:
    try:
        return TimeFrame(tf.amount, TimeFrameUnit(tf.unit))
    except ValueError as exc:
        raise ValueError(f"{SOURCE} does not serve {tf} bars: {exc}") from None


def _utc(ts: pd.Timestamp) -> datetime:
    """A UTC datetime for alpaca-py (microseconds: nanoseconds would be dropped with a warning)."""
    return ts.floor("us").to_pydatetime()


def _frame(bars: list[AlpacaBar], tf: Timeframe) -> pd.DataFrame:
    """alpaca-py bars as a normalized frame; bars stamped at midnight New York move to the session date."""
    stamps = pd.DatetimeIndex(pd.to_datetime([b.timestamp for b in bars], utc=True), name="timestamp")
    if not tf.intraday:
        stamps = stamps.tz_convert(NEW_YORK).tz_localize(None).normalize().tz_localize("UTC")
    columns = {c: [float(getattr(b, c)) for b in bars] for c in ("open", "high", "low", "close", "volume")}
    return pd.DataFrame(columns, index=pd.DatetimeIndex(stamps, freq=None).as_unit("ns"))


def _ohlcv(frame: pd.DataFrame) -> list[tuple[float, ...]]:
    return list(frame[["open", "high", "low", "close", "volume"]].itertuples(index=False, name=None))


def _bar(bar: AlpacaBar) -> Bar:
    """A streamed alpaca-py bar as a validated workbench `Bar`."""
    stamp = pd.Timestamp(bar.timestamp).tz_convert("UTC")
    raw = pd.DataFrame(
        {c: [float(getattr(bar, c))] for c in ("open", "high", "low", "close", "volume")},
        index=pd.DatetimeIndex([stamp], name="timestamp"),
    )
    checked = validated(raw, bar.symbol, f"{SOURCE} stream")
    return Bar(bar.symbol, stamp.to_pydatetime(), *_ohlcv(checked)[0])


def _translated(exc: APIError, what: str, source: AlpacaDataSource) -> Exception:
    """Our error for an Alpaca error answer; server errors stay `APIError` (transient, retried)."""
    status = exc.status_code or 0
    message = _message(exc)
    if status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN):
        return ConfigError(
            f"{SOURCE} rejected the API keys (HTTP {status}: {message}): check alpaca_api_key and alpaca_secret_key"
        )
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        return WorkbenchError(
            f"{SOURCE} {what}: rate limited (HTTP 429) after {source.rate_limit_retries} waits of "
            f"{source.rate_limit_wait} s; Alpaca allows about 200 requests a minute per key"
        )
    if status in (HTTPStatus.BAD_REQUEST, HTTPStatus.NOT_FOUND, HTTPStatus.UNPROCESSABLE_ENTITY):
        return DataNotFoundError(f"{SOURCE} {what}: {message} (HTTP {status})")
    return exc


def _message(exc: APIError) -> str:
    """The ``message`` of Alpaca's JSON error body, else the body itself."""
    try:
        return str(json.loads(str(exc))["message"])
    except (ValueError, KeyError, TypeError):
        return str(exc)


def _transient(exc: BaseException) -> bool:
    """Network errors (requests raises OSErrors) and server errors may heal; anything else will not."""
    if isinstance(exc, APIError):
        return (exc.status_code or 0) >= HTTPStatus.INTERNAL_SERVER_ERROR
    return isinstance(exc, OSError)

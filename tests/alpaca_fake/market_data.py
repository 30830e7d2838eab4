"""Alpaca's market-data API on a `LoopbackServer`, serving bars from DataFrames.

REST, as alpaca-py's ``StockHistoricalDataClient`` calls it (``shared/research/data-broker.md`` section 4):

* ``GET /v2/stocks/bars`` (several symbols) and ``GET /v2/stocks/{symbol}/bars``: bars in the range, sorted by
  symbol, in pages of at most `MarketData.page_size` bars chained by ``next_page_token``; daily (and longer)
  bars stamped at midnight New York, as Alpaca stamps them; a malformed symbol is a 400, an unknown one has
  no bars;
* ``GET /v2/stocks/bars/latest`` and ``GET /v2/stocks/quotes/latest``: each symbol's latest minute bar, and a
  quote one cent either side of its close.

The stream, as ``StockDataStream`` speaks it (section 6; msgpack both ways): ``connected``, ``auth`` (a wrong key
gets error 402), ``subscribe`` to bars, then bar messages. `MarketData.open_market` makes minute bars "live": the
first ones are history (REST only), the others are published one minute per tick once a client subscribes, to
every subscribed connection, and become visible to REST as they are published. A test can make the next
connection drop (`MarketData.drop_after`) or go silent while staying open (`MarketData.stall_after`).
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from zoneinfo import ZoneInfo

import msgpack
import pandas as pd
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from .core import LoopbackServer, Reply, Request, api_error

SYMBOL = re.compile(r"[A-Z][A-Z0-9.]{0,9}")
NEW_YORK = ZoneInfo("America/New_York")
MINUTE = "1Min"
_FIELDS = {"open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"}


@dataclass(eq=False)
class _Subscriber:
    """One authenticated stream connection and what it asked for."""

    connection: ServerConnection
    drop_after: int | None
    stall_after: int | None
    symbols: set[str] = field(default_factory=set)
    sent: int = 0

    @property
    def silent(self) -> bool:
        return self.stall_after is not None and self.sent >= self.stall_after


class MarketData:
    """The market-data API on `server`: register it, give it bars, point alpaca-py at the server.

    Examples
    --------
    >>> with LoopbackServer() as server:  # doctest: +SKIP
    ...     market = MarketData(server, page_size=100)
    ...     market.add_bars("SPY", spy_daily)
    ...     client = StockHistoricalDataClient(server.api_key, server.secret_key, url_override=server.rest_url)
    """

    def __init__(self, server: LoopbackServer, page_size: int = 10_000) -> None:
        self.server = server
        self.page_size = page_size
        #: Stream logins accepted and refused, bars sent live as (symbol, minute), and bars published while no
        #: connection subscribed to their symbol was listening.
        self.connections = 0
        self.refused = 0
        self.sent: list[tuple[str, pd.Timestamp]] = []
        self.missed: list[tuple[str, pd.Timestamp]] = []
        self._frames: dict[tuple[str, str], pd.DataFrame] = {}
        self._live: dict[pd.Timestamp, dict[str, dict[str, float]]] = {}
        self._schedule: list[pd.Timestamp] = []
        self._horizon: pd.Timestamp | None = None
        self._tick = 0.0
        self._publisher: asyncio.Task[None] | None = None
        self._subscribers: list[_Subscriber] = []
        self._next_drops: list[int] = []
        self._next_stalls: list[int] = []
        server.route("GET", "/v2/stocks/bars", self._multi_bars)
        server.route("GET", "/v2/stocks/bars/latest", self._latest_bars)
        server.route("GET", "/v2/stocks/quotes/latest", self._latest_quotes)
        server.route("GET", "/v2/stocks/{symbol}/bars", self._symbol_bars)
        for feed in ("iex", "sip"):
            server.websocket(f"/v2/{feed}", self._stream)

    def add_bars(self, symbol: str, frame: pd.DataFrame, timeframe: str = "1Day") -> None:
        """Serve `frame` (canonical columns on a UTC index) as `symbol`'s `timeframe` bars, rows in the order
        given (so tests can serve bad data)."""
        self._frames[(symbol, timeframe)] = frame

    def open_market(self, frames: Mapping[str, pd.DataFrame], published: int, tick: float = 0.01) -> None:
        """Make `frames` the live minute bars: the first `published` minutes are history, the rest are
        published one minute every `tick` seconds from the first subscription on."""
        for symbol, frame in frames.items():
            self.add_bars(symbol, frame, MINUTE)
            for stamp, row in frame.iterrows():
                self._live.setdefault(stamp, {})[symbol] = {k: float(row[k]) for k in _FIELDS}
        minutes = sorted(self._live)
        with self.server.lock:
            self._horizon = minutes[published - 1] if published else minutes[0] - pd.Timedelta(minutes=1)
        self._schedule = minutes[published:]
        self._tick = tick

    def drop_after(self, bars: int) -> None:
        """Close the next stream connection once it has been sent `bars` bars."""
        self._next_drops.append(bars)

    def stall_after(self, bars: int) -> None:
        """Keep the next stream connection open but send it nothing more once it has been sent `bars` bars."""
        self._next_stalls.append(bars)

    # -- REST ---------------------------------------------------------------------------------------------

    def _multi_bars(self, request: Request) -> Reply:
        return self._bars_page(request.query.get("symbols", "").split(","), request, multi=True)

    def _symbol_bars(self, request: Request) -> Reply:
        return self._bars_page([request.params["symbol"]], request, multi=False)

    def _bars_page(self, symbols: list[str], request: Request, multi: bool) -> Reply:
        bad = next((s for s in symbols if not SYMBOL.fullmatch(s)), None)
        if bad is not None:
            return api_error(HTTPStatus.BAD_REQUEST, f"invalid symbol: {bad}", sequence=1)
        timeframe = request.query.get("timeframe", "1Day")
        start, end = (_time(request.query.get(bound)) for bound in ("start", "end"))
        rows = [(s, t, bar) for s in sorted(set(symbols)) for t, bar in self._rows(s, timeframe, start, end)]
        token = request.query.get("page_token")
        offset = int(base64.b64decode(token)) if token else 0
        size = min(int(request.query.get("limit") or self.page_size), self.page_size)
        page, after = rows[offset : offset + size], offset + size
        next_token = base64.b64encode(str(after).encode()).decode() if after < len(rows) else None
        if not multi:
            body = {"bars": [_rest_bar(t, bar) for _, t, bar in page], "symbol": symbols[0]}
            return Reply(body=body | {"next_page_token": next_token})
        bars: dict[str, list[dict[str, Any]]] = {}
        for symbol, stamp, bar in page:
            bars.setdefault(symbol, []).append(_rest_bar(stamp, bar))
        return Reply(body={"bars": bars, "next_page_token": next_token})

    def _latest_bars(self, request: Request) -> Reply:
        latest = {s: self._latest(s) for s in request.query.get("symbols", "").split(",")}
        return Reply(body={"bars": {s: _rest_bar(*found) for s, found in latest.items() if found is not None}})

    def _latest_quotes(self, request: Request) -> Reply:
        quotes = {}
        for symbol in request.query.get("symbols", "").split(","):
            found = self._latest(symbol)
            if found is not None:
                stamp, bar = found
                quotes[symbol] = {
                    "t": _iso(stamp),
                    "ax": "V",
                    "ap": round(bar["close"] + 0.01, 4),
                    "as": 1,
                    "bx": "V",
                    "bp": round(bar["close"] - 0.01, 4),
                    "bs": 1,
                    "c": ["R"],
                    "z": "B",
                }
        return Reply(body={"quotes": quotes})

    def _rows(
        self, symbol: str, timeframe: str, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> Iterator[tuple[pd.Timestamp, dict[str, float]]]:
        """`symbol`'s bars stamped as Alpaca stamps them, within the range and published."""
        frame = self._frames.get((symbol, timeframe))
        if frame is None:
            return
        with self.server.lock:
            horizon = self._horizon if timeframe == MINUTE else None
        for stamp, bar in zip(
            _alpaca_stamps(frame.index, timeframe), frame[list(_FIELDS)].to_dict("records"), strict=True
        ):
            if (
                (start is None or stamp >= start)
                and (end is None or stamp <= end)
                and (horizon is None or stamp <= horizon)
            ):
                yield stamp, bar

    def _latest(self, symbol: str) -> tuple[pd.Timestamp, dict[str, float]] | None:
        """The latest published minute bar of `symbol`, else its latest daily bar, else None."""
        for timeframe in (MINUTE, "1Day"):
            rows = list(self._rows(symbol, timeframe, None, None))
            if rows:
                return max(rows, key=lambda row: row[0])
        return None

    # -- stream -------------------------------------------------------------------------------------------

    async def _stream(self, connection: ServerConnection) -> None:
        await connection.send(msgpack.packb([{"T": "success", "msg": "connected"}]))
        login = msgpack.unpackb(await connection.recv())
        if login.get("action") != "auth" or not self.server.authorized(login.get("key"), login.get("secret")):
            self.refused += 1
            await connection.send(msgpack.packb([{"T": "error", "code": 402, "msg": "auth failed"}]))
            await connection.close()
            return
        await connection.send(msgpack.packb([{"T": "success", "msg": "authenticated"}]))
        self.connections += 1
        subscriber = _Subscriber(connection, _pop(self._next_drops), _pop(self._next_stalls))
        try:
            async for frame in connection:
                message = msgpack.unpackb(frame)
                if message.get("action") == "subscribe":
                    subscriber.symbols.update(message.get("bars", []))
                    if subscriber not in self._subscribers:
                        self._subscribers.append(subscriber)
                    await connection.send(msgpack.packb([_subscription(subscriber.symbols)]))
                    self._start_publishing()
        except ConnectionClosed:
            pass
        finally:
            self._forget(subscriber)

    def _start_publishing(self) -> None:
        if self._publisher is None and self._schedule:
            self._publisher = asyncio.get_running_loop().create_task(self._publish())

    async def _publish(self) -> None:
        """Publish one minute per tick: visible to REST, sent to every listening subscriber."""
        while self._schedule:
            await asyncio.sleep(self._tick)
            minute = self._schedule.pop(0)
            with self.server.lock:
                self._horizon = minute
            bars = self._live[minute]
            listening = [s for s in self._subscribers if not s.silent]
            self.missed += [(symbol, minute) for symbol in bars if not any(symbol in s.symbols for s in listening)]
            for subscriber in listening:
                await self._send(subscriber, minute, {s: b for s, b in bars.items() if s in subscriber.symbols})

    async def _send(self, subscriber: _Subscriber, minute: pd.Timestamp, bars: dict[str, dict[str, float]]) -> None:
        if not bars:
            return
        messages = [_stream_bar(symbol, minute, bar) for symbol, bar in bars.items()]
        try:
            await subscriber.connection.send(msgpack.packb(messages))
        except ConnectionClosed:
            self._forget(subscriber)
            return
        subscriber.sent += len(messages)
        self.sent += [(symbol, minute) for symbol in bars]
        if subscriber.drop_after is not None and subscriber.sent >= subscriber.drop_after:
            self._forget(subscriber)
            await subscriber.connection.close(code=1011, reason="dropped by the test")

    def _forget(self, subscriber: _Subscriber) -> None:
        """Stop publishing to `subscriber` (its connection closed; either side may notice first)."""
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)


def _pop(queue: list[int]) -> int | None:
    return queue.pop(0) if queue else None


def _time(text: str | None) -> pd.Timestamp | None:
    """A query's RFC 3339 time in UTC (alpaca-py sends ``+00:00``; naive is UTC)."""
    if not text:
        return None
    stamp = pd.Timestamp(text)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _alpaca_stamps(index: pd.DatetimeIndex, timeframe: str) -> pd.DatetimeIndex:
    """Bar stamps as Alpaca writes them: intraday bars at their start, longer bars at midnight New York."""
    if timeframe.endswith(("Min", "Hour")):
        return index
    return index.tz_convert("UTC").tz_localize(None).normalize().tz_localize(NEW_YORK).tz_convert("UTC")


def _iso(stamp: pd.Timestamp) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rest_bar(stamp: pd.Timestamp, bar: Mapping[str, float]) -> dict[str, Any]:
    return {"t": _iso(stamp), **_values(bar), "n": None, "vw": None}


def _stream_bar(symbol: str, minute: pd.Timestamp, bar: Mapping[str, float]) -> dict[str, Any]:
    stamp = msgpack.Timestamp.from_datetime(minute.to_pydatetime())  # alpaca-py calls .to_datetime() on it
    return {"T": "b", "S": symbol, **_values(bar), "t": stamp, "n": None, "vw": None}


def _values(bar: Mapping[str, float]) -> dict[str, float | int]:
    """Alpaca's short keys; the volume as an integer, as Alpaca sends it (NaN stays NaN, for bad-data tests)."""
    values: dict[str, float | int] = {key: float(bar[name]) for name, key in _FIELDS.items()}
    if float(values["v"]).is_integer():
        values["v"] = int(values["v"])
    return values


def _subscription(symbols: set[str]) -> dict[str, Any]:
    channels = ("trades", "quotes", "updatedBars", "dailyBars", "statuses", "lulds", "corrections", "cancelErrors")
    return {"T": "subscription", "bars": sorted(symbols), **{channel: [] for channel in channels}}

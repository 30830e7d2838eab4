"""AlpacaDataSource: the real alpaca-py clients against the loopback Alpaca (tests/alpaca_fake), no network.

Bars come from the bundled sample, which is the oracle: SPY daily bars for history, SPY 1-minute bars (and the
same scaled by half as "AAPL") for the live stream.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import requests
from alpaca_fake import LoopbackServer, MarketData

from workbench.config import load_settings
from workbench.data import load
from workbench.data.alpaca import AlpacaBarStream, AlpacaDataSource
from workbench.data.feeds import Bar
from workbench.data.sources import RetryPolicy, SampleSource, StreamingSource
from workbench.errors import ConfigError, DataNotFoundError, WorkbenchError

FAST = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.01)
SPY = SampleSource().history("SPY", "2023-01-01", "2024-12-31").drop(columns="adj_close")
MINUTES = SampleSource().history("SPY_1min", "2011-03-16T14:30", "2011-03-16T15:29")
LIVE = {"SPY": MINUTES, "AAPL": MINUTES.assign(**{c: MINUTES[c] * 0.5 for c in ("open", "high", "low", "close")})}
PUBLISHED = 10  # minutes of LIVE that are history when the stream starts


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as running:
        yield running


@pytest.fixture
def market(server: LoopbackServer) -> MarketData:
    market = MarketData(server, page_size=100)
    market.add_bars("SPY", SPY)
    return market


def _source(server: LoopbackServer, secret: str | None = None, **options: object) -> AlpacaDataSource:
    """A source on `server` (its keys, or a wrong `secret`) that retries and waits out 429s quickly."""
    return AlpacaDataSource(
        server.api_key,
        secret or server.secret_key,
        url_override=server.rest_url,
        stream_url_override=server.ws_url("/v2/iex"),
        **({"retry": FAST, "rate_limit_wait": 0.01} | options),
    )


def _bars_requests(server: LoopbackServer) -> list[dict[str, str]]:
    return [r.query for r in server.requests if r.path == "/v2/stocks/bars"]


def _expected(symbols: list[str], first_minute: int) -> list[Bar]:
    """LIVE's bars from `first_minute` on, minute by minute, symbols in the order given."""
    return [
        Bar(symbol, ts.to_pydatetime(), *LIVE[symbol].loc[ts, ["open", "high", "low", "close", "volume"]])
        for ts in MINUTES.index[first_minute:]
        for symbol in symbols
    ]


def _take(stream: AlpacaBarStream, count: int, timeout: float = 20.0) -> list[Bar]:
    """The first `count` bars of `stream`, then it is closed; after `timeout` s it is closed anyway, so a stream
    that stalls fails the test instead of hanging it."""
    watchdog = threading.Timer(timeout, stream.close)
    watchdog.start()
    feed = iter(stream)
    try:
        return list(itertools.islice(feed, count))
    finally:
        feed.close()
        watchdog.cancel()


def test_history_is_paged_by_alpaca_py_and_validated(server: LoopbackServer, market: MarketData) -> None:
    source = _source(server)

    spy = source.history("spy", start="2023-01-01", end="2024-12-31")

    assert isinstance(source, StreamingSource)
    pd.testing.assert_frame_equal(spy, SPY)
    assert spy.attrs["symbol"] == "SPY"
    pages = _bars_requests(server)
    assert len(pages) == math.ceil(len(SPY) / market.page_size) == 6
    assert [p.get("page_token") is not None for p in pages] == [False] + [True] * 5
    assert {(p["timeframe"], p["adjustment"], p["feed"], p["symbols"]) for p in pages} == {
        ("1Day", "split", "iex", "SPY")
    }


def test_daily_bars_stamped_at_midnight_new_york_become_session_dates(
    server: LoopbackServer, market: MarketData
) -> None:
    answer = requests.get(
        f"{server.rest_url}/v2/stocks/SPY/bars",
        params={"timeframe": "1Day", "start": "2024-03-07T00:00:00Z", "end": "2024-03-12T00:00:00Z", "limit": 2},
        headers=server.auth_headers(),
        timeout=5,
    ).json()
    source = _source(server)

    spy = source.history("SPY", start="2024-03-08", end="2024-03-11")

    # Alpaca's wire format: EST before 2024-03-10, EDT after; ours: the session date at 00:00 UTC
    assert [bar["t"] for bar in answer["bars"]] == ["2024-03-07T05:00:00Z", "2024-03-08T05:00:00Z"]
    assert answer["symbol"] == "SPY" and answer["next_page_token"] is not None
    assert spy.index.tolist() == [pd.Timestamp("2024-03-08", tz="UTC"), pd.Timestamp("2024-03-11", tz="UTC")]
    pd.testing.assert_frame_equal(spy, SPY.loc["2024-03-08":"2024-03-11"])


def test_intraday_history_keeps_bar_start_times(server: LoopbackServer, market: MarketData) -> None:
    market.add_bars("SPY", MINUTES, timeframe="1Min")

    bars = _source(server).history("SPY", "2011-03-16T14:35", "2011-03-16T14:44", timeframe="1Min")

    pd.testing.assert_frame_equal(bars, MINUTES.loc["2011-03-16T14:35":"2011-03-16T14:44"])


def test_keys_from_the_settings_and_load_with_a_source_object(
    server: LoopbackServer, market: MarketData, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no workbench.toml
    env = {"WORKBENCH_ALPACA_API_KEY": server.api_key, "WORKBENCH_ALPACA_SECRET_KEY": server.secret_key}
    source = AlpacaDataSource.from_settings(load_settings(env=env), url_override=server.rest_url)
    market.add_bars("QQQ", SampleSource().history("QQQ", "2024-01-01", "2024-01-31"))

    bars = load(["SPY", "qqq"], start="2024-01-02", end="2024-01-31", source=source)

    assert bars.symbols == ["SPY", "QQQ"] and len(bars["QQQ"]) == 21
    pd.testing.assert_frame_equal(bars["SPY"], SPY.loc["2024-01-02":"2024-01-31"])
    assert "secret" not in repr(source).lower()


def test_latest_quote(server: LoopbackServer, market: MarketData) -> None:
    quote = _source(server).latest_quote("SPY")

    last = SPY.iloc[-1]
    assert (quote.symbol, quote.bid, quote.ask) == (
        "SPY",
        round(last["close"] - 0.01, 4),
        round(last["close"] + 0.01, 4),
    )
    assert pd.Timestamp(quote.timestamp) == pd.Timestamp("2024-12-31 05:00", tz="UTC")


def test_bad_keys_are_a_config_error_at_once(server: LoopbackServer, market: MarketData) -> None:
    source = _source(server, secret="WRONG", retry=RetryPolicy(attempts=4, backoff=5))

    with pytest.raises(ConfigError, match=r"alpaca rejected the API keys \(HTTP 401: request is not authorized\)"):
        source.history("SPY", "2024-01-02", "2024-01-31")
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("symbol", "message"),
    [("BAD$", r"alpaca 1Day bars of BAD\$: invalid symbol: BAD\$ \(HTTP 400\)"), ("ZZZZ", r"no 1Day bars for ZZZZ")],
)
def test_a_bad_symbol_is_a_clear_error(server: LoopbackServer, market: MarketData, symbol: str, message: str) -> None:
    with pytest.raises(DataNotFoundError, match=message):
        _source(server).history(symbol, "2024-01-02", "2024-01-31")
    assert len(server.requests) == 1


def test_rate_limits_are_waited_out_page_by_page(server: LoopbackServer, market: MarketData) -> None:
    server.fail_next("/v2/stocks/bars", 429, times=2, headers={"X-RateLimit-Remaining": "0"})

    spy = _source(server).history("SPY", "2023-01-01", "2024-12-31")

    pd.testing.assert_frame_equal(spy, SPY)
    assert len(_bars_requests(server)) == 6 + 2


def test_a_rate_limit_that_persists_is_reported_without_more_retries(
    server: LoopbackServer, market: MarketData
) -> None:
    server.fail_next("/v2/stocks/bars", 429, times=10)

    with pytest.raises(WorkbenchError, match=r"rate limited \(HTTP 429\) after 2 waits of 0.01 s"):
        _source(server, rate_limit_retries=2).history("SPY", "2024-01-02", "2024-01-31")
    assert len(_bars_requests(server)) == 3


@pytest.mark.parametrize("status", [500, 503, None], ids=["500", "503", "dropped"])
def test_server_and_network_errors_are_retried(server: LoopbackServer, market: MarketData, status: int | None) -> None:
    server.fail_next("/v2/stocks/bars", status, times=2)

    spy = _source(server).history("SPY", "2024-01-02", "2024-01-31")

    assert len(spy) == 21 and len(_bars_requests(server)) == 3


def test_retries_are_bounded(server: LoopbackServer, market: MarketData) -> None:
    server.fail_next("/v2/stocks/bars", 503, times=10)

    with pytest.raises(WorkbenchError, match=r"alpaca 1Day bars of SPY: failed 3 times, last: APIError"):
        _source(server).history("SPY", "2024-01-02", "2024-01-31")
    assert len(_bars_requests(server)) == 3


def test_a_dropped_stream_reconnects_and_backfills_the_missed_bars_exactly_once(
    server: LoopbackServer, market: MarketData
) -> None:
    market.open_market(LIVE, published=PUBLISHED)
    market.drop_after(30)
    stream = _source(server).stream(["SPY", "AAPL"], reconnect=(0.1, 0.5))

    bars = _take(stream, 2 * (len(MINUTES) - PUBLISHED))

    assert bars == _expected(["SPY", "AAPL"], PUBLISHED)
    assert market.connections == stream.subscriptions == 2
    assert market.missed, "the stream was down while bars were published"
    assert stream.backfilled >= len(market.missed) and stream.live + stream.backfilled == len(bars)


def test_a_silent_stream_is_caught_by_the_heartbeat(server: LoopbackServer, market: MarketData) -> None:
    market.open_market(LIVE, published=PUBLISHED)
    market.stall_after(20)
    stream = _source(server).stream(["SPY", "AAPL"], heartbeat=0.5, reconnect=(0.05, 0.5))

    bars = _take(stream, 2 * (len(MINUTES) - PUBLISHED))

    assert bars == _expected(["SPY", "AAPL"], PUBLISHED)
    # a slow machine may also miss a heartbeat while bars flow: at least the stall forced a reconnection
    assert market.connections == stream.subscriptions >= 2 and market.missed


def test_a_stream_since_a_time_backfills_from_it_first(server: LoopbackServer, market: MarketData) -> None:
    market.open_market(LIVE, published=PUBLISHED)
    stream = _source(server).stream(["SPY"], since=MINUTES.index[3])

    bars = _take(stream, len(MINUTES) - 3)

    assert bars == _expected(["SPY"], 3)
    assert stream.subscriptions == 1 and stream.backfilled >= PUBLISHED - 3


def test_a_stream_of_a_symbol_without_bars_fails_before_connecting(server: LoopbackServer, market: MarketData) -> None:
    market.open_market(LIVE, published=PUBLISHED)

    with pytest.raises(DataNotFoundError, match=r"alpaca: no bars for ZZZZ \(unknown symbol\?\)"):
        _take(_source(server).stream(["SPY", "ZZZZ"]), 1)
    assert market.connections == 0


def test_a_stream_with_bad_keys_is_a_config_error_without_reconnecting(
    server: LoopbackServer, market: MarketData
) -> None:
    market.open_market(LIVE, published=PUBLISHED)
    stream = _source(server, secret="WRONG").stream(["SPY"], since=MINUTES.index[0], reconnect=(0.01, 0.02))

    with pytest.raises(ConfigError, match=r"alpaca stream refused the login \(auth failed\)"):
        _take(stream, 1)
    time.sleep(0.2)  # time for several reconnections, were there any
    assert market.refused == 1 and market.connections == 0


def test_the_data_and_stream_urls_come_from_the_settings(
    server: LoopbackServer, market: MarketData, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A proxy, a recorder or a test server stands in for data.alpaca.markets by settings alone: `workbench data
    show` and a stream read the fake with no override in code (they used to go to Alpaca whatever was set)."""
    from typer.testing import CliRunner

    from workbench.cli import app

    monkeypatch.chdir(tmp_path)  # no workbench.toml
    for name in [n for n in os.environ if n.startswith("WORKBENCH_")]:
        monkeypatch.delenv(name)
    env = {
        "WORKBENCH_HOME": str(tmp_path),
        "WORKBENCH_DATA_SOURCE": "alpaca",
        "WORKBENCH_ALPACA_API_KEY": server.api_key,
        "WORKBENCH_ALPACA_SECRET_KEY": server.secret_key,
        "WORKBENCH_ALPACA_DATA_URL": server.rest_url + "/",
        "WORKBENCH_ALPACA_DATA_STREAM_URL": server.ws_url(""),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    shown = CliRunner().invoke(app, ["data", "show", "SPY", "--start", "2024-01-02", "--end", "2024-01-31"])

    assert shown.exit_code == 0, shown.output
    expected = SPY.loc["2024-01-02":"2024-01-31"]
    assert shown.output.startswith(f"SPY: {len(expected)} bars, 2024-01-02 .. 2024-01-31, last close ")
    assert _bars_requests(server)[0]["symbols"] == "SPY"

    market.open_market(LIVE, published=PUBLISHED)
    source = AlpacaDataSource.from_settings(load_settings(env=env), retry=FAST)
    assert _take(source.stream(["SPY"]), 5) == _expected(["SPY"], PUBLISHED)[:5]
    assert market.connections == 1

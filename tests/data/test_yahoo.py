"""YahooSource: the real yfinance code path against recorded Yahoo responses (tests/fixtures/yahoo), no network.

The recordings carry the bundled sample's prices (see tests/fixtures/yahoo/build.py), so the sample is the oracle.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pandas as pd
import pytest
import requests
from yfinance.data import YfData

from workbench.data import load
from workbench.data.sources import DataSource, RetryPolicy, SampleSource
from workbench.data.yahoo import YahooSource
from workbench.errors import DataNotFoundError, WorkbenchError
from workbench.testing import FrozenClock

if TYPE_CHECKING:
    from fixtures.yahoo.replay import Replay

pytest_plugins = ["fixtures.yahoo.replay"]
TODAY = FrozenClock(datetime(2026, 6, 1, tzinfo=UTC))
MARCH_2011 = FrozenClock(datetime(2011, 3, 20, tzinfo=UTC))
FAST = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.01)


def _sample(symbol: str, start: str, end: str) -> pd.DataFrame:
    return SampleSource().history(symbol, start=start, end=end)


def test_raw_daily_bars_are_the_quoted_ohlc_and_adj_close(yahoo_session: requests.Session) -> None:
    source = YahooSource(adjusted=False, session=yahoo_session, clock=TODAY)

    spy = source.history("spy", start="2024-03-01", end="2024-03-28")

    assert isinstance(source, DataSource)
    expected = _sample("SPY", "2024-03-01", "2024-03-28")
    pd.testing.assert_frame_equal(spy, expected)
    assert len(spy) == 20 and spy.index[0] == pd.Timestamp("2024-03-01", tz="UTC")
    assert spy.attrs["symbol"] == "SPY" and spy.attrs["notes"] == []


def test_adjusted_daily_bars_scale_ohlc_by_the_adjusted_close(yahoo_session: requests.Session) -> None:
    spy = YahooSource(adjusted=True, session=yahoo_session, clock=TODAY).history("SPY", "2024-03-01", "2024-03-28")

    raw = _sample("SPY", "2024-03-01", "2024-03-28")
    ratio = raw["adj_close"] / raw["close"]
    assert spy.columns.tolist() == ["open", "high", "low", "close", "volume"]
    pd.testing.assert_series_equal(spy["close"], raw["adj_close"], check_names=False)
    for column in ("open", "high", "low"):
        pd.testing.assert_series_equal(spy[column], raw[column] * ratio, check_names=False)
    # the ex-dividend day 2024-03-15: prices before it are scaled down by one more dividend
    assert ratio.loc[:"2024-03-14"].max() < ratio.loc["2024-03-15":].min() < 1
    pd.testing.assert_series_equal(spy["volume"], raw["volume"])


def test_a_split_in_the_range_is_reported(yahoo_session: requests.Session) -> None:
    aapl = YahooSource(adjusted=False, session=yahoo_session, clock=TODAY).history("AAPL", "2020-08-03", "2020-09-04")

    pd.testing.assert_frame_equal(aapl, _sample("AAPL", "2020-08-03", "2020-09-04"))
    assert aapl.attrs["notes"] == ["split 4:1 on 2020-08-31: Yahoo's prices and volume before it are split-adjusted"]


@pytest.mark.parametrize(
    ("timeframe", "rule", "offset"), [("1Min", None, None), ("5m", "5min", "0min"), ("1Hour", "60min", "30min")]
)
def test_intraday_bars_are_the_regular_session_stamped_at_their_start(
    yahoo_session: requests.Session, timeframe: str, rule: str | None, offset: str | None
) -> None:
    source = YahooSource(adjusted=False, session=yahoo_session, clock=MARCH_2011)
    days = ("2011-03-16", "2011-03-16") if timeframe == "1Min" else ("2011-03-14", "2011-03-18")

    bars = source.history("SPY", *days, timeframe=timeframe)

    minutes = _sample("SPY_1min", *days).tz_convert("America/New_York").between_time("09:30", "15:59")
    if rule is not None:
        aggregate = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
        by_day = [day.resample(rule, offset=offset).agg(aggregate) for _, day in minutes.groupby(minutes.index.date)]
        minutes = pd.concat(by_day)
    expected = minutes.tz_convert("UTC").rename_axis("timestamp")
    pd.testing.assert_frame_equal(bars, expected)
    assert bars.index[0] == pd.Timestamp("2011-03-14 13:30" if rule else "2011-03-16 13:30", tz="UTC")


def test_load_reads_yfinance_by_name(yahoo_replay: Replay, yahoo_session: requests.Session) -> None:
    YfData(session=yahoo_session)  # yfinance's one process-wide session: what `load` will use

    bars = load(["SPY", "AAPL"], start="2024-03-01", end="2024-03-28", source="yfinance")

    assert bars.symbols == ["SPY", "AAPL"]
    pd.testing.assert_frame_equal(bars["SPY"], _sample("SPY", "2024-03-01", "2024-03-28"))
    assert bars["SPY"].attrs["origin"]["source"] == "yfinance"


def test_a_bad_symbol_is_a_clear_error_at_once(yahoo_replay: Replay, yahoo_session: requests.Session) -> None:
    source = YahooSource(adjusted=False, session=yahoo_session, clock=TODAY, retry=RetryPolicy(attempts=4, backoff=5))

    began = time.monotonic()
    with pytest.raises(DataNotFoundError, match=r"yfinance: unknown or delisted symbol 'NOSUCH'"):
        source.history("NOSUCH", "2024-03-01", "2024-03-28")

    assert time.monotonic() - began < 4  # no retry (each would wait 5 s or more)
    assert yahoo_replay.asked.count("/v8/finance/chart/NOSUCH") <= 2  # yfinance's own second try, nothing more


@pytest.mark.parametrize("failure", [requests.ConnectionError("connection reset"), 429], ids=["network", "429"])
def test_transient_failures_are_retried(
    yahoo_replay: Replay, yahoo_session: requests.Session, failure: Exception | int
) -> None:
    yahoo_replay.fail("/v8/finance/chart/SPY", failure, times=2)
    source = YahooSource(adjusted=False, session=yahoo_session, clock=TODAY, retry=FAST)

    spy = source.history("SPY", "2024-03-01", "2024-03-28")

    assert len(spy) == 20


def test_retries_are_bounded(yahoo_replay: Replay, yahoo_session: requests.Session) -> None:
    yahoo_replay.fail("/v8/finance/chart/SPY", requests.ConnectionError("connection reset"), times=10)
    source = YahooSource(adjusted=False, session=yahoo_session, clock=TODAY, retry=FAST)

    with pytest.raises(WorkbenchError, match=r"yfinance SPY 1Day: failed 3 times, last: ConnectionError"):
        source.history("SPY", "2024-03-01", "2024-03-28")
    assert yahoo_replay.asked.count("/v8/finance/chart/SPY") == 3


def test_days_without_prices_are_dropped_and_zero_volume_reported(
    yahoo_replay: Replay, yahoo_session: requests.Session
) -> None:
    def quirks(result: dict) -> None:
        quote = result["indicators"]["quote"][0]
        for column in ("open", "high", "low", "close", "volume"):
            quote[column][5] = None  # 2024-03-08: listed, no trading
        quote["volume"][6] = 0  # 2024-03-11: traded nothing

    yahoo_replay.edit("/v8/finance/chart/SPY", quirks)

    spy = YahooSource(adjusted=False, session=yahoo_session, clock=TODAY).history("SPY", "2024-03-01", "2024-03-28")

    expected = _sample("SPY", "2024-03-01", "2024-03-28").drop(pd.Timestamp("2024-03-08", tz="UTC"))
    assert spy.index.equals(expected.index)
    assert spy.attrs["notes"] == [
        "dropped 1 bar(s) Yahoo listed without prices (no trading); first: 2024-03-08",
        "kept 1 bar(s) with zero volume; first: 2024-03-11",
    ]


@pytest.mark.parametrize(
    ("timeframe", "start", "end", "message"),
    [
        ("5Min", "2010-12-01", "2010-12-03", r"serves 5m bars for the last 60 days only \(from 2011-01-19\)"),
        ("1Hour", "2009-01-01", "2009-01-02", r"serves 1h bars for the last 730 days only"),
        ("1Min", "2011-03-01", "2011-03-15", r"serves 1m bars at most 8 days per request"),
        ("1Week", "2011-01-01", "2011-03-15", r"yfinance serves timeframes 1Min, 2Min, .*1Day; not 1Week"),
    ],
)
def test_requests_beyond_yahoo_limits_fail_before_any_request(
    yahoo_replay: Replay, yahoo_session: requests.Session, timeframe: str, start: str, end: str, message: str
) -> None:
    source = YahooSource(adjusted=False, session=yahoo_session, clock=MARCH_2011)

    with pytest.raises(ValueError, match=message):
        source.history("SPY", start, end, timeframe=timeframe)
    assert yahoo_replay.asked == []


def test_a_range_without_bars_names_it(yahoo_replay: Replay, yahoo_session: requests.Session) -> None:
    def no_bars(result: dict) -> None:
        result["timestamp"] = []
        result["indicators"] = {"quote": [{c: [] for c in ("open", "high", "low", "close", "volume")}]}

    yahoo_replay.edit("/v8/finance/chart/SPY", no_bars)
    source = YahooSource(adjusted=False, session=yahoo_session, clock=TODAY)

    with pytest.raises(DataNotFoundError, match=r"yfinance: no .*bars for SPY"):
        source.history("SPY", "2024-03-01", "2024-03-28")

"""Bad bars from any source (NaN, a negative price, a repeated or out-of-order timestamp) reach the one validator,
whose error names the source, the symbol and the rule. Each source is the real one: files on disk, yfinance on
recorded Yahoo answers, alpaca-py on the loopback Alpaca. Also: a file source asked for bars it does not hold."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
import requests
from alpaca_fake import LoopbackServer, MarketData

from workbench.data.alpaca import AlpacaDataSource
from workbench.data.sources import FolderSource, SampleSource
from workbench.data.yahoo import YahooSource
from workbench.errors import DataValidationError
from workbench.testing import FrozenClock

if TYPE_CHECKING:
    from fixtures.yahoo.replay import Replay

pytest_plugins = ["fixtures.yahoo.replay"]

START, END = "2024-03-01", "2024-03-28"
SPY = SampleSource().history("SPY", START, END).drop(columns="adj_close")


def _nan(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(close=frame["close"].where(np.arange(len(frame)) != 2))


def _negative_price(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(low=frame["low"].where(np.arange(len(frame)) != 3, -1.0))


def _repeated_timestamp(frame: pd.DataFrame) -> pd.DataFrame:
    stamps = frame.index.tolist()
    stamps[4] = stamps[3]
    return frame.set_axis(pd.DatetimeIndex(stamps, name="timestamp"), axis=0)


def _out_of_order(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[[0, 1, 2, 3, 4, 6, 5, *range(7, len(frame))]]


DEFECTS: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], str]] = {
    "nan": (_nan, "nan"),
    "negative_price": (_negative_price, "non_positive_price"),
    "repeated_timestamp": (_repeated_timestamp, "duplicate_timestamps"),
    "out_of_order": (_out_of_order, "unsorted"),
}


def _assert_names(error: DataValidationError, source: str, rule: str) -> None:
    assert (error.source, error.symbol, error.rule) == (source, "SPY", rule)
    assert str(error).startswith(f"{source}: SPY: rule {rule} failed on 1 row")


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as running:
        yield running


@pytest.mark.parametrize("defect", DEFECTS)
def test_csv_folder(tmp_path: Path, defect: str) -> None:
    spoil, rule = DEFECTS[defect]
    spoil(SPY).to_csv(tmp_path / "SPY.csv")

    with pytest.raises(DataValidationError) as caught:
        FolderSource(tmp_path).history("SPY")
    _assert_names(caught.value, f"csv folder {tmp_path}", rule)


def test_a_file_source_serves_the_timeframe_it_holds_only() -> None:
    sample = SampleSource()

    assert len(sample.history("SPY", START, END, timeframe="1d")) == len(SPY)
    assert len(sample.history("SPY_1min", "2011-03-16", "2011-03-16", timeframe="1Min")) == 835
    with pytest.raises(ValueError, match=r"the bundled sample: SPY holds bars 1 day apart, not 5Min bars"):
        sample.history("SPY", START, END, timeframe="5Min")


@pytest.mark.parametrize("defect", DEFECTS)
def test_alpaca_history(server: LoopbackServer, defect: str) -> None:
    spoil, rule = DEFECTS[defect]
    MarketData(server).add_bars("SPY", spoil(SPY))
    source = AlpacaDataSource(server.api_key, server.secret_key, url_override=server.rest_url)

    with pytest.raises(DataValidationError) as caught:
        source.history("SPY", START, END)
    _assert_names(caught.value, "alpaca", rule)


def test_alpaca_stream(server: LoopbackServer) -> None:
    minutes = SampleSource().history("SPY_1min", "2011-03-16T14:30", "2011-03-16T15:29")
    market = MarketData(server)
    market.open_market({"SPY": _negative_price(minutes.iloc[20:])}, published=1)  # bad bar: the 4th sent live
    source = AlpacaDataSource(
        server.api_key, server.secret_key, url_override=server.rest_url, stream_url_override=server.ws_url("/v2/iex")
    )
    stream = source.stream(["SPY"])
    watchdog = threading.Timer(20, stream.close)
    watchdog.start()

    with pytest.raises(DataValidationError) as caught:
        list(itertools.islice(stream, 100))
    watchdog.cancel()
    _assert_names(caught.value, "alpaca stream", "non_positive_price")


def _yahoo_chart_edit(defect: str) -> Callable[[dict], None]:
    """Spoil the recorded SPY chart as `defect` spoils a frame (the rows are the chart's bars)."""

    def edit(result: dict) -> None:
        quote = result["indicators"]["quote"][0]
        if defect == "nan":
            quote["close"][2] = None
        elif defect == "negative_price":
            quote["low"][3] = -1.0
        elif defect == "repeated_timestamp":
            result["timestamp"][4] = result["timestamp"][3]
        else:
            stamps = result["timestamp"]
            stamps[5], stamps[6] = stamps[6], stamps[5]

    return edit


@pytest.mark.parametrize("defect", ["nan", "negative_price"])
def test_yfinance(yahoo_replay: Replay, yahoo_session: requests.Session, defect: str) -> None:
    yahoo_replay.edit("/v8/finance/chart/SPY", _yahoo_chart_edit(defect))
    source = YahooSource(adjusted=False, session=yahoo_session, clock=FrozenClock(pd.Timestamp("2026-06-01", tz="UTC")))

    with pytest.raises(DataValidationError) as caught:
        source.history("SPY", START, END)
    _assert_names(caught.value, "yfinance", DEFECTS[defect][1])


@pytest.mark.parametrize("defect", ["repeated_timestamp", "out_of_order"])
def test_yfinance_sorts_and_deduplicates_before_the_validator_sees_the_bars(
    yahoo_replay: Replay, yahoo_session: requests.Session, defect: str
) -> None:
    """yfinance itself sorts Yahoo's rows and keeps the first of repeated stamps, so these never reach us."""
    yahoo_replay.edit("/v8/finance/chart/SPY", _yahoo_chart_edit(defect))
    source = YahooSource(adjusted=False, session=yahoo_session, clock=FrozenClock(pd.Timestamp("2026-06-01", tz="UTC")))

    bars = source.history("SPY", START, END)

    assert bars.index.is_monotonic_increasing and bars.index.is_unique
    assert len(bars) == len(SPY) - (defect == "repeated_timestamp")

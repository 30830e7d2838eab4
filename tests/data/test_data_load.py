"""load() and Bars: symbols, ranges, sources, errors, wide fields and polars output."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

import workbench.data as wd
from workbench.data import Bars, FolderSource, SampleSource, load, to_polars
from workbench.errors import ConfigError, DataNotFoundError, DataValidationError

ROOT = Path(__file__).resolve().parents[2]


def test_one_symbol_gives_a_dataframe() -> None:
    spy = load("SPY")

    assert isinstance(spy, pd.DataFrame)
    assert len(spy) == 6642
    assert spy.index.name == "timestamp"


@pytest.mark.parametrize("symbols", [["SPY", "QQQ"], "SPY,QQQ", " spy , qqq ", ("SPY", "QQQ", "spy")])
def test_several_symbols_give_bars(symbols) -> None:
    bars = load(symbols, start="2020-01-01")

    assert isinstance(bars, Bars)
    assert bars.symbols == ["SPY", "QQQ"]
    assert len(bars) == 2
    assert list(bars) == ["SPY", "QQQ"]
    assert "SPY" in bars and "IWM" not in bars


def test_a_list_of_one_symbol_is_still_bars() -> None:
    assert isinstance(load(["SPY"]), Bars)
    assert isinstance(load("SPY,"), Bars)


def test_symbol_case_is_ignored() -> None:
    pd.testing.assert_frame_equal(load("spy"), load("SPY"))
    assert load(["spy"]).symbols == ["SPY"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2020-01-02", "2020-01-31"),
        (date(2020, 1, 2), date(2020, 1, 31)),
        (pd.Timestamp("2020-01-02"), pd.Timestamp("2020-01-31")),
        (datetime(2020, 1, 1, 19), pd.Timestamp("2020-01-31 18:00", tz="America/New_York")),  # 23:00 UTC
    ],
    ids=["str", "date", "timestamp", "datetime_and_aware"],
)
def test_start_and_end_are_inclusive(start, end) -> None:
    january = load("SPY", start=start, end=end)
    full = load("SPY")

    assert january.index[0] == pd.Timestamp("2020-01-02", tz="UTC")
    assert january.index[-1] == pd.Timestamp("2020-01-31", tz="UTC")
    assert len(january) == 21
    pd.testing.assert_frame_equal(january, full.loc["2020-01-02":"2020-01-31"])


def test_an_end_date_covers_its_whole_utc_day_intraday() -> None:
    day = load("SPY_1min", start="2011-01-31", end="2011-01-31")
    exact = load("SPY_1min", start="2011-01-31", end="2011-01-31T20:59:00Z")

    assert day.index[0] == pd.Timestamp("2011-01-31T09:02:00Z")
    assert day.index[-1] == pd.Timestamp("2011-01-31T23:59:00Z")
    assert exact.index[-1] == pd.Timestamp("2011-01-31T20:59:00Z")


def test_start_after_end_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="start 2020-01-01 is after end 2019-01-01"):
        load("SPY", start="2020-01-01", end="2019-01-01")


def test_a_bound_that_is_not_a_time_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="start='soon' is not a date or time"):
        load("SPY", start="soon")


def test_an_empty_range_names_symbol_and_range() -> None:
    with pytest.raises(
        DataNotFoundError, match=r"META: no bars from the start to 2010-01-01; the data covers 2012-05-18"
    ):
        load(["SPY", "META"], end="2010-01-01")


def test_a_bad_symbol_lists_alternatives() -> None:
    with pytest.raises(DataNotFoundError, match=r"unknown symbol 'SPX'.*closest: SPY.*available \(39\): AAPL, AMZN"):
        load("SPX")


def test_csv_source_needs_a_path() -> None:
    with pytest.raises(ValueError, match="source='csv' needs path="):
        load("SPY", source="csv")


def test_path_without_csv_source_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only read by source='csv'"):
        load("SPY", path=tmp_path)


def test_alpaca_source_needs_keys_from_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no workbench.toml
    for var in ("WORKBENCH_CONFIG", "WORKBENCH_ALPACA_API_KEY", "WORKBENCH_ALPACA_SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)

    with pytest.raises(ConfigError, match=r"source 'alpaca' needs alpaca_api_key and alpaca_secret_key"):
        load("SPY", source="alpaca")


def test_unknown_source_lists_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match="unknown source 'stooq'; expected one of sample, csv, yfinance, alpaca"):
        load("SPY", source="stooq")


def test_csv_source_reads_a_folder_and_validates(tmp_path: Path) -> None:
    spy = load("SPY", end="2000-01-10")
    spy.to_csv(tmp_path / "SPY.csv")
    spy.assign(high=spy["low"] - 1).to_csv(tmp_path / "BAD.csv")

    pd.testing.assert_frame_equal(load("spy", source="csv", path=tmp_path), spy, check_exact=False)
    with pytest.raises(DataValidationError) as info:
        load("BAD", source="csv", path=str(tmp_path))
    assert (info.value.symbol, info.value.rule, info.value.count) == (
        "BAD",
        "high_below_open_close",
        len(spy),
    )


def test_csv_source_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="data folder not found"):
        load("SPY", source="csv", path=tmp_path / "missing")


def test_nan_policy_is_applied_on_load(tmp_path: Path) -> None:
    spy = load("SPY", end="2000-01-10")
    spy.iloc[2, :5] = np.nan  # a missing bar: no prices, no volume
    spy.to_csv(tmp_path / "SPY.csv")

    with pytest.raises(DataValidationError, match="rule nan failed on 1 row; first: 2000-01-04 open=nan"):
        load("SPY", source="csv", path=tmp_path)
    dropped = load("SPY", source="csv", path=tmp_path, nan_policy="drop")
    filled = load("SPY", source="csv", path=tmp_path, nan_policy="ffill")

    assert dropped.index.equals(spy.index.delete(2))
    assert filled.iloc[2, :4].tolist() == spy.iloc[1, :4].tolist()
    assert filled["volume"].iloc[2] == 0.0


def test_any_bar_source_object_can_be_passed() -> None:
    class OneSymbol:
        def symbols(self) -> list[str]:
            return ["X"]

        def read(self, symbol: str) -> pd.DataFrame:
            return SampleSource().read("QQQ").iloc[:3]

    assert len(load("x", source=OneSymbol())) == 3


def test_bars_close_is_aligned_on_the_union_of_timestamps() -> None:
    bars = load(["META", "SPY"])

    close = bars.close

    assert list(close.columns) == ["META", "SPY"]
    assert close.index.equals(bars["SPY"].index)  # SPY's dates include META's
    assert close["META"].isna().sum() == 6642 - 3527
    assert close["META"].first_valid_index() == pd.Timestamp("2012-05-18", tz="UTC")
    pd.testing.assert_series_equal(close["META"].dropna(), bars["META"]["close"], check_names=False)
    pd.testing.assert_series_equal(close["SPY"], bars["SPY"]["close"], check_names=False)


def test_bars_field_of_any_column_and_a_missing_one() -> None:
    bars = load("SPY,QQQ", start="2021-01-01", end="2021-12-31")

    assert bars.field("adj_close").shape == (252, 2)
    with pytest.raises(KeyError, match=r"column 'vwap' is missing for \['SPY', 'QQQ'\]"):
        bars.field("vwap")


def test_bars_to_polars_is_long_with_symbol_and_timestamp() -> None:
    bars = load(["SPY", "GOOGL"], end="2004-12-31")

    frame = bars.to_polars()

    assert frame.columns == ["symbol", "timestamp", "open", "high", "low", "close", "volume", "adj_close"]
    assert frame.shape == (len(bars["SPY"]) + len(bars["GOOGL"]), 8)
    assert frame.schema["timestamp"] == pl.Datetime("ns", "UTC")
    assert frame.schema["close"] == pl.Float64
    assert frame.filter(pl.col("symbol") == "GOOGL")["close"].to_list() == bars["GOOGL"]["close"].tolist()


def test_to_polars_of_one_frame() -> None:
    spy = load("SPY", end="2000-01-10")

    frame = to_polars(spy)

    assert frame.columns == ["timestamp", "open", "high", "low", "close", "volume", "adj_close"]
    assert frame["timestamp"].to_list() == spy.index.to_pydatetime().tolist()


def test_bars_validates_its_frames_and_needs_a_symbol() -> None:
    bad = load("SPY", end="2000-01-10").assign(volume=-1.0)

    with pytest.raises(DataValidationError, match=r"^BAD: rule negative_volume"):
        Bars({"BAD": bad})
    with pytest.raises(ValueError, match="at least one symbol"):
        Bars({})


def test_bars_cannot_be_changed_through_item_access() -> None:
    bars = load("SPY,QQQ", end="2000-01-10")
    before = bars["SPY"]["close"].copy()

    frame = bars["SPY"]
    frame.loc[:, "close"] = 0.0

    pd.testing.assert_series_equal(bars["SPY"]["close"], before)
    with pytest.raises(TypeError):
        bars["IWM"] = frame  # type: ignore[index]


def test_bars_equality_and_repr() -> None:
    bars = load("SPY,META", end="2012-12-31")

    assert bars == load(["spy", "meta"], end="2012-12-31")
    assert bars != load("SPY,META", end="2012-12-28")
    assert repr(bars).splitlines() == [
        f"Bars(2 symbols, {len(bars['SPY']) + len(bars['META'])} rows)",
        f"  SPY      {len(bars['SPY'])} rows  1999-12-31 .. 2012-12-31",
        f"  META      {len(bars['META'])} rows  2012-05-18 .. 2012-12-31",
    ]


def test_importing_workbench_data_does_not_import_polars() -> None:
    code = "import sys, workbench.data; print('polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)

    assert out.stdout.strip() == "False"


def test_public_api() -> None:
    assert set(wd.__all__) == {
        "BarSource", "Bars", "FolderSource", "SampleSource", "load", "normalize_columns", "read_bar_file",
        "to_polars", "validate_bars",
    }  # fmt: skip
    assert FolderSource is wd.FolderSource


@pytest.mark.parametrize("module", ["schema", "validate", "sources", "bars", "load", "_failures", "__init__"])
def test_docstring_examples_run(module: str) -> None:
    name = "workbench.data" if module == "__init__" else f"workbench.data.{module}"
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)

    assert result.failed == 0

"""validate_bars and normalize_columns: every rule, the NaN policies, column aliases and time parsing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.data import normalize_columns, validate_bars
from workbench.data.validate import RULES
from workbench.errors import DataValidationError

DATES = ["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"]


def raw_bars(n: int = 4) -> pd.DataFrame:
    """A small valid daily table, as read from a CSV (string dates, integer volume)."""
    return pd.DataFrame(
        {
            "date": DATES[:n],
            "open": [10.0, 11.0, 12.0, 13.0][:n],
            "high": [11.0, 12.0, 13.0, 14.0][:n],
            "low": [9.0, 10.0, 11.0, 12.0][:n],
            "close": [10.5, 11.5, 12.5, 13.5][:n],
            "volume": [100, 200, 300, 400][:n],
        }
    )


def with_values(column: str, rows: list[int], value: float) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[rows, column] = value
        return df

    return change


def invalid_case(rule: str, change: Callable[[pd.DataFrame], pd.DataFrame], count: int, first: str):
    return pytest.param(rule, change, count, first, id=rule)


# (rule, how to break raw_bars(), offending count, text naming the first offender)
CASES = [
    invalid_case("missing_columns", lambda df: df.drop(columns=["volume", "low"]), 2, "['low', 'volume']"),
    invalid_case("empty", lambda df: df.iloc[:0], 0, "no rows"),
    invalid_case("duplicate_timestamps", lambda df: df.assign(date=DATES[:2] * 2).iloc[[0, 2, 1, 3]], 2, "2020-01-02"),
    invalid_case("unsorted", lambda df: df.iloc[[0, 2, 1, 3]], 1, "2020-01-03 after 2020-01-06"),
    invalid_case("nan", with_values("close", [2], np.nan), 1, "2020-01-06 open=12.0 high=13.0 low=11.0 close=nan"),
    invalid_case("non_finite", with_values("high", [1, 3], np.inf), 2, "2020-01-03 open=11.0 high=inf low=10.0"),
    invalid_case("non_positive_price", with_values("low", [0, 3], 0.0), 2, "2020-01-02 open=10.0 high=11.0 low=0.0"),
    invalid_case("high_below_open_close", with_values("high", [1], 11.2), 1, "2020-01-03 open=11.0 high=11.2"),
    invalid_case("low_above_open_close", with_values("low", [3], 13.2), 1, "2020-01-07 open=13.0 high=14.0 low=13.2"),
    invalid_case("negative_volume", with_values("volume", [0], -1.0), 1, "2020-01-02 volume=-1.0"),
    invalid_case("bad_timestamp", with_values("date", [1], "not a date"), 1, "row 1 date='not a date'"),
    invalid_case(
        "non_numeric",
        lambda df: df.astype({"open": object}).pipe(with_values("open", [2], "n/a")),
        1,
        "2020-01-06 open='n/a'",
    ),
    invalid_case("duplicate_columns", lambda df: df.assign(Close=df["close"]), 1, "['close']"),
]


def test_valid_bars_are_canonical_and_the_input_is_untouched() -> None:
    raw = raw_bars()
    before = raw.copy()

    out = validate_bars(raw, "SPY")

    pd.testing.assert_frame_equal(raw, before)
    assert list(out.columns) == ["open", "high", "low", "close", "volume"]
    assert (out.dtypes == "float64").all()
    assert out.index.name == "timestamp"
    assert str(out.index.dtype) == "datetime64[ns, UTC]"
    assert out.index[0] == pd.Timestamp("2020-01-02", tz="UTC")
    assert out["volume"].tolist() == [100.0, 200.0, 300.0, 400.0]


@pytest.mark.parametrize(("rule", "change", "count", "first"), CASES)
def test_each_rule_raises_with_its_name_count_and_first_offender(rule, change, count, first) -> None:
    bad = change(raw_bars())

    with pytest.raises(DataValidationError) as info:
        validate_bars(bad, symbol="TEST")

    err = info.value
    assert type(err) is DataValidationError
    assert (err.symbol, err.rule, err.count) == ("TEST", rule, count)
    assert err.failures == {rule: count}
    message = str(err)
    assert message.startswith(f"TEST: rule {rule} failed on {count} ")
    assert first in message
    assert rule in RULES


def test_message_matches_the_documented_format() -> None:
    raw = pd.DataFrame(
        {"date": ["2020-01-02"], "open": [10.0], "high": [9.5], "low": [9.0], "close": [9.8], "volume": [1]}
    )

    with pytest.raises(DataValidationError) as info:
        validate_bars(raw, "SPY")

    assert str(info.value) == (
        "SPY: rule high_below_open_close failed on 1 row; first: 2020-01-02 open=10.0 high=9.5 low=9.0 close=9.8"
    )


def test_all_failing_row_rules_are_reported_together_in_check_order() -> None:
    raw = raw_bars().pipe(with_values("high", [1], 9.0)).pipe(with_values("volume", [3], -5))

    with pytest.raises(DataValidationError) as info:
        validate_bars(raw, "X")

    err = info.value
    # high 9.0 is below open 11.0, close 11.5 and low 10.0
    assert err.failures == {"high_below_open_close": 1, "high_below_low": 1, "negative_volume": 1}
    assert (err.rule, err.count) == ("high_below_open_close", 1)
    message = str(err)
    assert message.index("high_below_open_close") < message.index("high_below_low") < message.index("negative_volume")


def test_message_shows_at_most_five_offending_rows() -> None:
    n = 8
    raw = pd.DataFrame(
        {
            "timestamp": pd.date_range("2011-01-03 14:30", periods=n, freq="min"),
            "open": 1.0,
            "high": 1.0,
            "low": 1.0,
            "close": 1.0,
            "volume": -1.0,
        }
    )

    with pytest.raises(DataValidationError) as info:
        validate_bars(raw, "SPY")

    message = str(info.value)
    assert "failed on 8 rows; first: 2011-01-03T14:30:00Z volume=-1.0, " in message
    assert "2011-01-03T14:34:00Z" in message
    assert "2011-01-03T14:35:00Z" not in message
    assert message.endswith(", ...")


def test_unknown_nan_policy_is_rejected() -> None:
    with pytest.raises(ValueError, match="nan_policy='skip'"):
        validate_bars(raw_bars(), nan_policy="skip")  # type: ignore[arg-type]


def test_nan_policy_drop_drops_rows_with_a_nan_price_and_zeroes_nan_volume() -> None:
    raw = raw_bars().pipe(with_values("open", [1], np.nan)).pipe(with_values("volume", [2], np.nan))

    out = validate_bars(raw, nan_policy="drop")

    assert out.index.strftime("%Y-%m-%d").tolist() == ["2020-01-02", "2020-01-06", "2020-01-07"]
    assert out["volume"].tolist() == [100.0, 0.0, 400.0]


def test_nan_policy_ffill_fills_prices_from_the_previous_row_and_zeroes_volume() -> None:
    raw = raw_bars().pipe(with_values("close", [2], np.nan)).pipe(with_values("volume", [2], np.nan))
    before = raw.copy()

    out = validate_bars(raw, nan_policy="ffill")

    assert out["close"].tolist() == [10.5, 11.5, 11.5, 13.5]
    assert out["volume"].tolist() == [100.0, 200.0, 0.0, 400.0]
    pd.testing.assert_frame_equal(raw, before)


def test_nan_policy_ffill_still_raises_on_a_leading_nan() -> None:
    raw = raw_bars().pipe(with_values("open", [0], np.nan))

    with pytest.raises(DataValidationError) as info:
        validate_bars(raw, "QQQ", nan_policy="ffill")

    assert (info.value.rule, info.value.count) == ("nan", 1)
    assert "first: 2020-01-02 open=nan" in str(info.value)
    assert "forward-fill" in str(info.value)


def test_nan_policy_raise_rejects_a_nan_volume() -> None:
    with pytest.raises(DataValidationError, match="rule nan failed on 1 row; first: 2020-01-03"):
        validate_bars(raw_bars().pipe(with_values("volume", [1], np.nan)))


def test_nan_policy_drop_of_every_row_is_empty() -> None:
    raw = raw_bars().assign(close=np.nan)

    with pytest.raises(DataValidationError, match=r"rule empty .* after nan_policy='drop'") as info:
        validate_bars(raw, nan_policy="drop")

    assert info.value.rule == "empty"


@pytest.mark.parametrize(
    "names",
    [
        ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"],
        ["date", "open", "high", "low", "close", "adj_close", "volume"],
        ["DATE", "OPEN", "HIGH", "LOW", "CLOSE", "ADJCLOSE", "VOLUME"],
        ["Datetime", "O", "H", "L", "C", "adjclose", "Vol"],
        [" time ", "o", "h", "l", "c", "Adj_Close", "v"],
        ["timestamp", "Open", "High", "Low", "Close", "AdjClose", "V"],
    ],
)
def test_column_aliases_map_to_the_canonical_names(names: list[str]) -> None:
    raw = pd.DataFrame([["2020-01-02", 1, 2, 0.5, 1.5, 1.4, 10]], columns=names)

    out = normalize_columns(raw)

    assert list(out.columns) == ["open", "high", "low", "close", "volume", "adj_close"]
    assert out.iloc[0].tolist() == [1.0, 2.0, 0.5, 1.5, 10.0, 1.4]
    assert out.index.tolist() == [pd.Timestamp("2020-01-02", tz="UTC")]


def test_extra_columns_are_kept_after_the_canonical_ones() -> None:
    raw = raw_bars().assign(vwap=1.0, exchange="X")[
        ["exchange", "close", "date", "open", "vwap", "high", "low", "volume"]
    ]

    out = validate_bars(raw)

    assert list(out.columns) == ["open", "high", "low", "close", "volume", "exchange", "vwap"]
    assert out["exchange"].tolist() == ["X"] * 4


JAN_2 = ["2020-01-02T00:00:00Z", "2020-01-02T00:01:00Z"]
DAYS = ["2020-01-02T00:00:00Z", "2020-01-03T00:00:00Z"]
MINUTES = ["2011-01-03T14:30:00Z", "2011-01-03T14:31:00Z"]


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        pytest.param([1577923200, 1577923260], JAN_2, id="unix_seconds"),
        pytest.param([1577923200000, 1577923260000], JAN_2, id="unix_milliseconds"),
        pytest.param([20200102, 20200103], DAYS, id="yyyymmdd_integers"),
        pytest.param([date(2020, 1, 2), date(2020, 1, 3)], DAYS, id="date_objects"),
        pytest.param(["2020-01-02", "2020-01-03"], DAYS, id="iso_dates"),
        pytest.param(["2011-01-03T14:30:00Z", "2011-01-03T14:31:00Z"], MINUTES, id="iso_z"),
        pytest.param(["2011-01-03 14:30", "2011-01-03 14:31"], MINUTES, id="naive_is_utc"),
        pytest.param(["2011-01-03T09:30-05:00", "2011-01-03T09:31-05:00"], MINUTES, id="offset"),
        pytest.param(["01/02/2020", "01/03/2020"], DAYS, id="not_iso_month_first"),
        pytest.param(
            pd.DatetimeIndex(["2011-01-03 09:30", "2011-01-03 09:31"]).tz_localize("America/New_York"),
            MINUTES,
            id="tz_aware",
        ),
    ],
)
def test_times_are_parsed_to_utc(times, expected: list[str]) -> None:
    raw = pd.DataFrame({"timestamp": times, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1})

    out = normalize_columns(raw)

    assert out.index.equals(pd.DatetimeIndex(expected, name="timestamp").as_unit("ns"))


def test_a_datetime_index_is_used_when_there_is_no_time_column() -> None:
    raw = raw_bars()
    raw = raw.set_index(pd.DatetimeIndex(raw.pop("date"), name="Date"))  # as yfinance returns it

    out = validate_bars(raw)

    assert out.index.equals(pd.DatetimeIndex(DATES, name="timestamp").tz_localize("UTC").as_unit("ns"))


def test_no_time_at_all_is_missing_columns() -> None:
    with pytest.raises(DataValidationError, match="SYM: rule missing_columns failed on 1 column; no time column"):
        normalize_columns(raw_bars().drop(columns="date"), "SYM")


def test_two_time_columns_are_ambiguous() -> None:
    with pytest.raises(DataValidationError, match=r"duplicate_columns.*\['date', 'Time'\]"):
        normalize_columns(raw_bars().assign(Time="09:30"))


@st.composite
def valid_ohlcv(draw: st.DrawFn) -> pd.DataFrame:
    """Bars built so that every rule holds: low <= open, close <= high, prices > 0, volume >= 0."""
    n = draw(st.integers(1, 30))
    price = st.floats(0.01, 1e6, allow_nan=False)
    opens = np.array(draw(st.lists(price, min_size=n, max_size=n)))
    closes = np.array(draw(st.lists(price, min_size=n, max_size=n)))
    spread = np.array(draw(st.lists(st.floats(0, 1e3), min_size=n, max_size=n)))
    volume = np.array(draw(st.lists(st.floats(0, 1e12), min_size=n, max_size=n)))
    low = np.minimum(opens, closes) * draw(st.floats(0.5, 1.0))
    high = np.maximum(opens, closes) + spread
    stamps = pd.date_range("2020-01-01", periods=n, freq=draw(st.sampled_from(["min", "D", "h"])), tz="UTC")
    return pd.DataFrame(
        {"open": opens, "high": high, "low": low, "close": closes, "volume": volume},
        index=pd.DatetimeIndex(stamps, name="timestamp").as_unit("ns"),
    )


@settings(max_examples=60, deadline=None)
@given(bars=valid_ohlcv(), row=st.integers(0, 29))
def test_valid_bars_pass_unchanged_and_one_bad_row_is_named(bars: pd.DataFrame, row: int) -> None:
    pd.testing.assert_frame_equal(validate_bars(bars), bars, check_freq=False)

    row %= len(bars)
    broken = bars.copy()
    broken.iloc[row, broken.columns.get_loc("high")] = broken["low"].iloc[row] / 2
    with pytest.raises(DataValidationError) as info:
        validate_bars(broken, "H")
    assert info.value.failures["high_below_low"] == 1
    assert broken.index[row].strftime("%Y-%m-%d") in str(info.value)


def test_canonical_frames_skip_parsing_but_are_still_copied_and_checked():
    import workbench as wb
    from workbench.data.schema import normalize_columns
    from workbench.errors import DataValidationError

    spy = wb.load("SPY", start="2020-01-01", end="2020-03-31")
    again = normalize_columns(spy)
    assert again is not spy and again.equals(spy)
    broken = spy.copy()
    broken.iloc[3, broken.columns.get_loc("high")] = 1.0  # below open/close
    with pytest.raises(DataValidationError, match="high_below_open_close"):
        wb.validate_bars(broken, symbol="SPY")

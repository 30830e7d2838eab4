"""read_bar_file, FolderSource and the bundled SampleSource (checked against data/README.md)."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from workbench.data import BarSource, FolderSource, SampleSource, read_bar_file, to_polars, validate_bars
from workbench.errors import DataNotFoundError

README = Path(__file__).resolve().parents[2] / "data" / "README.md"


def readme_daily_table() -> dict[str, tuple[str, str, int]]:
    """symbol -> (first date, last date, rows), from the table in data/README.md section 1."""
    rows = re.findall(r"^\| ([A-Z]+) \| (\d{4}-\d\d-\d\d) \| (\d{4}-\d\d-\d\d) \| (\d+) \|", README.read_text(), re.M)
    return {symbol: (first, last, int(n)) for symbol, first, last, n in rows}


DAILY = readme_daily_table()
YAHOO_CSV = """Date,Open,High,Low,Close,Adj Close,Volume
2020-01-02,323.54,324.89,322.53,324.87,296.888,59151200
2020-01-03,321.16,323.64,321.10,322.41,294.640,77709700
"""


def expected_yahoo() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "open": [323.54, 321.16],
            "high": [324.89, 323.64],
            "low": [322.53, 321.10],
            "close": [324.87, 322.41],
            "volume": [59151200.0, 77709700.0],
            "adj_close": [296.888, 294.640],
        },
        index=pd.DatetimeIndex(["2020-01-02", "2020-01-03"], tz="UTC", name="timestamp").as_unit("ns"),
    )


def test_readme_table_lists_38_symbols() -> None:
    assert len(DAILY) == 38


def test_yahoo_style_csv_is_read_with_aliases(tmp_path: Path) -> None:
    file = tmp_path / "SPY.csv"
    file.write_text(YAHOO_CSV)

    pd.testing.assert_frame_equal(read_bar_file(file), expected_yahoo())


@pytest.mark.parametrize("case", [str.upper, str.lower])
def test_header_case_does_not_matter(tmp_path: Path, case) -> None:
    file = tmp_path / "SPY.csv"
    header, body = YAHOO_CSV.split("\n", 1)
    file.write_text(case(header) + "\n" + body)

    pd.testing.assert_frame_equal(read_bar_file(file), expected_yahoo())


@pytest.mark.parametrize(
    "stamps",
    [
        ["1577923200", "1578009600"],
        ["2020-01-02T00:00:00Z", "2020-01-03T00:00:00Z"],
        ["2020-01-02", "2020-01-03"],
    ],
    ids=["unix_seconds", "iso_z", "iso_date"],
)
def test_timestamp_column_as_unix_seconds_or_iso(tmp_path: Path, stamps: list[str]) -> None:
    lines = YAHOO_CSV.replace("Date,", "timestamp,").splitlines()
    lines[1:] = [stamp + line[len("2020-01-02") :] for stamp, line in zip(stamps, lines[1:], strict=True)]
    file = tmp_path / "SPY.csv"
    file.write_text("\n".join(lines) + "\n")

    pd.testing.assert_frame_equal(read_bar_file(file), expected_yahoo())


def test_csv_gz(tmp_path: Path) -> None:
    file = tmp_path / "SPY.csv.gz"
    expected_yahoo().to_csv(file)  # gzip inferred from the suffix; index written as `timestamp`

    pd.testing.assert_frame_equal(read_bar_file(file), expected_yahoo())


def test_parquet_round_trip_from_pandas_and_polars(tmp_path: Path) -> None:
    bars = SampleSource().read("SPY").iloc[-300:]
    bars.to_parquet(tmp_path / "FROM_PANDAS.parquet")
    to_polars(bars).write_parquet(tmp_path / "FROM_POLARS.parquet")

    pd.testing.assert_frame_equal(read_bar_file(tmp_path / "FROM_PANDAS.parquet"), bars)
    pd.testing.assert_frame_equal(read_bar_file(tmp_path / "FROM_POLARS.parquet"), bars)


def test_read_bar_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match=r"bar file not found: .*NOPE\.csv"):
        read_bar_file(tmp_path / "NOPE.csv")
    with pytest.raises(ValueError, match=r"unsupported bar file .*SPY\.xlsx.*\.parquet, \.csv, \.csv\.gz"):
        read_bar_file(tmp_path / "SPY.xlsx")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "SPY.csv").write_text(YAHOO_CSV)
    (tmp_path / "qqq.csv.gz").write_bytes(b"")  # shadowed by the parquet file below, so never read
    expected_yahoo().to_parquet(tmp_path / "qqq.parquet")
    expected_yahoo().iloc[:1].to_csv(tmp_path / "IWM.CSV.GZ")
    (tmp_path / "README.md").write_text("not bars")
    (tmp_path / "sub.csv").mkdir()
    return tmp_path


def test_folder_source_lists_one_symbol_per_file(folder: Path) -> None:
    source = FolderSource(folder)

    assert isinstance(source, BarSource)
    assert source.symbols() == ["IWM", "SPY", "qqq"]


@pytest.mark.parametrize(("symbol", "rows"), [("SPY", 2), ("spy", 2), ("QQQ", 2), ("iwm", 1)])
def test_folder_source_reads_case_insensitively(folder: Path, symbol: str, rows: int) -> None:
    bars = FolderSource(folder).read(symbol)

    pd.testing.assert_frame_equal(bars, expected_yahoo().iloc[:rows])


def test_folder_source_unknown_symbol_lists_alternatives(folder: Path) -> None:
    with pytest.raises(DataNotFoundError) as info:
        FolderSource(folder).read("SPX")

    message = str(info.value)
    assert "unknown symbol 'SPX'" in message
    assert str(folder) in message
    assert "closest: SPY" in message
    assert "available (3): IWM, SPY, qqq" in message


def test_folder_source_missing_folder_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match=f"data folder not found: {re.escape(str(tmp_path / 'nope'))}"):
        FolderSource(tmp_path / "nope")


def test_sample_source_symbols_are_the_readme_symbols_plus_spy_1min() -> None:
    assert SampleSource().symbols() == sorted([*DAILY, "SPY_1min"])


@pytest.mark.parametrize("symbol", sorted(DAILY))
def test_every_bundled_daily_symbol_loads_and_matches_the_readme(symbol: str) -> None:
    first, last, rows = DAILY[symbol]

    bars = validate_bars(SampleSource().read(symbol), symbol)

    assert len(bars) == rows
    assert bars.index[0] == pd.Timestamp(first, tz="UTC")
    assert bars.index[-1] == pd.Timestamp(last, tz="UTC")
    assert list(bars.columns) == ["open", "high", "low", "close", "volume", "adj_close"]
    assert bars["adj_close"].iloc[-1] == bars["close"].iloc[-1]  # README: adj_close == close on the last row


@pytest.mark.parametrize(("symbol", "rows"), [("SPY", 6642), ("META", 3527), ("GOOGL", 5479)])
def test_row_counts_of_a_few_symbols(symbol: str, rows: int) -> None:
    assert len(SampleSource().read(symbol)) == rows


def test_intraday_spy_is_both_months_concatenated() -> None:
    bars = validate_bars(SampleSource().read("spy_1min"), "SPY_1min")

    assert len(bars) == 14180 + 17577
    assert bars.index[0] == pd.Timestamp("2011-01-03T09:00:00Z")
    assert bars.index[-1] == pd.Timestamp("2011-03-31T23:58:00Z")
    assert bars.index[14179] == pd.Timestamp("2011-02-01T00:59:00Z")
    assert bars.index[14180] == pd.Timestamp("2011-03-01T09:00:00Z")
    # README: pyalgotrade expects the 09:31 New York bar (start 09:30 EST = 14:30 UTC) to close at 132.35
    assert bars.loc[pd.Timestamp("2011-03-09T14:30:00Z"), "close"] == 132.35


def test_intraday_regular_sessions_are_complete() -> None:
    new_york = SampleSource().read("SPY_1min").index.tz_convert("America/New_York")
    minute = new_york.hour * 60 + new_york.minute
    regular = (minute >= 9 * 60 + 30) & (minute < 16 * 60)

    per_day = pd.Series(new_york.date[regular]).value_counts()

    assert len(per_day) == 20 + 23  # README: sessions per file
    assert (per_day == 390).all()


def test_sample_source_unknown_symbol() -> None:
    with pytest.raises(DataNotFoundError, match=r"unknown symbol 'NOPE' in the bundled sample; available \(39\): AAPL"):
        SampleSource().read("NOPE")


def test_sample_data_is_read_through_importlib_resources_even_from_a_zip(tmp_path: Path) -> None:
    package = Path(__file__).resolve().parents[2] / "workbench"
    members = [
        package / "__init__.py",
        package / "errors.py",
        *(package / "data").glob("*.py"),
        package / "data" / "sample" / "daily" / "SPY.csv",
        *(package / "data" / "sample" / "intraday").glob("*.csv"),
    ]
    archive = tmp_path / "workbench.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for member in members:
            zipped.write(member, member.relative_to(package.parent).as_posix())
    code = (
        f"import sys; sys.path.insert(0, {str(archive)!r}); import workbench.data as d; "
        "print(d.__file__.startswith(sys.path[0]), d.SampleSource().symbols(), len(d.load('spy_1min')))"
    )

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)

    assert out.stdout.split() == ["True", "['SPY',", "'SPY_1min']", "31757"]

"""Tests of the `workbench` command, driven through `workbench.cli.main(argv)` (the console-script entry).

Every test runs isolated from the user's environment: no WORKBENCH_* variables, WORKBENCH_HOME in a temporary
folder and the working directory a temporary folder (so no ./workbench.toml and no ./strategies is read).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import structlog
from typer.testing import CliRunner

from workbench.cli import app, main
from workbench.config import MASK, Settings
from workbench.errors import ConfigError

SAMPLE_DAILY = Path(__file__).resolve().parents[2] / "workbench" / "data" / "sample" / "daily"
SPY_CSV = SAMPLE_DAILY / "SPY.csv"
BUNDLED = ("donchian_breakout", "rsi_reversion", "sma_cross", "zscore_reversion")

Run = Callable[..., tuple[int, str, str]]


# --- isolation and helpers ------------------------------------------------------------------------------


def _isolate(mp: pytest.MonkeyPatch, folder: Path) -> None:
    for name in [n for n in os.environ if n.startswith("WORKBENCH_")]:
        mp.delenv(name)
    mp.setenv("WORKBENCH_HOME", str(folder))
    mp.chdir(folder)


@contextlib.contextmanager
def _restored_logging() -> Iterator[None]:
    """The CLI points the root logger at the sys.stderr of the moment; put the previous setup back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    config = structlog.get_config()
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.configure(**config)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _isolate(monkeypatch, tmp_path)
    with _restored_logging():
        yield


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``main(argv)`` and return (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = main(list(argv))
        out, err = capsys.readouterr()
        return rc, out, err

    return run


def _run_redirected(*argv: str) -> tuple[int, str, str]:
    """Like the `cli` fixture, for module-scoped fixtures (which cannot use capsys)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def assert_error(result: tuple[int, str, str], *fragments: str) -> str:
    """A known error: exit 1, nothing on stdout, `error: ...` on stderr naming every fragment, no traceback."""
    rc, out, err = result
    assert rc == 1, (rc, out, err)
    assert "Traceback" not in err
    assert err.startswith("error: "), err
    assert err.count("error:") == 1, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


def settings_table(out: str) -> dict[str, tuple[str, str]]:
    """Parse `config show`: key -> (value, source)."""
    lines = out.strip().splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == ["key", "value", "source"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    rows = {}
    for line in lines[2:]:
        key, value, source = re.split(r"\s{2,}", line.strip())
        rows[key] = (value, source)
    return rows


def sample_dates(path: Path) -> list[str]:
    return pd.read_csv(path, usecols=["date"])["date"].tolist()


# --- help and global options ------------------------------------------------------------------------------


def test_help_lists_command_groups(cli: Run) -> None:
    rc, out, err = cli("--help")
    assert rc == 0
    assert err == ""
    assert "Usage: workbench" in out
    commands = out[out.index("Commands") :]
    for name, summary in [
        ("config", "Inspect the merged configuration."),
        ("data", "List, show and validate bar data."),
        ("strategies", "List and describe strategies."),
        ("sweep", "Sweep a strategy's parameters"),
    ]:
        assert re.search(rf"\b{name}\s+{re.escape(summary)}", commands), (name, commands)
    for option in ("--config", "--profile", "--set", "--verbose", "--quiet", "--json-logs", "--debug"):
        assert option in out


def test_data_help_lists_subcommands(cli: Run) -> None:
    rc, out, _ = cli("data", "--help")
    assert rc == 0
    commands = out[out.index("Commands") :]
    for name in ("list", "show", "validate"):
        assert re.search(rf"\b{name}\s+\S", commands), (name, commands)


def test_unknown_command_is_a_usage_error_without_traceback(cli: Run) -> None:
    rc, out, err = cli("frobnicate")
    assert out == ""
    assert rc == 2
    assert "Traceback" not in err
    assert "No such command 'frobnicate'" in err


# --- config show -------------------------------------------------------------------------------------------


def test_config_show_lists_every_setting_with_its_source(cli: Run, tmp_path: Path) -> None:
    rc, out, err = cli("config", "show")
    assert rc == 0
    assert err == ""
    rows = settings_table(out)
    assert list(rows) == list(Settings.model_fields)
    assert rows["home"] == (str(tmp_path), "env:WORKBENCH_HOME")
    assert rows["profile"] == ("research", "default")
    assert rows["fees"] == ("0.001", "default")
    assert rows["initial_cash"] == ("10000.0", "default")
    assert rows["alpaca_api_key"] == ("-", "default")
    assert rows["confirm_live"] == ("false", "default")
    others = {k: v for k, v in rows.items() if k != "home"}
    assert {source for _, source in others.values()} == {"default"}


def test_config_show_masks_secrets_from_env(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_ALPACA_API_KEY", "supersecret")
    monkeypatch.setenv("WORKBENCH_API_SECRET", "hunter2hunter2")
    rc, out, err = cli("config", "show")
    assert rc == 0
    assert "supersecret" not in out + err
    assert "hunter2" not in out + err
    rows = settings_table(out)
    assert rows["alpaca_api_key"] == (MASK, "env:WORKBENCH_ALPACA_API_KEY")
    assert rows["api_secret"] == (MASK, "env:WORKBENCH_API_SECRET")


def test_config_show_masks_secrets_from_cli(cli: Run) -> None:
    rc, out, err = cli("--set", "api_secret=topsecretvalue", "config", "show")
    assert rc == 0
    assert "topsecretvalue" not in out + err
    assert settings_table(out)["api_secret"] == (MASK, "cli")


def test_config_show_masks_passwords_and_tokens_inside_urls(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """Passwords inside db_url and redis_url, and a webhook URL's token, used to be printed as they were."""
    monkeypatch.setenv("WORKBENCH_DB_URL", "postgresql://trader:dbpass123@db.example:5432/wb?sslmode=require")
    monkeypatch.setenv("WORKBENCH_REDIS_URL", "redis://:redispass123@cache.example:6379/0")
    monkeypatch.setenv("WORKBENCH_NOTIFY_WEBHOOK_URL", "https://hooks.slack.com/services/T00/B00/tok3n123")
    rc, out, err = cli("config", "show")
    assert rc == 0
    for secret in ("dbpass123", "redispass123", "tok3n123", "T00/B00"):
        assert secret not in out + err
    rows = settings_table(out)
    assert rows["db_url"][0] == f"postgresql://trader:{MASK}@db.example:5432/wb?sslmode=require"
    assert rows["redis_url"][0] == f"redis://:{MASK}@cache.example:6379/0"
    assert rows["notify_webhook_url"][0] == f"https://hooks.slack.com/{MASK}"


def test_config_show_env_source(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_FEES", "0.002")
    rc, out, _ = cli("config", "show")
    assert rc == 0
    assert settings_table(out)["fees"] == ("0.002", "env:WORKBENCH_FEES")


def test_config_show_cli_set_beats_env(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_FEES", "0.002")
    rc, out, _ = cli("--set", "fees=0.001", "--set", "initial-cash=5000", "config", "show")
    assert rc == 0
    rows = settings_table(out)
    assert rows["fees"] == ("0.001", "cli")
    assert rows["initial_cash"] == ("5000.0", "cli")


def test_config_show_reads_toml_given_by_config(cli: Run, tmp_path: Path) -> None:
    toml = tmp_path / "conf" / "mine.toml"
    toml.parent.mkdir()
    toml.write_text('fees = 0.004\nprofile = "paper"\n')
    rc, out, _ = cli("--config", str(toml), "config", "show")
    assert rc == 0
    rows = settings_table(out)
    assert rows["fees"] == ("0.004", f"file:{toml.resolve()}")
    assert rows["profile"] == ("paper", f"file:{toml.resolve()}")
    assert rows["broker"] == ("sim", "default")


def test_config_show_ignores_toml_elsewhere_without_config(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "workbench.toml").write_text("fees = 0.004\n")
    rc, out, _ = cli("config", "show")
    assert rc == 0
    assert settings_table(out)["fees"] == ("0.001", "default")


def test_config_show_reads_workbench_toml_in_cwd(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "workbench.toml").write_text("fees = 0.005\n")
    rc, out, _ = cli("config", "show")
    assert rc == 0
    assert settings_table(out)["fees"] == ("0.005", f"file:{(tmp_path / 'workbench.toml').resolve()}")


@pytest.mark.parametrize(
    ("flag", "key", "value"),
    [
        ("-v", "log_level", "DEBUG"),
        ("--verbose", "log_level", "DEBUG"),
        ("-q", "log_level", "WARNING"),
        ("--quiet", "log_level", "WARNING"),
        ("--json-logs", "log_json", "true"),
    ],
)
def test_logging_flags_set_settings(cli: Run, flag: str, key: str, value: str) -> None:
    rc, out, _ = cli(flag, "config", "show")
    assert rc == 0
    assert settings_table(out)[key] == (value, "cli")


def test_bad_profile_is_one_clear_error(cli: Run) -> None:
    err = assert_error(cli("--profile", "prod", "config", "show"), "profile", "'prod'")
    # the line naming the bad value also names every allowed value and the flag it came from
    line = next(line for line in err.splitlines() if "'prod'" in line)
    for word in ("profile", "--profile", "'research'", "'paper'", "'live'"):
        assert word in line, (word, line)


def test_bad_profile_with_debug_raises(cli: Run) -> None:
    with pytest.raises(ConfigError, match="prod"):
        cli("--debug", "--profile", "prod", "config", "show")


def test_bad_setting_value_names_key_and_source(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_FEES", "0.5")
    assert_error(cli("config", "show"), "fees", "0.5", "WORKBENCH_FEES")


def test_unknown_setting_via_set(cli: Run) -> None:
    assert_error(cli("--set", "nope=1", "config", "show"), "nope", "unknown setting")


def test_malformed_set_is_one_clear_error(cli: Run) -> None:
    assert_error(cli("--set", "fees", "config", "show"), "KEY=VALUE", "'fees'")


def test_missing_config_file(cli: Run, tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    assert_error(cli("--config", str(missing), "config", "show"), str(missing), "does not exist")


def test_secret_not_echoed_in_config_error(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_ALPACA_API_KEY", "supersecret")
    err = assert_error(cli("--set", "broker=alpaca-paper", "config", "show"), "alpaca_secret_key")
    assert "supersecret" not in err


# --- data ---------------------------------------------------------------------------------------------------


def test_data_list_includes_spy_with_row_count(cli: Run) -> None:
    from workbench.data.sources import SampleSource

    rc, out, err = cli("data", "list")
    assert rc == 0
    assert err == ""
    lines = out.strip().splitlines()
    assert lines[0].split() == ["symbol", "first", "last", "rows"]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert sorted(rows) == SampleSource().symbols()
    dates = sample_dates(SPY_CSV)
    assert len(dates) == 6642
    assert rows["SPY"] == ["SPY", dates[0], dates[-1], "6642"]
    assert rows["QQQ"][3] == str(len(sample_dates(SAMPLE_DAILY / "QQQ.csv")))


def test_data_list_csv_folder(cli: Run, tmp_path: Path) -> None:
    folder = tmp_path / "bars"
    folder.mkdir()
    pd.read_csv(SPY_CSV, nrows=12).to_csv(folder / "AAA.csv", index=False)
    rc, out, _ = cli("--set", "data_source=csv", "--set", f"data_path={folder}", "data", "list")
    assert rc == 0
    dates = sample_dates(SPY_CSV)
    assert out.strip().splitlines()[2].split() == ["AAA", dates[0], dates[11], "12"]


def test_data_list_csv_without_path(cli: Run) -> None:
    assert_error(cli("--set", "data_source=csv", "data", "list"), "data_path")


def test_data_show_range(cli: Run) -> None:
    rc, out, err = cli("data", "show", "SPY", "--start", "2020-01-02", "--end", "2020-01-10")
    assert rc == 0
    assert err == ""
    frame = pd.read_csv(SPY_CSV, index_col="date")
    last_close = frame.loc["2020-01-10", "close"]
    lines = out.splitlines()
    assert lines[0] == f"SPY: 7 bars, 2020-01-02 .. 2020-01-10, last close {last_close:.4f}"
    shown = [line.split()[0] for line in lines if re.match(r"\d{4}-\d\d-\d\d", line)]
    assert shown == ["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07", "2020-01-08", "2020-01-09", "2020-01-10"]


def test_data_show_head_and_tail_rows(cli: Run) -> None:
    rc, out, _ = cli("data", "show", "spy", "--rows", "2")
    assert rc == 0
    dates = sample_dates(SPY_CSV)
    assert out.splitlines()[0].startswith(f"SPY: 6642 bars, {dates[0]} .. {dates[-1]}, last close ")
    shown = [line.split()[0] for line in out.splitlines() if re.match(r"\d{4}-\d\d-\d\d", line)]
    assert shown == [dates[0], dates[1], dates[-2], dates[-1]]


def test_data_show_unknown_symbol_suggests_alternatives(cli: Run) -> None:
    assert_error(cli("data", "show", "SPYX"), "'SPYX'", "closest: SPY", "available")


def test_data_show_empty_range(cli: Run) -> None:
    assert_error(cli("data", "show", "SPY", "--start", "2090-01-01"), "SPY", "no bars")


def test_data_show_start_after_end(cli: Run) -> None:
    assert_error(cli("data", "show", "SPY", "--start", "2020-02-01", "--end", "2020-01-01"), "after")


@pytest.fixture
def bar_files(tmp_path: Path) -> Path:
    """A folder with GOOD.csv (10 SPY rows) and BAD.csv (the same rows, one with high < low)."""
    folder = tmp_path / "bars"
    folder.mkdir()
    rows = pd.read_csv(SPY_CSV, nrows=10)
    rows.to_csv(folder / "GOOD.csv", index=False)
    bad = rows.copy()
    bad.loc[4, "high"] = bad.loc[4, "low"] - 1.0
    bad.to_csv(folder / "BAD.csv", index=False)
    return folder


def test_data_validate_folder_reports_each_file_and_fails(cli: Run, bar_files: Path) -> None:
    rc, out, err = cli("data", "validate", str(bar_files))
    dates = sample_dates(SPY_CSV)
    lines = out.strip().splitlines()
    assert lines[-1] == "1 passed, 1 failed"
    assert f"ok   GOOD: 10 bars, {dates[0]} .. {dates[9]}" in lines
    fail = [line for line in lines if line.startswith("FAIL")]
    assert len(fail) == 1
    assert "BAD" in fail[0] and "high_below_low" in fail[0] and dates[4] in fail[0]
    assert "Traceback" not in err
    assert rc == 1


def test_data_validate_folder_fails_through_console_script_too(bar_files: Path) -> None:
    """The same through Click's standalone mode (what `workbench` would do without main's wrapper)."""
    result = CliRunner().invoke(app, ["data", "validate", str(bar_files)])
    assert result.exit_code == 1
    assert "1 passed, 1 failed" in result.output


def test_data_validate_single_good_file(cli: Run, bar_files: Path) -> None:
    rc, out, err = cli("data", "validate", str(bar_files / "GOOD.csv"))
    assert rc == 0
    assert err == ""
    dates = sample_dates(SPY_CSV)
    assert out.strip().splitlines() == [f"ok   GOOD: 10 bars, {dates[0]} .. {dates[9]}", "1 passed, 0 failed"]


def test_data_validate_single_bad_file(cli: Run, bar_files: Path) -> None:
    rc, out, _ = cli("data", "validate", str(bar_files / "BAD.csv"))
    assert out.strip().splitlines()[-1] == "0 passed, 1 failed"
    assert rc == 1


def test_data_validate_nan_policy(cli: Run, tmp_path: Path) -> None:
    rows = pd.read_csv(SPY_CSV, nrows=10)
    rows.loc[3, "close"] = float("nan")
    path = tmp_path / "HOLE.csv"
    rows.to_csv(path, index=False)
    rc, out, _ = cli("data", "validate", str(path), "--nan-policy", "drop")
    assert rc == 0
    assert out.strip().splitlines()[0].startswith("ok   HOLE: 9 bars, ")
    rc, out, _ = cli("data", "validate", str(path))
    assert "nan" in out.strip().splitlines()[0]
    assert out.strip().splitlines()[-1] == "0 passed, 1 failed"
    assert rc == 1


def test_data_validate_missing_path(cli: Run, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert_error(cli("data", "validate", str(missing)), str(missing), "does not exist")


# --- strategies ---------------------------------------------------------------------------------------------


def test_strategies_list_shows_bundled(cli: Run) -> None:
    rc, out, err = cli("strategies", "list")
    assert rc == 0
    assert err == ""
    lines = out.strip().splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["name", "class", "parameters (defaults)", "source"]
    rows = {re.split(r"\s{2,}", line)[0]: re.split(r"\s{2,}", line) for line in lines[2:]}
    assert set(BUNDLED) <= set(rows)
    _, cls, params, source = rows["sma_cross"]
    assert (cls, params) == ("SmaCross", "fast=10, slow=50")
    assert source.endswith("sma_cross.py")
    assert rows["rsi_reversion"][1] == "RsiReversion"
    assert rows["donchian_breakout"][1] == "DonchianBreakout"
    assert rows["zscore_reversion"][1] == "ZscoreReversion"


def test_strategies_list_finds_project_strategy_in_cwd(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "always_long.py").write_text(
        "import numpy as np\n"
        "from workbench import Param, Strategy\n\n"
        "class AlwaysLong(Strategy):\n"
        '    """Always long."""\n'
        "    level = Param(float, 1.0, min=0.0, max=1.0)\n"
        "    @staticmethod\n"
        "    def signals(open, high, low, close, volume, level):\n"
        "        return np.full(len(close), level)\n"
    )
    rc, out, _ = cli("strategies", "list")
    assert rc == 0
    row = next(line for line in out.splitlines() if line.startswith("always_long "))
    assert re.split(r"\s{2,}", row)[1:3] == ["AlwaysLong", "level=1.0"]


def test_strategies_show_sma_cross(cli: Run) -> None:
    rc, out, err = cli("strategies", "show", "sma_cross")
    assert rc == 0
    assert err == ""
    lines = [line.strip() for line in out.splitlines()]
    assert lines[0].startswith("sma_cross (SmaCross): ")
    assert "fast: int = 10 in [1, 1000]  fast SMA length in bars" in lines
    assert "slow: int = 50 in [2, 5000]  slow SMA length in bars" in lines
    assert "constraint: fast < slow" in lines
    assert "sweeps fast over range(5, 60)" in lines
    assert "sweeps slow over range(20, 250, 5)" in lines


def test_strategies_show_unknown(cli: Run) -> None:
    assert_error(cli("strategies", "show", "nope"), "unknown strategy 'nope'", *BUNDLED)


# --- sweep --------------------------------------------------------------------------------------------------

FAST, SLOW = range(5, 20, 5), range(30, 60, 10)  # what -p fast=5:20:5 -p slow=30:60:10 mean (stop excluded)
SWEEP_ARGS = ("sweep", "sma_cross", "-p", "fast=5:20:5", "-p", "slow=30:60:10", "--top", "3", "--fill", "close")


def _printed_rows(out: str, n_index: int) -> tuple[list[str], list[list[str]]]:
    """Metric column names and the ranked rows (index values, then metrics) printed by `sweep`."""
    lines = out.strip().splitlines()
    columns = lines[2].split()
    rows = [line.split() for line in lines[4:] if not line.startswith("wrote ")]
    assert all(len(row) == n_index + len(columns) for row in rows), rows
    return columns, rows


@pytest.fixture(scope="module")
def single_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str, Path]:
    folder = tmp_path_factory.mktemp("sweep1")
    with pytest.MonkeyPatch.context() as mp, _restored_logging():
        _isolate(mp, folder)
        out_file = folder / "tmp.parquet"
        rc, out, err = _run_redirected(*SWEEP_ARGS, "--out", str(out_file))
    return rc, out, err, out_file


@pytest.fixture(scope="module")
def multi_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str, Path]:
    folder = tmp_path_factory.mktemp("sweep2")
    with pytest.MonkeyPatch.context() as mp, _restored_logging():
        _isolate(mp, folder)
        out_file = folder / "tmp.csv"
        rc, out, err = _run_redirected(*SWEEP_ARGS, "--symbols", "SPY,QQQ", "--out", str(out_file))
    return rc, out, err, out_file


def test_sweep_exit_and_summary(single_sweep) -> None:
    rc, out, err, out_file = single_sweep
    assert rc == 0, err
    assert "Traceback" not in err
    lines = out.strip().splitlines()
    assert lines[1].startswith("sma_cross: 9 runs over SPY (")
    assert lines[1].endswith("best 3 by sharpe (fees 0.001, slippage 0, fill close):")
    assert lines[-1] == f"wrote 9 rows to {out_file}"


def test_sweep_writes_every_combination(single_sweep) -> None:
    *_, out_file = single_sweep
    table = pd.read_parquet(out_file)
    assert len(table) == len(FAST) * len(SLOW) == 9
    assert {"fast", "slow", "sharpe", "total_return", "max_drawdown", "trades"} <= set(table.columns)
    assert "symbol" not in table.columns
    assert sorted(zip(table["fast"], table["slow"], strict=True)) == [(f, s) for f in FAST for s in SLOW]
    assert (table["fast"] < table["slow"]).all()
    assert table["sharpe"].notna().all()


def test_sweep_prints_top_rows_ranked(single_sweep) -> None:
    _, out, _, out_file = single_sweep
    columns, rows = _printed_rows(out, n_index=2)
    assert columns == ["total_return", "cagr", "sharpe", "sortino", "max_drawdown", "trades", "win_rate", "exposure"]
    assert out.strip().splitlines()[3].split() == ["fast", "slow"]
    assert len(rows) == 3
    table = pd.read_parquet(out_file)
    expected = table.sort_values("sharpe", ascending=False).head(3)
    sharpe_at = 2 + columns.index("sharpe")
    printed = [(int(r[0]), int(r[1]), float(r[sharpe_at])) for r in rows]
    assert [(f, s) for f, s, _ in printed] == list(zip(expected["fast"], expected["slow"], strict=True))
    assert [sh for _, _, sh in printed] == [round(v, 4) for v in expected["sharpe"]]
    best = table.loc[table["sharpe"].idxmax()]
    assert (printed[0][0], printed[0][1]) == (best["fast"], best["slow"])
    trades_at = 2 + columns.index("trades")
    assert int(rows[0][trades_at]) == best["trades"]


def test_sweep_several_symbols(multi_sweep, single_sweep) -> None:
    rc, out, err, out_file = multi_sweep
    assert rc == 0, err
    assert out.strip().splitlines()[1].startswith("sma_cross: 18 runs over SPY, QQQ (")
    assert out.strip().splitlines()[3].split() == ["fast", "slow", "symbol"]
    _, rows = _printed_rows(out, n_index=3)
    assert len(rows) == 3
    assert {r[2] for r in rows} <= {"SPY", "QQQ"}
    table = pd.read_csv(out_file)
    assert list(table.columns[:3]) == ["fast", "slow", "symbol"]
    assert len(table) == 18
    assert table.groupby("symbol").size().to_dict() == {"QQQ": 9, "SPY": 9}
    # SPY's rows equal the single-symbol sweep of SPY with the same settings
    single = pd.read_parquet(single_sweep[3]).set_index(["fast", "slow"]).sort_index()
    spy = table[table["symbol"] == "SPY"].drop(columns="symbol").set_index(["fast", "slow"]).sort_index()
    pd.testing.assert_frame_equal(spy, single, check_dtype=False, rtol=1e-12)


def test_sweep_default_symbol_and_fill_differ_from_close_fill(cli: Run, single_sweep) -> None:
    """--fill is honoured: next-bar-open fills give other numbers than close fills."""
    rc, out, _ = cli("sweep", "sma_cross", "-p", "fast=5", "-p", "slow=30", "--top", "1")
    assert rc == 0
    _, rows = _printed_rows(out, n_index=2)
    table = pd.read_parquet(single_sweep[3]).set_index(["fast", "slow"])
    assert rows[0][:2] == ["5", "30"]
    assert float(rows[0][2]) != round(table.loc[(5, 30), "total_return"], 4)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["sweep", "nope"], ["unknown strategy 'nope'", "sma_cross"]),
        (["sweep", "sma_cross", "-p", "nope=1:3"], ["nope", "fast, slow"]),
        (["sweep", "sma_cross", "-p", "fast=10:5"], ["fast", "empty"]),
        (["sweep", "sma_cross", "-p", "fast=a:b"], ["'a:b'", "START:STOP"]),
        (["sweep", "sma_cross", "--fees", "-0.1"], ["fees=-0.1", "[0, 1)"]),
        (["sweep", "sma_cross", "--cash", "0"], ["cash=0.0", "positive"]),
        (["sweep", "sma_cross", "--fill", "midday"], ["fill='midday'", "next_open", "close"]),
        (["sweep", "sma_cross", "--metric", "luck"], ["metric='luck'", "sharpe"]),
        (["sweep", "sma_cross", "-p", "slow=9000"], ["slow=9000", "5000"]),
        (["sweep", "sma_cross", "--start", "2020-01-01", "-p", "slow=2000"], ["slow=2000", "SPY has"]),
        (["sweep", "sma_cross", "--symbols", "SPY,NOPE"], ["'NOPE'"]),
        (["sweep", "sma_cross", "-p", "fast"], ["NAME=RANGE", "'fast'"]),
        (["sweep", "sma_cross", "--out", "x.txt"], ["x.txt", ".parquet", ".csv"]),
    ],
    ids=[
        "unknown-strategy",
        "unknown-param",
        "empty-range",
        "unreadable-range",
        "negative-fees",
        "zero-cash",
        "bad-fill",
        "bad-metric",
        "param-above-max",
        "window-longer-than-data",
        "unknown-symbol",
        "param-without-equals",
        "bad-out-suffix",
    ],
)
def test_sweep_bad_input(cli: Run, tmp_path: Path, args: list[str], fragments: list[str]) -> None:
    assert_error(cli(*args), *fragments)
    assert list(tmp_path.iterdir()) == []  # nothing written (not even x.txt)


def test_sweep_bad_input_with_debug_raises(cli: Run) -> None:
    with pytest.raises(ValueError, match="midday"):
        cli("--debug", "sweep", "sma_cross", "--fill", "midday")

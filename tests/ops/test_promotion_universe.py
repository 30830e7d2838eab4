"""Promotion of a universe strategy: its gates judge the one account over all its symbols (parity of the backtest
with the sweep row and the sweep kernel's round trips, look-ahead on the whole panel, overfitting of the account),
and a universe is promoted, paper-traded and started live with exactly the symbols it was swept on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import workbench as wb
from workbench.engine.universe_run import simulate_weights
from workbench.ops.promotion import PromotionRequired, promote, require_promotion
from workbench.store import Store
from workbench.store.journal import OrderJournal
from workbench.strategies.universe import Panel

SYMBOLS = ["SPY", "QQQ", "IWM", "DIA"]
BARS = wb.load(SYMBOLS, start="2012-01-01", end="2019-12-31")
GRID = {"lookback": range(20, 120, 20), "top": [1, 2], "every": [21]}  # 10 parameter sets


@pytest.fixture
def sqlite(tmp_path: Path) -> Store:
    opened = Store.open(f"sqlite:///{tmp_path / 'workbench.db'}")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def swept() -> wb.SweepResult:
    return wb.sweep("momentum", BARS, fees=0.001, progress=False, **GRID)


def best(result: wb.SweepResult) -> dict:
    return dict(zip(result.params, result.best(1).index[0], strict=True))


def test_the_gates_judge_the_universes_account(sqlite: Store, swept) -> None:
    values = best(swept)
    sweep_id = swept.save(sqlite)

    promotion = promote("momentum", values, SYMBOLS, to="paper", store=sqlite, sweep=sweep_id)

    gates = {g.name: g for g in promotion.gates}
    assert list(gates) == ["sweep", "parity", "lookahead", "overfitting"]
    assert gates["sweep"].passed and gates["parity"].passed and gates["lookahead"].passed
    instance = wb.strategy("momentum")(**values)
    backtest = wb.backtest(instance, BARS, fees=0.001)
    kernel = simulate_weights(instance.target_weights(BARS).to_numpy(), Panel.of(BARS), swept.costs, 252.0)
    parity = gates["parity"].numbers["portfolio"]
    assert parity["trades_backtest"] == parity["trades_sweep"] == len(kernel.trades) == len(backtest.trades) > 20
    assert parity["end_value_backtest"] == pytest.approx(backtest.metrics["end_value"], rel=1e-12)
    assert parity["end_value_sweep"] == pytest.approx(kernel.metrics["end_value"], rel=1e-9)
    assert parity["max_rel_diff_fill_prices"] <= 1e-9 and parity["max_rel_diff_metrics"] <= 1e-9
    report = swept.overfitting()  # the best set: its numbers are assess()'s
    numbers = gates["overfitting"].numbers["portfolio"]
    assert numbers["pbo"] == report.pbo and numbers["deflated_sharpe"] == pytest.approx(report.deflated_sharpe)
    assert gates["overfitting"].passed == (not report.verdict.startswith("likely overfit"))
    assert promotion.status == ("passed" if gates["overfitting"].passed else "failed")


def test_a_universe_is_promoted_and_started_with_exactly_its_symbols(sqlite: Store, swept) -> None:
    values = best(swept)
    sweep_id = swept.save(sqlite)

    fewer = promote("momentum", values, SYMBOLS[:3], to="paper", store=sqlite, sweep=sweep_id)

    assert fewer.status == "failed" and fewer.gates[0].detail == (
        f"sweep {sweep_id} swept momentum as one account over SPY, QQQ, IWM, DIA: a universe strategy is promoted "
        "with the symbols it was swept on, not SPY, QQQ, IWM"
    )
    promote("momentum", values, SYMBOLS, to="paper", store=sqlite, sweep=sweep_id, override_reason="test account")
    instance = wb.strategy("momentum")(**values)
    assert require_promotion(sqlite, instance, SYMBOLS[::-1], "alpaca-paper").stage == "paper"  # any order
    with pytest.raises(PromotionRequired, match="on SPY,QQQ,IWM is not promoted to paper"):
        require_promotion(sqlite, instance, SYMBOLS[:3], "alpaca-paper")  # a smaller account is another strategy


def paper_run(store: Store, values: dict, symbols: list[str], days: int) -> int:
    """A universe paper run on Alpaca as a LiveSession records it: a mark at the close of each of ``days`` days."""
    config = {"symbol": ",".join(symbols), "symbols": symbols, "broker": "alpaca-paper", "leverage": 1.0}
    journal = OrderJournal.start(store, "momentum", cash=10_000.0, params=values, config=config)
    for day in range(days):
        journal.record_mark(datetime(2026, 3, 2, 21, tzinfo=UTC) + timedelta(days=day), 10_000.0, 10_000.0)
    return journal.run_id


def test_only_paper_runs_of_the_whole_universe_count_towards_live(sqlite: Store, swept) -> None:
    values = best(swept)
    sweep_id = swept.save(sqlite)
    promote("momentum", values, SYMBOLS, to="paper", store=sqlite, sweep=sweep_id, override_reason="test account")
    paper_run(sqlite, values, SYMBOLS[:2], days=30)  # a smaller universe: another account
    paper_run(sqlite, values, [*SYMBOLS, "EFA"], days=30)  # a larger one
    whole = paper_run(sqlite, values, SYMBOLS, days=4)

    promotion = promote("momentum", values, SYMBOLS, to="live", store=sqlite, paper_days=5)

    assert promotion.status == "failed"
    assert promotion.gates[-1].numbers["runs"] == [whole]
    assert promotion.gates[-1].detail.startswith(f"paper runs {whole} traded SPY 4 of 5 trading days")

"""Promotion gates on real sweeps: parity, look-ahead and overfitting to paper, a paper period to live; the refusal
of unpromoted configurations, overrides with a reason, and the audit trail."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import workbench as wb
from workbench.errors import ConfigError
from workbench.ops.promotion import PromotionRequired, promote, promotions, require_promotion
from workbench.risk.manager import RiskEvent
from workbench.store import Store
from workbench.store.journal import OrderJournal
from workbench.trading.reconcile import RECONCILE

pytest_plugins = ["store_fixtures"]

GRID = {"fast": range(5, 30, 5), "slow": range(40, 120, 20)}  # 20 parameter sets
ROBUST_ENOUGH = "2005-01-01"  # SPY from here: "inconclusive" (PBO 0.25), which passes
OVERFIT = "2015-01-01"  # SPY from here: "likely overfit" (PBO 0.70)
BEST = {"fast": 10, "slow": 100}  # the best of both sweeps by Sharpe

PEEK = '''
"""Long when tomorrow's close is higher: a strategy that reads the future."""
import numpy as np
from workbench import Param, Strategy


class PeekAhead(Strategy):
    lag = Param(int, 1, min=1, max=5)

    @staticmethod
    def signals(open, high, low, close, volume, lag):
        out = np.zeros(len(close))
        out[:-lag] = (close[lag:] > close[:-lag]).astype(np.float64)
        return out
'''


NEVER = '''
"""Never takes a position: nothing a look-ahead check can compare."""
import numpy as np
from workbench import Param, Strategy


class NeverTrades(Strategy):
    lag = Param(int, 1, min=1, max=5)

    @staticmethod
    def signals(open, high, low, close, volume, lag):
        return np.zeros(len(close))
'''


def saved_sweep(store: Store, start: str, name: str = "sma_cross", **grid) -> tuple[object, int]:
    result = wb.sweep(name, wb.load("SPY", start=start), progress=False, fees=0.0, **(grid or GRID))
    return result, result.save(store)


@pytest.fixture
def sqlite(tmp_path: Path) -> Store:
    opened = Store.open(f"sqlite:///{tmp_path / 'workbench.db'}")
    yield opened
    opened.close()


def test_a_bundled_strategy_passes_every_gate_on_the_bars_of_its_sweep(store: Store) -> None:
    result, sweep_id = saved_sweep(store, ROBUST_ENOUGH)

    promotion = promote("sma_cross", BEST, ["spy"], to="paper", store=store, sweep=sweep_id, actor="ada")

    assert promotion.status == "passed" and promotion.failed == []
    gates = {g.name: g for g in promotion.gates}
    assert list(gates) == ["sweep", "parity", "lookahead", "overfitting"]
    backtest = wb.backtest(wb.strategy("sma_cross")(**BEST), result.frames["SPY"], fees=0.0)
    parity = gates["parity"].numbers["SPY"]
    assert parity["trades_backtest"] == parity["trades_sweep"] == int(backtest.metrics["trades"]) > 10
    assert parity["end_value_backtest"] == pytest.approx(backtest.metrics["end_value"], rel=1e-12)
    assert parity["end_value_sweep"] == pytest.approx(parity["end_value_backtest"], rel=1e-9)
    assert parity["max_rel_diff_fill_prices"] <= 1e-9
    report = result.overfitting()  # BEST is the sweep's best: its numbers are assess()'s
    numbers = gates["overfitting"].numbers["SPY"]
    assert numbers["pbo"] == report.pbo and numbers["stability"] == pytest.approx(report.stability, rel=1e-12)
    assert numbers["deflated_sharpe"] == pytest.approx(report.deflated_sharpe, rel=1e-9)
    assert numbers["verdict"].startswith("inconclusive: PBO 0.25")
    with store.unit_of_work(readonly=True) as uow:
        [row] = uow.promotions.find(strategy="sma_cross")
        [entry] = uow.audit.find(action="promotion.passed")
    assert (row.stage, row.status, row.sweep_run_id, row.actor, row.symbols) == (
        "paper",
        "passed",
        sweep_id,
        "ada",
        ["SPY"],
    )
    assert row.params == BEST and set(row.gates) == set(gates) and row.gates["parity"]["passed"] is True
    assert row.strategy_source_hash == result.spec.strategy_hash
    assert entry.actor == "ada" and entry.details["promotion_id"] == row.id and entry.details["failed"] == []
    assert require_promotion(store, wb.strategy("sma_cross")(**BEST), ["SPY"], "alpaca-paper").id == row.id


def test_a_configuration_that_is_not_the_best_gets_its_own_statistics(sqlite: Store) -> None:
    result, sweep_id = saved_sweep(sqlite, ROBUST_ENOUGH)

    promotion = promote("sma_cross", {"fast": 25, "slow": 40}, ["SPY"], to="paper", store=sqlite, sweep=sweep_id)

    numbers = {g.name: g for g in promotion.gates}["overfitting"].numbers["SPY"]
    report = result.overfitting()
    assert numbers["pbo"] == report.pbo  # the sweep's selection process
    assert numbers["sharpe"] == pytest.approx(result.metrics.loc[(25, 40), "sharpe"], rel=1e-9)  # this one's own
    assert numbers["sharpe"] < report.sharpe and numbers["deflated_sharpe"] < report.deflated_sharpe


def test_an_overfit_sweep_fails_the_overfitting_gate_and_live_trading_says_so(sqlite: Store) -> None:
    result, sweep_id = saved_sweep(sqlite, OVERFIT)

    promotion = promote("sma_cross", BEST, ["SPY"], to="paper", store=sqlite, sweep=sweep_id)

    assert promotion.status == "failed" and [g.name for g in promotion.failed] == ["overfitting"]
    gate = promotion.failed[0]
    assert gate.detail == "SPY: likely overfit: PBO 0.70 > 0.5"
    assert gate.numbers["SPY"]["pbo"] == result.overfitting().pbo > 0.5
    with pytest.raises(PromotionRequired) as refused:
        require_promotion(sqlite, wb.strategy("sma_cross")(**BEST), ["SPY"], "alpaca-paper")
    assert str(refused.value) == (
        "sma_cross fast=10 slow=100 on SPY is not promoted to paper, which --broker alpaca-paper needs: promotion "
        f"#{promotion.id} failed the gate(s) overfitting (SPY: likely overfit: PBO 0.70 > 0.5). Run: workbench "
        "promote sma_cross -p fast=10 -p slow=100 --symbols SPY --sweep RUN_ID --to paper (or start anyway with "
        "--override-reason TEXT, which is audited)"
    )
    assert require_promotion(sqlite, wb.strategy("sma_cross")(**BEST), ["SPY"], "sim") is None  # research: free


def test_a_strategy_that_peeks_ahead_fails_the_lookahead_gate(sqlite: Store, tmp_path, monkeypatch) -> None:
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "peek_ahead.py").write_text(textwrap.dedent(PEEK))
    monkeypatch.chdir(tmp_path)
    _, sweep_id = saved_sweep(sqlite, OVERFIT, "peek_ahead", lag=[1, 2, 3])

    promotion = promote("peek_ahead", {"lag": 1}, ["SPY"], to="paper", store=sqlite, sweep=sweep_id)

    gates = {g.name: g for g in promotion.gates}
    assert promotion.status == "failed" and not gates["lookahead"].passed
    assert gates["lookahead"].detail.startswith("PeekAhead(lag=1) looks ahead on SPY: the signal at bar ")
    assert gates["parity"].passed  # both engines see the same (peeking) signals: only the look-ahead check can tell


def test_a_strategy_that_never_trades_fails_the_gates_it_cannot_be_judged_by(sqlite, tmp_path, monkeypatch) -> None:
    """Nothing compared, nothing assessed, is nothing certified: those gates fail with the reason, never crash."""
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "never_trades.py").write_text(textwrap.dedent(NEVER))
    monkeypatch.chdir(tmp_path)
    _, sweep_id = saved_sweep(sqlite, OVERFIT, "never_trades", lag=[1, 2, 3])

    promotion = promote("never_trades", {"lag": 1}, ["SPY"], to="paper", store=sqlite, sweep=sweep_id)

    gates = {g.name: g for g in promotion.gates}
    assert promotion.status == "failed" and not gates["lookahead"].passed and not gates["overfitting"].passed
    assert gates["lookahead"].detail.startswith("check_lookahead could not test NeverTrades(lag=1) on SPY: it ")
    assert gates["overfitting"].detail == "SPY: every run has a NaN sharpe; nothing to assess"


def test_parity_fails_when_the_event_driven_path_fills_differently(sqlite: Store, monkeypatch) -> None:
    """A backtest that slips 2 bp more than the sweep (as a drifting fill model would) no longer equals it."""
    import workbench.trading.backtest as event_driven

    _, sweep_id = saved_sweep(sqlite, ROBUST_ENOUGH)
    honest = event_driven.backtest
    monkeypatch.setattr(event_driven, "backtest", lambda *a, **k: honest(*a, **{**k, "slippage": 0.0002}))

    promotion = promote("sma_cross", BEST, ["SPY"], to="paper", store=sqlite, sweep=sweep_id)

    parity = {g.name: g for g in promotion.gates}["parity"]
    numbers = parity.numbers["SPY"]
    assert promotion.status == "failed" and not parity.passed
    assert numbers["trades_sweep"] == numbers["trades_backtest"]
    assert numbers["end_value_backtest"] < numbers["end_value_sweep"]
    assert numbers["max_rel_diff_fill_prices"] == pytest.approx(0.0002, rel=1e-6)  # a sell 2 bp under the sweep
    assert parity.detail.startswith(f"the backtest differs from the sweep: SPY: {numbers['trades_sweep']} vs ")


def test_the_configuration_must_come_from_a_saved_sweep_that_reruns(sqlite: Store) -> None:
    _, sweep_id = saved_sweep(sqlite, ROBUST_ENOUGH)
    backtest_id = wb.backtest(wb.strategy("sma_cross")(**BEST), wb.load("SPY", start="2020-01-01"), fees=0.0).save(
        sqlite
    )

    def sweep_gate(params, symbols=("SPY",), sweep=sweep_id) -> str:
        promotion = promote("sma_cross", params, symbols, to="paper", store=sqlite, sweep=sweep)
        assert promotion.status == "failed" and [g.name for g in promotion.gates] == ["sweep"]  # nothing to test on
        return promotion.gates[0].detail

    assert (
        sweep_gate({"fast": 11, "slow": 100})
        == f"fast=11 slow=100 is not one of the 20 parameter sets of sweep {sweep_id}"
    )
    assert sweep_gate(BEST, ["QQQ"]) == f"sweep {sweep_id} did not sweep QQQ"
    assert sweep_gate(BEST, sweep=backtest_id) == f"run {backtest_id} is a backtest run, not a saved sweep"
    assert sweep_gate(BEST, sweep=None) == "no sweep given: name the saved sweep the parameters were chosen from"
    with pytest.raises(ConfigError, match="to='production': expected paper or live"):
        promote("sma_cross", BEST, ["SPY"], to="production", store=sqlite, sweep=sweep_id)


def test_an_override_needs_a_reason_and_is_audited(store: Store) -> None:
    _, sweep_id = saved_sweep(store, OVERFIT)
    with pytest.raises(ConfigError, match="override reason is blank"):
        promote("sma_cross", BEST, ["SPY"], to="paper", store=store, sweep=sweep_id, override_reason="  ")

    promotion = promote(
        "sma_cross",
        BEST,
        ["SPY"],
        to="paper",
        store=store,
        sweep=sweep_id,
        override_reason="a 3-week test",
        actor="ada",
    )

    assert promotion.status == "overridden" and promotion.override_reason == "a 3-week test"
    with store.unit_of_work(readonly=True) as uow:
        [entry] = uow.audit.find(action="promotion.overridden")
    assert entry.actor == "ada" and entry.target == "strategy:sma_cross"
    assert entry.details["reason"] == "a 3-week test" and entry.details["failed"] == ["overfitting"]
    assert require_promotion(store, wb.strategy("sma_cross")(**BEST), ["SPY"], "alpaca-paper").id == promotion.id


def test_starting_without_a_promotion_on_an_override_is_audited(sqlite: Store) -> None:
    strategy = wb.strategy("sma_cross")(fast=7, slow=30)

    assert require_promotion(sqlite, strategy, ["SPY"], "alpaca-live", override_reason="drill", actor="ops") is None

    with sqlite.unit_of_work(readonly=True) as uow:
        [entry] = uow.audit.find(action="live.override")
    assert (entry.actor, entry.details["reason"], entry.details["broker"]) == ("ops", "drill", "alpaca-live")
    assert entry.details["missing"] == "no promotion of it is recorded (missing: the paper period gate)"


def paper_run(store: Store, params: dict, days: int, broker: str = "alpaca-paper", first: int = 0) -> int:
    """A paper run of sma_cross on SPY as a LiveSession records it: marks at two bars of each of ``days`` days."""
    config = {"symbol": "SPY", "broker": broker}
    journal = OrderJournal.start(store, "sma_cross", cash=10_000.0, params=params, config=config)
    for day in range(first, first + days):
        for minute in (0, 390):
            moment = datetime(2026, 3, 2, 14, 30, tzinfo=UTC) + timedelta(days=day, minutes=minute)
            journal.record_mark(moment, 10_000.0, 10_000.0)
    return journal.run_id


def test_live_needs_a_paper_period_without_reconciliation_halts(sqlite: Store) -> None:
    _, sweep_id = saved_sweep(sqlite, ROBUST_ENOUGH)
    paper = promote("sma_cross", BEST, ["SPY"], to="paper", store=sqlite, sweep=sweep_id)

    def to_live() -> tuple[str, str]:
        promotion = promote("sma_cross", BEST, ["SPY"], to="live", store=sqlite, paper_days=5)
        return promotion.status, promotion.gates[-1].detail

    assert to_live() == ("failed", "no paper run of this configuration via alpaca-paper: trade it on paper first")
    paper_run(sqlite, {"fast": 10, "slow": 90}, days=30)  # another configuration
    paper_run(sqlite, BEST, days=30, broker="sim")  # a local replay
    first = paper_run(sqlite, BEST, days=3)
    second = paper_run(sqlite, BEST, days=3, first=1)  # days 1-3, the first 0-2: 4 distinct days
    assert to_live() == ("failed", f"paper runs {second}, {first} traded SPY 4 of 5 trading days")
    later = paper_run(sqlite, BEST, days=1, first=10)

    status, detail = to_live()

    assert status == "passed" and detail == "trading days on paper: SPY 5 (needs 5); no reconciliation halt"
    live = require_promotion(sqlite, wb.strategy("sma_cross")(**BEST), ["SPY"], "alpaca-live")
    assert (
        live.stage == "live"
        and live.sweep_run_id == sweep_id
        and live.gates["paper_promotion"]["promotion_id"] == paper.id
    )
    halt = RiskEvent(datetime(2026, 3, 13, tzinfo=UTC), "ACCOUNT", "halt", RECONCILE, {"differences": ["SPY 3 vs 0"]})
    OrderJournal.resume(sqlite, later).record_risk(halt)
    assert to_live() == (
        "failed",
        f"reconciliation halted paper run {later} at 2026-03-13T00:00:00+00:00 (1 halt(s)): ['SPY 3 vs 0']",
    )


def test_a_changed_strategy_source_needs_a_new_promotion(sqlite: Store, tmp_path, monkeypatch) -> None:
    (tmp_path / "strategies").mkdir()
    source = tmp_path / "strategies" / "peek_ahead.py"
    source.write_text(textwrap.dedent(PEEK))
    monkeypatch.chdir(tmp_path)
    _, sweep_id = saved_sweep(sqlite, OVERFIT, "peek_ahead", lag=[1, 2])
    promote("peek_ahead", {"lag": 2}, ["SPY"], to="paper", store=sqlite, sweep=sweep_id, override_reason="demo")
    strategy = wb.strategy("peek_ahead")(lag=2)
    assert require_promotion(sqlite, strategy, ["SPY"], "alpaca-paper") is not None

    source.write_text(textwrap.dedent(PEEK) + "\n# edited after the promotion\n")

    with pytest.raises(PromotionRequired, match="promotion #1 was of other code: the strategy's source changed since"):
        require_promotion(sqlite, strategy, ["SPY"], "alpaca-paper")


def test_promotions_lists_every_attempt_newest_first(sqlite: Store) -> None:
    _, good = saved_sweep(sqlite, ROBUST_ENOUGH)
    _, bad = saved_sweep(sqlite, OVERFIT)
    promote("sma_cross", BEST, ["SPY"], to="paper", store=sqlite, sweep=bad)
    promote("sma_cross", BEST, ["SPY"], to="paper", store=sqlite, sweep=good)
    promote("sma_cross", BEST, ["SPY"], to="live", store=sqlite)

    table = promotions(sqlite)

    assert table[["stage", "status"]].values.tolist() == [["live", "failed"], ["paper", "passed"], ["paper", "failed"]]
    assert table["sweep"].tolist() == [good, good, bad]
    assert table["gates"].iloc[2] == "sweep:ok parity:ok lookahead:ok overfitting:FAIL"
    assert table["gates"].iloc[0] == "paper_promotion:ok paper_period:FAIL"

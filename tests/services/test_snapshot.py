"""The dashboard's read model on a seeded store (SQLite and PostgreSQL): what it reads of the live runs, how it
prices positions, the account totals, the risk limits against their use, the alerts, and the change detector the
poller reads through."""

from __future__ import annotations

import doctest
import importlib
from datetime import UTC, datetime, timedelta

import pytest
from ui_support import T0, JournaledAccount, seed

from workbench.risk.manager import RiskRules
from workbench.services.snapshot import fingerprint, read_snapshot
from workbench.store import Store
from workbench.ui.account import account_summary, equity_path
from workbench.ui.limits import limit_use, recent_alerts

pytest_plugins = ["store_fixtures"]


@pytest.mark.parametrize(
    "module", ["services.snapshot", "ui.account", "ui.limits", "ui.health", "ui.poller", "ui.actions", "ui.login"]
)
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"workbench.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_snapshot_reads_the_live_runs_positions_orders_fills_and_switches(store: Store) -> None:
    seeded = seed(store)
    snap = read_snapshot(store, now=T0)
    runs = snap.runs.set_index("strategy")
    assert runs.loc["sma_cross", ["symbol", "cash", "equity"]].tolist() == ["SPY", 5_000.0, 10_100.0]
    assert runs.loc["rsi_reversion", ["symbol", "cash", "equity"]].tolist() == ["QQQ", 12_000.0, 19_800.0]
    positions = snap.positions.set_index("symbol")
    # 10 SPY bought at 500, marked at 510 (the run's equity - cash = 5,100); 20 QQQ bought at 400, marked at 390
    assert positions.loc["SPY", ["qty", "avg_price", "price", "market_value", "unrealized_pnl"]].tolist() == [
        10.0, 500.0, 510.0, 5_100.0, 100.0,
    ]  # fmt: skip
    assert positions.loc["QQQ", ["price", "unrealized_pnl"]].tolist() == [390.0, -200.0]
    assert len(snap.orders) == 3 and len(snap.fills) == 2
    working = snap.orders[snap.orders["open"]]
    assert working["id"].tolist() == [seeded.working.id] and working["status"].tolist() == ["accepted"]
    assert set(snap.orders["strategy"]) == {"sma_cross", "rsi_reversion"}  # orders placed by hand: their run's
    strategies = snap.strategies.set_index("name")
    assert strategies["enabled"].all() and not strategies["halted"].any()
    assert strategies.at["sma_cross", "last_signal"] == "buy 2 SPY"
    assert strategies.at["rsi_reversion", "last_run_id"] == seeded.qqq.journal.run_id
    assert set(snap.risk_events["rule"]) == {"max_shares", "allowed_symbols"}
    assert snap.day_open == {seeded.spy.journal.run_id: 10_000.0, seeded.qqq.journal.run_id: 20_000.0}


def test_a_fill_after_the_last_mark_prices_the_position(store: Store) -> None:
    seeded = seed(store)
    seeded.spy.move(520.0)
    seeded.spy.trade("sell", 4)
    spy = read_snapshot(store).positions.set_index("symbol").loc["SPY"]
    assert (spy["qty"], spy["price"], spy["unrealized_pnl"]) == (6.0, 520.0, 120.0)
    assert spy["realized_pnl"] == pytest.approx(80.0)  # 4 x (520 - 500)


def test_only_the_runs_a_session_trades_now_are_live(store: Store) -> None:
    """A run whose session ended (or crashed) is not live: its account is not added to the live one and its
    positions are not shown beside the live runs' (they used to be, for the newest run of each strategy and symbol,
    whether or not anything traded it)."""
    seeded = seed(store)
    seeded.spy.stop()
    newer = JournaledAccount(store, "sma_cross", "SPY", 505.0)
    newer.journal.record_mark(newer.clock.now(), 10_000.0, 10_000.0)
    snap = read_snapshot(store)
    assert set(snap.runs["run_id"]) == {newer.journal.run_id, seeded.qqq.journal.run_id}
    assert list(snap.positions["symbol"]) == ["QQQ"]  # the stopped SPY run's 10 shares are not live
    assert account_summary(snap).equity == 10_000.0 + 19_800.0  # not + the stopped run's 10,100

    with store.unit_of_work() as uow:  # the QQQ session's heartbeat stopped an hour ago: crashed, not live
        row = uow.run_states.get(seeded.qqq.journal.run_id)
        row.expires_at = datetime.now(UTC) - timedelta(hours=1)
    before = fingerprint(store, now=datetime.now(UTC) - timedelta(hours=2))
    assert fingerprint(store) != before  # the poller reads again when a heartbeat is found lost
    snap = read_snapshot(store)
    assert list(snap.runs["run_id"]) == [newer.journal.run_id] and snap.positions.empty
    strategies = snap.strategies.set_index("name")
    assert strategies.at["rsi_reversion", "sessions"] == 0
    assert strategies.at["rsi_reversion", "last_run_status"] == "crashed"
    assert account_summary(snap).state == "running: sma_cross"


def test_the_strategies_show_the_parameters_of_their_running_sessions(store: Store) -> None:
    """The registered parameters are those of the strategy's first run; a session running other ones shows those
    (the tab used to show fast=5, slow=20 that no running session used)."""
    seeded = seed(store)
    seeded.spy.stop()
    other = JournaledAccount(store, "sma_cross", "SPY", 505.0, params={"fast": 12, "slow": 80})
    strategies = read_snapshot(store).strategies.set_index("name")
    assert strategies.at["sma_cross", "params"] == {"fast": 12, "slow": 80}
    assert strategies.at["sma_cross", "sessions"] == 1
    other.stop()
    strategies = read_snapshot(store).strategies.set_index("name")
    assert strategies.at["sma_cross", "params"] == {"fast": 5, "slow": 20}  # none runs: the registered ones
    assert strategies.at["sma_cross", "sessions"] == 0 and strategies.at["sma_cross", "last_run_status"] == "stopped"


def test_account_totals_and_the_combined_equity_path(store: Store) -> None:
    seed(store)
    snap = read_snapshot(store, now=T0)
    summary = account_summary(snap)
    assert (summary.equity, summary.cash, summary.day_pnl) == (29_900.0, 17_000.0, -100.0)
    assert summary.gross_exposure == pytest.approx(12_900 / 29_900)
    assert summary.state == "running: rsi_reversion, sma_cross"
    path = equity_path(snap)
    assert path["equity"].tolist() == [30_000.0, 29_900.0]
    assert path["gross_value"].tolist() == [0.0, 12_900.0]
    with store.unit_of_work() as uow:
        uow.strategies.halt("sma_cross", "test")
    assert account_summary(read_snapshot(store)).state == "HALTED: sma_cross"


def test_limits_against_their_use_and_the_alerts_of_the_marks(store: Store) -> None:
    seed(store)
    snap = read_snapshot(store, now=T0)
    rules = RiskRules(
        max_drawdown=0.2, daily_loss=0.003, max_gross_exposure=0.5, max_shares=15, max_orders_per_day=10, stop_loss=0.1
    )
    use = limit_use(snap, rules).set_index("rule")
    assert "stop_loss" not in use.index  # a per-position rule has no account-wide use
    assert use.loc["max_drawdown", "current"] == pytest.approx(1 - 29_900 / 30_000)
    assert use.loc["max_drawdown", "level"] == "ok"
    assert use.loc["daily_loss", "level"] == "breach"  # 0.33 % lost today against 0.3 %
    assert use.loc["max_gross_exposure", "level"] == "warning"  # 43 % of equity: from 80 % of the 50 % limit
    assert (use.loc["max_shares", "current"], use.loc["max_shares", "level"]) == (20.0, "breach")
    assert (use.loc["max_orders_per_day", "current"], use.loc["max_orders_per_day", "level"]) == (3.0, "ok")
    alerts = recent_alerts(snap, rules)
    assert sorted(zip(alerts["measure"], alerts["level"], strict=True)) == [
        ("daily_loss", "breach"),
        ("gross_exposure", "warning"),
    ]


def test_fingerprint_moves_with_every_write_and_only_then(store: Store) -> None:
    seeded = seed(store)
    first = fingerprint(store)
    read_snapshot(store)
    assert fingerprint(store) == first
    seeded.spy.move(511.0)
    seeded.spy.mark()
    marked = fingerprint(store)
    assert marked != first
    with store.unit_of_work() as uow:
        uow.strategies.update("sma_cross", enabled=False)
    switched = fingerprint(store)
    assert switched != marked
    seeded.qqq.trade("sell", 1)
    traded = fingerprint(store)
    assert traded != switched
    with store.unit_of_work() as uow:  # a cancel request, then its answer: no order changes with either
        request = uow.order_requests.add(seeded.spy.journal.run_id, seeded.working.id, requested_by="tom").id
    requested = fingerprint(store)
    assert requested != traded
    with store.unit_of_work() as uow:
        uow.order_requests.mark_handled(request, "not canceled: filled already")
    assert fingerprint(store) != requested

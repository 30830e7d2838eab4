"""Each view of the dashboard on a seeded store, without a browser: what it shows, what its controls change in the
store, what a viewer is refused, and that every open dashboard reads through one poller."""

from __future__ import annotations

import doctest
import importlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from ui_support import CHEAP, PASSWORD, T0, Seeded, add_users, seed

import workbench as wb
from workbench.auth.accounts import Accounts
from workbench.auth.service import AuthService
from workbench.provenance.saved import save_run
from workbench.risk.manager import RiskRules
from workbench.services.desk import Desk
from workbench.store import Store
from workbench.ui import poller as poller_module
from workbench.ui.actions import Controls
from workbench.ui.app import Dashboard
from workbench.ui.notebook import dashboard
from workbench.ui.poller import Poller
from workbench.ui.views.research import ResearchView

# bokeh converts each table's frame with reset_index(inplace=True), which pandas 3.1 deprecates (its code, not ours)
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.reset_index:DeprecationWarning")
RULES = RiskRules(max_drawdown=0.2, daily_loss=0.003, max_gross_exposure=0.5, max_shares=15)


@dataclass
class World:
    """A seeded store, its poller (ticked by hand), and a dashboard of a trader (with the SPY account attached)
    and of a viewer."""

    store: Store
    seeded: Seeded
    poller: Poller
    trader: Dashboard
    viewer: Dashboard
    reports: Path

    def tick(self) -> None:
        """The poller reads, every dashboard refreshes."""
        self.poller.tick()
        self.trader.refresh()
        self.viewer.refresh()

    def switches(self) -> dict[str, tuple[bool, bool]]:
        with self.store.unit_of_work(readonly=True) as uow:
            return {row.name: (row.enabled, row.halted) for row in uow.strategies.find()}


def _board(world_store: Store, poller: Poller, username: str, desk: Desk | None, reports: Path) -> Dashboard:
    auth = AuthService(world_store, CHEAP)
    controls = Controls(world_store, auth, auth.login(username, PASSWORD).access_token, desk=desk)
    return Dashboard(poller, controls, rules=RULES, reports_dir=reports, reports_url="/reports", logout_url="/logout")


@pytest.fixture
def world(tmp_path: Path) -> World:
    store = Store.open(f"sqlite:///{tmp_path / 'workbench.db'}")
    add_users(store)
    seeded = seed(store)
    reports = tmp_path / "reports"
    poller = Poller(store, period=60, health_every=3600, broker=seeded.spy.broker)  # as `serve` does with a desk
    trader = _board(store, poller, "tom", Desk(seeded.spy), reports)
    viewer = _board(store, poller, "vic", None, reports)
    built = World(store, seeded, poller, trader, viewer, reports)
    built.tick()
    yield built
    store.close()


@pytest.mark.parametrize("module", ["app", "server", "views.common", "views.research"])
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"workbench.ui.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_overview_shows_the_account_state_health_and_curves(world: World) -> None:
    stats = world.trader.overview.stats.object
    for text in ("29,900.00", "-100.00", "17,000.00", "43.1% / +43.1%", "running: rsi_reversion, sma_cross"):
        assert text in stats
    health = world.trader.overview.health.object
    assert 'data-name="database"' in health and "sqlite: SELECT 1" in health
    assert "stale: last bar 2024-07-01T14:31:00+00:00" in health  # the seeded marks are old
    assert "SimBroker answered in" in health  # the attached account's broker is asked directly
    assert world.viewer.overview.health.object == health  # one health report for every tab
    curve = world.trader.overview.curve.object
    lines = {item.label["value"]: item.renderers[0].data_source.data for item in curve.legend.items}
    assert sorted(lines) == ["rsi_reversion QQQ #2", "sma_cross SPY #1"]
    assert lines["sma_cross SPY #1"]["equity"].tolist() == [10_000.0, 10_100.0]  # bought 10 at 500, marked at 510
    assert world.trader.user_bar().object.startswith('<span id="wb-user">Logged in as tom (trader)</span>')


def test_positions_show_price_value_and_unrealized_pnl(world: World) -> None:
    table = world.trader.positions.table.value.set_index("symbol")
    assert table.loc["SPY", ["qty", "price", "market_value", "unrealized_pnl"]].tolist() == [10.0, 510.0, 5100.0, 100.0]
    assert table.loc["QQQ", "unrealized_pnl"] == -200.0
    assert table.loc["SPY", "priced_at"] == "2024-07-01 14:31:00"
    assert world.trader.positions.total.object == "**2 open positions**, unrealized P&L **-100.00**"


def test_orders_and_fills_filter_and_a_trader_cancels_a_working_order(world: World) -> None:
    view, working = world.trader.orders, world.seeded.working.id
    assert len(view.orders.value) == 3 and len(view.fills.value) == 2
    view.status.value = "open"
    assert view.orders.value["id"].tolist() == [working]
    view.status.value, view.symbol.value = "all", "QQQ"
    assert view.orders.value["symbol"].tolist() == ["QQQ"] and view.fills.value["symbol"].tolist() == ["QQQ"]
    view.symbol.value, view.strategy.value = "all", "sma_cross"
    assert set(view.orders.value["symbol"]) == {"SPY"} and len(view.fills.value) == 1
    assert not view.cancel_button.disabled and list(view.working.options.values()) == [working]
    view.working.value = working
    assert view.cancel()
    assert world.trader.feedback.message == f"order {working} canceled"
    world.tick()
    with world.store.unit_of_work(readonly=True) as uow:
        assert uow.orders.get(working).status.value == "canceled"
    assert view.cancel_button.disabled and not view.working.options
    assert world.viewer.orders.cancel_button.disabled
    assert world.viewer.orders.cancel_note.object == "Canceling orders needs the trader role."


def test_a_trader_switches_a_strategy_off_and_a_viewer_cannot(world: World) -> None:
    trader, viewer = world.trader.strategies, world.viewer.strategies
    assert not trader.switches["sma_cross"].disabled and viewer.switches["sma_cross"].disabled
    trader.switches["sma_cross"].value = False  # a click on the switch
    assert world.switches()["sma_cross"] == (False, False)
    assert world.trader.feedback.message == "sma_cross switched off"
    world.tick()
    assert viewer.switches["sma_cross"].value is False  # the other tab follows
    assert '<b style="color:#475467">off</b>' in viewer.details["sma_cross"].object
    viewer.switches["rsi_reversion"].value = False  # a forged change from a viewer's page
    assert world.switches()["rsi_reversion"] == (True, False)
    assert viewer.switches["rsi_reversion"].value is True  # put back
    feedback = world.viewer.feedback
    assert feedback.alert.alert_type == "danger"
    assert feedback.message == "vic is a viewer: strategy.disable needs the trader role"


def test_an_action_that_fails_unexpectedly_still_answers(world: World, monkeypatch) -> None:
    def down(name: str, enabled: bool) -> str:
        raise sa.exc.OperationalError("UPDATE strategies", {}, Exception("database is locked"))

    monkeypatch.setattr(world.trader.controls, "set_enabled", down)
    world.trader.strategies.switches["sma_cross"].value = False
    assert world.trader.feedback.message.startswith("the action failed: OperationalError")
    assert "database is locked" in world.trader.feedback.message
    assert world.trader.strategies.switches["sma_cross"].value is True  # put back: nothing changed


def test_strategies_show_mode_params_last_signal_and_last_run(world: World) -> None:
    details = world.trader.strategies.details["sma_cross"].object
    assert "mode <b>paper</b>" in details and "fast=5, slow=20" in details
    assert "last signal: buy 2 SPY at 2024-07-01 14:31:00" in details and "#1 live running" in details


def test_risk_shows_limits_events_alerts_and_halts_only_when_confirmed(world: World) -> None:
    view = world.trader.risk
    limits = view.limits.value.set_index("rule")
    assert limits.loc["daily_loss", "level"] == "breach" and limits.loc["max_drawdown", "level"] == "ok"
    assert set(view.events.value["rule"]) == {"max_shares", "allowed_symbols"}
    assert set(view.alerts.value["measure"]) == {"daily_loss", "gross_exposure"}
    view.reason.value = "desk test"
    view.ask()
    assert view.confirmation.visible and world.switches()["sma_cross"] == (True, False)  # asked, not done
    assert view.confirm()
    assert not view.confirmation.visible
    assert world.switches() == {"rsi_reversion": (True, True), "sma_cross": (True, True)}
    assert world.trader.feedback.message == "halted: rsi_reversion, sma_cross (desk test)"
    world.tick()
    assert "HALTED: rsi_reversion, sma_cross" in world.viewer.overview.stats.object
    assert world.viewer.risk.halt_button.disabled and world.viewer.risk.resume_button.disabled
    assert not world.viewer.risk.confirm()  # even if the confirmation were forced open
    assert world.viewer.feedback.message == "vic is a viewer: trading.halt needs the trader role"
    assert view.resume()
    assert world.switches() == {"rsi_reversion": (True, False), "sma_cross": (True, False)}


def test_runs_and_reports_list_saved_runs_and_link_the_reports(world: World) -> None:
    with world.store.unit_of_work() as uow:
        run = uow.runs.start("backtest", "sma_cross", params={"fast": 12, "slow": 80})
        uow.runs.finish(run.id, metrics={"total_return": 0.25, "sharpe": 1.1, "max_drawdown": -0.1, "trades": 7.0})
    (world.reports / "runs").mkdir(parents=True)
    (world.reports / "runs" / "sma cross.html").write_text("<html></html>")
    world.trader.runs._scanned = float("-inf")  # look at the folder now
    world.tick()
    table = world.trader.runs.runs.value.set_index("id")
    assert table.loc[run.id, ["kind", "strategy", "sharpe"]].tolist() == ["backtest", "sma_cross", 1.1]
    assert table.loc[1, "kind"] == "live"
    assert 'href="/reports/runs/sma%20cross.html"' in world.trader.runs.reports.object


def test_one_poller_reads_for_every_open_dashboard(world: World) -> None:
    boards = [world.trader, world.viewer] + [
        _board(world.store, world.poller, "tom", None, world.reports) for _ in range(5)
    ]
    statements: list[str] = []
    sa.event.listen(world.store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    def queries() -> list[str]:
        return [s for s in statements if s != "BEGIN"]  # not SQLite's explicit transaction starts

    for _ in range(3):  # nothing changes: one query a tick, whatever the number of tabs
        world.poller.tick()
        assert not any(board.refresh() for board in boards)
    assert len(queries()) == 3
    world.seeded.qqq.move(395.0)
    world.seeded.qqq.trade("sell", 5)  # a fill arrives
    statements.clear()
    world.poller.tick()
    read = len(queries())
    assert all(board.refresh() for board in boards)
    assert len(queries()) == read  # the seven dashboards refreshed without a query
    assert all(len(board.orders.fills.value) == 3 for board in boards)


def test_a_store_that_cannot_be_read_is_said_and_the_last_view_kept(world: World, monkeypatch) -> None:
    def unreachable(store: Store) -> None:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(poller_module, "fingerprint", unreachable)
    world.tick()
    assert world.trader.problem.visible and "connection refused" in world.trader.problem.object
    assert len(world.trader.positions.table.value) == 2  # what it held before


def test_research_clicks_a_heatmap_cell_and_reruns_a_saved_sweep(world: World) -> None:
    bars = wb.load("SPY", start="2015-01-01", end="2019-12-31")
    res = wb.sweep("sma_cross", bars, fast=[5, 10], slow=[50, 100], fees=0.001, progress=False)
    view = ResearchView(world.store)
    view.__panel__().get_root()  # drawn, as in a page: every later change re-renders its plots
    view.set_result(res)
    assert view.values == res.best_params()
    view.tap.event(x="10", y="100")  # the browser sends a categorical axis' value as text
    assert view.values == {"fast": 10, "slow": 100}
    assert view.feedback.message == f"ran fast=10 slow=100: {int(view.run.metrics['trades'])} trades"
    np.testing.assert_allclose(
        view.run.metrics.to_numpy(), res.metrics.loc[(10, 100)].to_numpy(), rtol=1e-12, equal_nan=True
    )
    np.testing.assert_array_equal(view.curve.object.dframe()[view.run.equity.name].to_numpy(), view.run.equity)
    assert "trades" in view.summary.object
    run_id = save_run(res, world.store)
    world.trader.__panel__().get_root()
    world.tick()
    assert run_id in world.trader.research.sweeps.options.values()
    assert world.trader.research.load(run_id) == f"sweep #{run_id} loaded: 4 parameter sets"
    assert world.trader.research.values == res.best_params()


def test_a_notebook_dashboard_acts_with_an_api_key(world: World) -> None:
    key = Accounts(world.store, CHEAP).create_key("tom", expires_in=None, actor="test").key
    board = dashboard(world.store, key=key, rules={"max_drawdown": 0.2}, reports_dir=None)
    try:
        assert board.controls.can_trade and board.controls.user.key_prefix
        board.poller.tick()
        board.refresh()
        assert set(board.strategies.switches) == {"rsi_reversion", "sma_cross"}
        assert board.strategies.toggle("rsi_reversion", False)
        assert world.switches()["rsi_reversion"] == (False, False)
        assert board.risk.limits.value["rule"].tolist() == ["max_drawdown"]
    finally:
        board.poller.stop()
    assert T0.year == 2024

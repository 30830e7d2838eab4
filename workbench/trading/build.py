"""The objects a run trades through, wired in one place for every kind of run.

`trading_core`: the checked costs, RiskManager, OrderManager and RiskMonitor of a live session (`TradingSession`
and `PortfolioSession` alike): orders risk-checked, journaled write-ahead when a journal is given, and watched by
the monitor. `simulated_account`: the SimBroker and OrderManager of a backtest (one symbol or several).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from workbench.brokers.sim import SimBroker
from workbench.engine.inputs import Costs, check_costs
from workbench.orders.manager import OrderManager
from workbench.ports import Broker, Clock
from workbench.risk.manager import RiskManager, RiskRules
from workbench.risk.monitor import RiskMonitor

if TYPE_CHECKING:
    from workbench.store.journal import OrderJournal
    from workbench.testing.clock import FrozenClock


class TradingCore(NamedTuple):
    """What `trading_core` builds; unpacks into a session's ``costs``, ``risk_manager``, ``om`` and ``monitor``."""

    costs: Costs
    risk_manager: RiskManager
    om: OrderManager
    monitor: RiskMonitor


def trading_core(
    broker: Broker,
    clock: Clock,
    rules: RiskRules,
    strategy: str,
    journal: OrderJournal | None,
    *,
    fees: float,
    slippage: float,
    fixed_fee: float,
    fill: str,
) -> TradingCore:
    """The costs checked against the account's equity (ValueError naming a bad one), a `RiskManager` of `rules`,
    an `OrderManager` placing `strategy`'s orders through it (journaled in `journal`), and a `RiskMonitor`
    of `rules` following those orders."""
    costs = check_costs(broker.account().equity, fees, slippage, fill, rules.active(), fixed_fee)
    risk_manager = RiskManager(rules)
    charges = {"fees": fees, "fixed_fee": fixed_fee, "slippage": slippage}
    om = OrderManager(broker, clock, **charges, strategy=strategy, risk=risk_manager, journal=journal)
    monitor = RiskMonitor(broker, rules)
    om.subscribe(monitor.on_event)
    return TradingCore(costs, risk_manager, om, monitor)


def journal_run(journal: OrderJournal, risk_manager: RiskManager, costs: Costs, rules: RiskRules, **extra: Any) -> None:
    """Record `risk_manager`'s decisions in `journal` from now on, and the costs and `rules` the run trades with
    (plus `extra`, such as a portfolio's weights): what the drift report re-simulates the run with."""
    risk_manager.subscribe(journal.record_risk)
    charged = {"fees": costs.fees, "slippage": costs.slippage, "fixed_fee": costs.fixed_fee}
    journal.record_costs({**charged, "fill": costs.fill, "risk": rules.active(), **extra})


def simulated_account(
    costs: Costs, clock: FrozenClock, strategy: str, risk_manager: RiskManager
) -> tuple[SimBroker, OrderManager]:
    """A backtest's account: a SimBroker on the simulated ``clock`` with ``costs``' cash, fees and slippage, and
    the OrderManager that sizes and sends ``strategy``'s orders to it through ``risk_manager``."""
    charges = {"fees": costs.fees, "fixed_fee": costs.fixed_fee, "slippage": costs.slippage}
    broker = SimBroker(clock, cash=costs.cash, **charges)
    return broker, OrderManager(broker, clock, **charges, strategy=strategy, risk=risk_manager)

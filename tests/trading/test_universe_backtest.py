"""The event-driven backtest of a universe strategy: its weights traded bar time by bar time through RiskManager ->
OrderManager -> SimBroker equal the sweep's row (every metric), the recorded run's fills and round trips, and
vectorbt's portfolio of the same fills; it saves and reruns like any backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench.engine.inputs import check_costs
from workbench.engine.universe_run import simulate_weights
from workbench.ops.rerun import rerun_run
from workbench.orders.model import OrderStatus
from workbench.store import Store
from workbench.strategies.universe import Panel

pytest_plugins = ["store_fixtures"]


@pytest.fixture(scope="module")
def etfs() -> wb.Bars:
    return wb.load(["SPY", "QQQ", "IWM", "DIA", "XLK"], start="2008-01-01", end="2015-12-31")


@pytest.fixture(scope="module")
def oil() -> wb.Bars:
    return wb.load(["XOM", "CVX"], start="2008-01-01", end="2015-12-31")


CASES = [
    ("momentum", "etfs", {"lookback": 60, "top": 2, "every": 5}),
    ("risk_parity", "etfs", {"window": 40, "every": 21}),
    ("pair_zscore", "oil", {"window": 40, "entry_z": 1.5, "exit_z": 0.5}),
]


@pytest.mark.parametrize(("name", "universe", "params"), CASES)
@pytest.mark.parametrize(
    ("fill", "costs"), [("close", {"fees": 0.001}), ("next_open", {"fees": 0.002, "slippage": 0.001})]
)
def test_the_event_driven_backtest_equals_the_sweep_and_the_kernel(name, universe, params, fill, costs, request):
    bars = request.getfixturevalue(universe)
    strategy = wb.strategy(name)(**params)
    bt = wb.backtest(strategy, bars, fill=fill, **costs)
    res = wb.sweep(name, bars, fill=fill, progress=False, **costs, **{k: [v] for k, v in params.items()})
    np.testing.assert_allclose(bt.metrics.to_numpy(), res.metrics.iloc[0].to_numpy(), rtol=1e-12, equal_nan=True)
    panel = Panel.of(dict(bars))
    run = simulate_weights(
        strategy.target_weights(bars).to_numpy(),
        panel,
        check_costs(10_000.0, costs["fees"], costs.get("slippage", 0.0), fill),
        res.periods_per_year[panel.symbols[0]],
    )
    np.testing.assert_allclose(bt.equity.to_numpy(), run.equity.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(bt.positions.to_numpy(), run.positions.to_numpy(), rtol=1e-12, atol=1e-12)
    fills = bt.fills
    assert list(fills["symbol"]) == list(run.fills["symbol"]) and len(fills) == len(run.fills) > 10
    signed = fills["qty"] * np.where(fills["side"] == "buy", 1.0, -1.0)
    np.testing.assert_allclose(signed, run.fills["size"], rtol=1e-12)
    np.testing.assert_allclose(fills["price"], run.fills["price"], rtol=1e-12)
    assert [pd.Timestamp(t) for t in fills["timestamp"]] == list(run.fills["timestamp"])
    pd.testing.assert_frame_equal(bt.trades, run.trades, rtol=1e-12)
    assert all(o.status is OrderStatus.FILLED for o in bt.order_records) and len(bt.order_records) == len(fills)
    assert bt.equity.iloc[-1] == pytest.approx(bt.to_vectorbt().value().iloc[-1], rel=1e-12)


RULES = [
    {"stop_loss": 0.04, "take_profit": 0.08},
    {"trailing_stop": 0.05, "max_drawdown": 0.12},
    {"max_exposure": 0.35, "max_gross_exposure": 0.8, "max_orders_per_day": 2},
    {"daily_loss": 0.015, "max_shares": 40.0, "max_order_value": 2500.0},
    {"allowed_symbols": ["SPY", "QQQ", "IWM"], "stop_loss": 0.03},
]


@pytest.mark.parametrize("rules", RULES, ids=[",".join(r) for r in RULES])
@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_risk_rules_act_alike_in_the_sweep_the_kernel_and_the_event_driven_backtest(etfs, rules, fill) -> None:
    params = {"lookback": 40, "top": 2, "every": 5}
    strategy = wb.strategy("momentum")(**params)
    bt = wb.backtest(strategy, etfs, fill=fill, fees=0.001, risk=rules)
    res = wb.sweep(
        "momentum", etfs, fill=fill, fees=0.001, risk=rules, progress=False, **{k: [v] for k, v in params.items()}
    )
    np.testing.assert_allclose(bt.metrics.to_numpy(), res.metrics.iloc[0].to_numpy(), rtol=1e-9, equal_nan=True)
    run = simulate_weights(
        strategy.target_weights(etfs).to_numpy(),
        Panel.of(dict(etfs)),
        check_costs(10_000.0, 0.001, 0.0, fill, rules),
        252.0,
    )
    fills = bt.fills
    assert list(fills["symbol"]) == list(run.fills["symbol"]) and len(fills) == len(run.fills) > 10
    np.testing.assert_allclose(fills["price"], run.fills["price"], rtol=1e-12)
    np.testing.assert_allclose(bt.equity.to_numpy(), run.equity.to_numpy(), rtol=1e-9)
    acted = {e.rule for e in bt.risk_events if e.decision in ("exit", "halt", "resize", "deny")}
    assert acted & set(rules), f"no rule of {rules} acted"
    unruled = wb.backtest(strategy, etfs, fill=fill, fees=0.001)
    assert len(unruled.fills) != len(fills) or not np.allclose(unruled.equity, bt.equity)


def test_a_universe_backtest_and_sweep_are_saved_and_run_again(store: Store, etfs) -> None:
    bt = wb.backtest(wb.strategy("momentum")(lookback=40, top=3, every=10), etfs, fees=0.001, leverage=1.0)
    sweep = wb.sweep("risk_parity", etfs, window=[20, 40], every=[21], fees=0.001, progress=False)
    assert rerun_run(bt.save(store), store)[1] == []
    assert rerun_run(sweep.save(store), store)[1] == []
    with store.unit_of_work(readonly=True) as uow:
        assert [len(uow.orders.find(run_id=r.id)) for r in uow.runs.find(kind="backtest")] == [len(bt.order_records)]


def test_universe_backtests_refuse_what_they_cannot_do(etfs) -> None:
    momentum = wb.strategy("momentum")()
    with pytest.raises(ValueError, match="unknown risk rule stop_los; rules: max_exposure"):
        wb.backtest(momentum, etfs, risk={"stop_los": 0.05})
    with pytest.raises(ValueError, match=r"leverage=2: a one-symbol strategy's exposure is in \[-1, 1\]"):
        wb.backtest("sma_cross", etfs["SPY"], leverage=2)
    with pytest.raises(ValueError, match="a universe strategy trades several symbols in one account; got SPY alone"):
        wb.backtest(momentum, etfs["SPY"])

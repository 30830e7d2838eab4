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


def test_a_universe_backtest_and_sweep_are_saved_and_run_again(store: Store, etfs) -> None:
    bt = wb.backtest(wb.strategy("momentum")(lookback=40, top=3, every=10), etfs, fees=0.001, leverage=1.0)
    sweep = wb.sweep("risk_parity", etfs, window=[20, 40], every=[21], fees=0.001, progress=False)
    assert rerun_run(bt.save(store), store)[1] == []
    assert rerun_run(sweep.save(store), store)[1] == []
    with store.unit_of_work(readonly=True) as uow:
        assert [len(uow.orders.find(run_id=r.id)) for r in uow.runs.find(kind="backtest")] == [len(bt.order_records)]


def test_universe_backtests_refuse_what_they_cannot_do(etfs) -> None:
    momentum = wb.strategy("momentum")()
    with pytest.raises(ValueError, match=r"risk rules for a universe strategy \(Momentum\): not supported yet"):
        wb.backtest(momentum, etfs, risk={"stop_loss": 0.05})
    with pytest.raises(ValueError, match=r"leverage=2: a one-symbol strategy's exposure is in \[-1, 1\]"):
        wb.backtest("sma_cross", etfs["SPY"], leverage=2)
    with pytest.raises(ValueError, match="a universe strategy trades several symbols in one account; got SPY alone"):
        wb.backtest(momentum, etfs["SPY"])

"""The event-driven backtest (OrderManager -> SimBroker) equals the sweep: same trades, fill prices, equity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench.data import SampleSource
from workbench.engine.inputs import check_costs
from workbench.engine.single import simulate

SYMBOLS = ["SPY", "AAPL", "XOM", "META"]
STRATEGIES = ["sma_cross", "rsi_reversion", "donchian_breakout", "zscore_reversion"]
N_SETS = 20


def random_params(name: str, rng: np.random.Generator) -> list[dict]:
    """N_SETS random parameter sets from the strategy's default sweep grid (constraints respected)."""
    cls = wb.strategy(name)
    out = []
    while len(out) < N_SETS:
        values = {k: rng.choice(np.asarray(list(v))).item() for k, v in cls.sweep_ranges.items()}
        if not cls.failed_constraints(pd.DataFrame([values])):
            out.append(values)
    return out


@pytest.mark.parametrize("fill", ["close", "next_open"])
@pytest.mark.parametrize("name", STRATEGIES)
def test_backtest_equals_sweep_on_every_bundled_symbol(name: str, fill: str) -> None:
    """Every bundled daily symbol, 5 random parameter sets each (190 per strategy and fill model)."""
    rng = np.random.default_rng(len(name) + len(fill))
    costs = dict(cash=10_000.0, fees=0.001, slippage=0.0002, fill=fill)
    for symbol in SampleSource().symbols():
        if symbol == "SPY_1min":
            continue
        bars = wb.load(symbol)
        sets = random_params(name, rng)[:5]
        wanted = {tuple(p.values()) for p in sets}
        sweep = wb.sweep(
            name,
            bars,
            progress=False,
            **costs,
            constraint=lambda g, wanted=wanted: [tuple(r) in wanted for r in g.itertuples(index=False)],
            **{k: sorted({p[k] for p in sets}) for k in sets[0]},
        ).metrics
        for params in sets:
            bt = wb.backtest(wb.strategy(name)(**params), bars, **costs)
            row = sweep.loc[tuple(params.values()) if len(params) > 1 else next(iter(params.values()))]
            assert int(bt.metrics["trades"]) == int(row["trades"]), (symbol, params)
            np.testing.assert_allclose(bt.metrics.to_numpy(), row.to_numpy(), rtol=1e-9, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("fill", ["close", "next_open"])
@pytest.mark.parametrize("name", STRATEGIES)
def test_backtest_fills_equal_the_kernel_trade_records(name: str, fill: str) -> None:
    rng = np.random.default_rng(3 + len(name))
    costs = dict(cash=10_000.0, fees=0.001, slippage=0.0002, fill=fill)
    for symbol in SYMBOLS:
        bars = wb.load(symbol, start="2008-01-01")
        params = random_params(name, rng)[0]
        strategy = wb.strategy(name)(**params)
        bt = wb.backtest(strategy, bars, **costs)
        run = simulate(strategy, bars, check_costs(**costs), 252.0)
        np.testing.assert_allclose(bt.trades["entry_price"], run.trades["entry_price"], rtol=1e-12)
        np.testing.assert_allclose(bt.trades["exit_price"].fillna(0), run.trades["exit_price"].fillna(0), rtol=1e-12)
        np.testing.assert_allclose(bt.trades["pnl"], run.trades["pnl"], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(bt.equity.to_numpy(), run.equity.to_numpy(), rtol=1e-12)


def test_orders_fills_and_events_are_recorded() -> None:
    bars = wb.load("SPY", start="2015-01-01", end="2019-12-31")
    bt = wb.backtest(wb.strategy("sma_cross")(fast=10, slow=50), bars, fees=0.001, fill="close")
    assert len(bt.orders) == len(bt.fills) > 0
    assert set(bt.orders["status"]) == {"filled"} and set(bt.orders["type"]) == {"market"}
    assert bt.orders["strategy"].eq("sma_cross").all()
    kinds = [e.kind.value for e in bt.events]
    assert kinds.count("accepted") == len(bt.orders) and kinds.count("fill") == len(bt.fills)
    # fills alternate buy/sell for a long-only strategy, and fees are fees x traded value
    assert list(bt.fills["side"]) == ["buy", "sell"] * (len(bt.fills) // 2) + ["buy"] * (len(bt.fills) % 2)
    np.testing.assert_allclose(bt.fills["fee"], bt.fills["qty"] * bt.fills["price"] * 0.001, rtol=1e-12)
    assert repr(bt).startswith("BacktestResult(SmaCross(fast=10, slow=50) on SPY:")


def test_backtest_bad_input_is_refused_before_running() -> None:
    bars = wb.load("SPY", start="2020-01-01")
    with pytest.raises(ValueError, match=r"fees=-0\.1"):
        wb.backtest("sma_cross", bars, fees=-0.1)
    with pytest.raises(ValueError, match="fill='noon'"):
        wb.backtest("sma_cross", bars, fill="noon")
    with pytest.raises(ValueError, match=r"stop_loss=1\.5: must be a fraction in \(0, 1\]"):
        wb.backtest("sma_cross", wb.load(["SPY", "QQQ"], start="2020-01-01"), risk={"stop_loss": 1.5})


RULE_SETS = [
    {"stop_loss": 0.03},
    {"take_profit": 0.08, "trailing_stop": 0.04},
    {"max_exposure": 0.6, "stop_loss": 0.05},
    {"max_drawdown": 0.15},
    {"max_exposure": 0.8, "stop_loss": 0.04, "take_profit": 0.2, "trailing_stop": 0.06, "max_drawdown": 0.3},
]


@pytest.mark.parametrize("fill", ["close", "next_open"])
@pytest.mark.parametrize("name", STRATEGIES)
def test_backtest_equals_sweep_with_risk_rules(name: str, fill: str) -> None:
    """The same rule kernels decide in the sweep's loop and in the backtest's RiskManager path."""
    rng = np.random.default_rng(7 + len(name))
    bars = wb.load("QQQ", start="2006-01-01")
    for rules, params in zip(RULE_SETS, random_params(name, rng), strict=False):
        costs = dict(cash=10_000.0, fees=0.001, slippage=0.0002, fill=fill)
        bt = wb.backtest(wb.strategy(name)(**params), bars, risk=rules, **costs)
        row = wb.sweep(name, bars, progress=False, risk=rules, **costs, **{k: [v] for k, v in params.items()})
        np.testing.assert_allclose(
            bt.metrics.to_numpy(), row.metrics.iloc[0].to_numpy(), rtol=1e-9, atol=1e-12, equal_nan=True
        )


def test_risk_events_name_the_rule_and_the_numbers() -> None:
    bars = wb.load("SPY", start="2007-01-01", end="2009-12-31")
    bt = wb.backtest(
        wb.strategy("sma_cross")(fast=5, slow=20),
        bars,
        fill="close",
        risk={"max_exposure": 0.5, "stop_loss": 0.02, "max_drawdown": 0.1},
    )
    decisions = {e.decision for e in bt.risk_events}
    assert decisions == {"approve", "resize", "exit", "halt"}
    resize = next(e for e in bt.risk_events if e.decision == "resize")
    assert resize.rule == "max_exposure" and resize.details == {"wanted": 1.0, "allowed": 0.5, "limit": 0.5}
    exit_ = next(e for e in bt.risk_events if e.decision == "exit")
    assert exit_.rule == "stop_loss" and exit_.details["limit"] == 0.02 and exit_.details["position"] > 0
    halt = [e for e in bt.risk_events if e.decision == "halt"]
    assert len(halt) == 1 and halt[0].rule == "max_drawdown"
    # after the halt nothing trades
    assert bt.position[bt.position.index > pd.Timestamp(halt[0].timestamp)].eq(0).all()
    assert (bt.equity / bt.equity.cummax() - 1).min() > -0.1 - 0.05  # flattened soon after the breach


@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_size_caps_act_identically(fill: str) -> None:
    bars = wb.load("AAPL", start="2010-01-01")
    for rules in ({"max_shares": 40.0}, {"max_order_value": 3_000.0}, {"max_shares": 25.0, "max_order_value": 2_000.0}):
        for name, params in (("sma_cross", {"fast": 10, "slow": 60}), ("zscore_reversion", {})):
            costs = dict(cash=10_000.0, fees=0.001, fill=fill)
            bt = wb.backtest(wb.strategy(name)(**params), bars, risk=rules, **costs)
            values = params or wb.strategy(name)().values
            row = wb.sweep(name, bars, progress=False, risk=rules, **costs, **{k: [v] for k, v in values.items()})
            np.testing.assert_allclose(
                bt.metrics.to_numpy(), row.metrics.iloc[0].to_numpy(), rtol=1e-9, atol=1e-12, equal_nan=True
            )
            held = bt.position.abs().max()
            if "max_shares" in rules:
                assert held <= rules["max_shares"] * (1 + 1e-12)
            if "max_order_value" in rules and name == "sma_cross":  # its buys open; exits are never capped
                buys = bt.fills[bt.fills["side"] == "buy"]
                assert (buys["qty"] * buys["price"]).max() <= rules["max_order_value"] * (1 + 1e-9)
            resizes = [e for e in bt.risk_events if e.decision == "resize"]
            assert resizes and {e.rule for e in resizes} <= set(rules)


@pytest.mark.parametrize("fill", ["close", "next_open"])
@pytest.mark.parametrize("name", ["sma_cross", "zscore_reversion"])
def test_daily_rules_act_identically_on_intraday_bars(name: str, fill: str) -> None:
    bars = wb.load("SPY_1min")
    params = {"fast": 5, "slow": 30} if name == "sma_cross" else {"window": 30, "entry_z": 2.0, "exit_z": 0.5}
    costs = dict(cash=10_000.0, fees=0.0002, fill=fill)
    for rules in (
        {"daily_loss": 0.004},
        {"max_orders_per_day": 6},
        {"daily_loss": 0.003, "max_orders_per_day": 10, "stop_loss": 0.002},
    ):
        bt = wb.backtest(wb.strategy(name)(**params), bars, risk=rules, **costs)
        row = wb.sweep(name, bars, progress=False, risk=rules, **costs, **{k: [v] for k, v in params.items()})
        np.testing.assert_allclose(
            bt.metrics.to_numpy(), row.metrics.iloc[0].to_numpy(), rtol=1e-9, atol=1e-12, equal_nan=True
        )
        decisions = {e.decision for e in bt.risk_events}
        if "max_orders_per_day" in rules:
            assert "deny" in decisions
        if "daily_loss" in rules:
            assert any(e.rule == "daily_loss" for e in bt.risk_events)


@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_fixed_fee_acts_identically(fill: str) -> None:
    bars = wb.load("JPM", start="2010-01-01")
    for name in STRATEGIES:
        costs = dict(cash=10_000.0, fees=0.0005, fixed_fee=1.5, fill=fill)
        bt = wb.backtest(wb.strategy(name)(), bars, **costs)
        row = wb.sweep(name, bars, progress=False, **costs, **{k: [v] for k, v in wb.strategy(name)().values.items()})
        np.testing.assert_allclose(
            bt.metrics.to_numpy(), row.metrics.iloc[0].to_numpy(), rtol=1e-9, atol=1e-12, equal_nan=True
        )
        np.testing.assert_allclose(bt.fills["fee"], bt.fills["qty"] * bt.fills["price"] * 0.0005 + 1.5, rtol=1e-12)

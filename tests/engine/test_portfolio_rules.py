"""The risk rules of the N-symbol account (``engine.portfolio_rules`` in ``engine.weights_kernel``).

On one symbol, weights given where a one-symbol strategy's exposure changes are that strategy: the account then
equals the one-symbol kernel (``simulate.run_nb``, itself pinned to vectorbt) under every rule - without costs in
either sizing, and with fees, slippage and a fixed fee when the orders are sized after fees (``AFTER_FEES``, the
one-symbol kernel's sizing). Over
several symbols each rule is checked on a case computed by hand: a stop closes one position and leaves the others,
the drawdown switch flattens all of them, the exposure limits scale a row, the order count is the account's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench.engine.inputs import check_costs
from workbench.engine.portfolio import AFTER_FEES, TARGET_PERCENT
from workbench.engine.sessions import CLOSED
from workbench.engine.single import simulate_exposure
from workbench.engine.universe_run import simulate_weights
from workbench.strategies.universe import Panel

SPY = wb.load("SPY", start="2015-01-01", end="2020-12-31")
RULES = [
    {},
    {"stop_loss": 0.03},
    {"take_profit": 0.04},
    {"trailing_stop": 0.03},
    {"max_drawdown": 0.08},
    {"daily_loss": 0.015},
    {"max_orders_per_day": 1},
    {"max_shares": 15.0},
    {"max_order_value": 4000.0},
    {"max_exposure": 0.5},
    {"max_gross_exposure": 0.7, "stop_loss": 0.02, "take_profit": 0.05},
]


def changes(exposure: np.ndarray, seen: np.ndarray | None = None) -> np.ndarray:
    """The exposure as weights: its value where it changes (NaN keeps the previous one), NaN elsewhere; with ``seen``,
    only at the bars where a one-symbol run looks at it (its orders can fill)."""
    out, last = np.full(len(exposure), np.nan), 0.0
    for t, e in enumerate(exposure):
        if e == e and e != last and (seen is None or seen[t]):
            out[t] = last = e
    return out


SIZINGS = {
    "target_percent, no costs": (TARGET_PERCENT, (0.0, 0.0, 0.0)),
    "after fees": (AFTER_FEES, (0.001, 0.0005, 1.0)),
}


@pytest.mark.parametrize("sizing", list(SIZINGS))
@pytest.mark.parametrize("fill", ["close", "next_open"])
@pytest.mark.parametrize("strategy", ["sma_cross", "zscore_reversion"])
@pytest.mark.parametrize("rules", RULES, ids=[",".join(r) or "none" for r in RULES])
def test_one_symbols_account_equals_the_one_symbol_kernel_under_every_rule(rules, strategy, fill, sizing) -> None:
    mode, (fees, slippage, fixed_fee) = SIZINGS[sizing]
    costs = check_costs(10_000.0, fees, slippage, fill, rules, fixed_fee)
    exposure = wb.strategy(strategy)().exposure(SPY).to_numpy()
    single = simulate_exposure(exposure, SPY, costs, 252.0)
    account = simulate_weights(changes(exposure)[:, None], Panel.of({"SPY": SPY}), costs, 252.0, sizing=mode)
    np.testing.assert_allclose(account.equity.to_numpy(), single.equity.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(account.positions["SPY"].to_numpy(), single.position.to_numpy(), rtol=1e-9, atol=1e-9)
    assert len(account.fills) >= 4  # the rule acts on a run that trades
    assert int(account.metrics["trades"]) == int(single.metrics["trades"])
    np.testing.assert_allclose(account.metrics.to_numpy(), single.metrics.to_numpy(), rtol=1e-9, equal_nan=True)


@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_trading_hours_and_the_daily_rules_on_minute_bars_equal_the_one_symbol_kernel(fill) -> None:
    bars = wb.load("SPY_1min", end="2011-02-01")
    rules = {"trading_hours": "10:00-15:30", "daily_loss": 0.003, "stop_loss": 0.001, "max_orders_per_day": 8}
    costs = check_costs(10_000.0, 0.0, 0.0, fill, rules)
    exposure = wb.strategy("sma_cross")(fast=5, slow=30).exposure(bars).to_numpy()
    single = simulate_exposure(exposure, bars, costs, 98_000.0, symbol="SPY")
    open_ = costs.sessions(bars.index, "SPY") != CLOSED
    seen = open_ if fill == "close" else np.append(open_[1:], False)  # a one-symbol run looks where it can trade
    account = simulate_weights(changes(exposure, seen)[:, None], Panel.of({"SPY": bars}), costs, 98_000.0)
    np.testing.assert_allclose(account.equity.to_numpy(), single.equity.to_numpy(), rtol=1e-9)
    assert len(account.fills) == int((np.diff(single.position.to_numpy(), prepend=0.0) != 0).sum()) > 20


def panel(closes: dict[str, list[float]]) -> Panel:
    """Daily bars whose open equals the close, one column per symbol."""
    index = pd.date_range("2024-01-01", periods=len(next(iter(closes.values()))), freq="D", tz="UTC")
    frames = {}
    for symbol, values in closes.items():
        price = np.array(values, dtype=float)
        frame = pd.DataFrame(
            {"open": price, "high": price, "low": price, "close": price, "volume": 1e6}, index=index
        ).rename_axis("timestamp")
        frames[symbol] = wb.validate_bars(frame, symbol=symbol)
    return Panel.of(frames)


def run(prices: dict[str, list[float]], weights: list[list[float]], leverage: float = 1.0, **rules):
    costs = check_costs(1_000.0, 0.0, 0.0, "close", rules)
    return simulate_weights(np.array(weights, dtype=float), panel(prices), costs, 252.0, leverage=leverage)


N = np.nan


def test_a_stop_closes_one_position_and_leaves_the_others() -> None:
    # both bought at 100 with half the account each; A falls 10 % on bar 2, B rises
    account = run(
        {"A": [100, 100, 90, 95, 95], "B": [100, 100, 105, 110, 110]},
        [[0.5, 0.5], [N, N], [N, N], [0.5, 0.5], [N, N]],
        stop_loss=0.05,
    )
    assert account.positions["A"].tolist() == [5.0, 5.0, 0.0, 0.0, 0.0]  # out at bar 2's close, 90
    assert account.positions["B"].tolist()[:3] == [5.0, 5.0, 5.0]  # held through A's stop
    # bar 3 repeats the weight A was stopped out of: no re-entry; B goes back to half of 5 * 90 + 5 * 110
    assert account.positions["B"].iloc[3] == pytest.approx(500.0 / 110)
    assert account.equity.iloc[-1] == pytest.approx(1000.0)
    again = run(
        {"A": [100, 100, 90, 95, 95], "B": [100, 100, 105, 110, 110]},
        [[0.5, 0.5], [N, N], [N, N], [0.4, N], [N, N]],
        stop_loss=0.05,
    )
    cash_at_3 = 5 * 90.0
    assert again.positions["A"].iloc[3] == pytest.approx(0.4 * (cash_at_3 + 5 * 110) / 95)  # a new weight: back in


def test_the_drawdown_switch_flattens_every_position_and_halts() -> None:
    account = run(
        {"A": [100, 100, 80, 90, 100], "B": [100, 100, 90, 95, 100]},
        [[0.5, 0.5], [N, N], [N, N], [0.5, 0.5], [0.3, 0.3]],
        max_drawdown=0.10,
    )
    # bar 2: equity 5*80 + 5*90 = 850, 15 % below the peak of 1,000: everything sold at that close, for good
    assert account.positions.iloc[2].tolist() == [0.0, 0.0]
    assert account.positions.iloc[3:].abs().to_numpy().sum() == 0.0
    assert account.equity.iloc[-1] == pytest.approx(850.0)


def test_exposure_limits_scale_the_row_together() -> None:
    prices, weights = {"A": [100, 100], "B": [50, 50]}, [[0.8, 0.6], [N, N]]
    account = run(prices, weights, leverage=1.4, max_exposure=0.7, max_gross_exposure=1.0)
    # clamped to (0.7, 0.6), gross 1.3 scaled to 1.0: (0.7/1.3, 0.6/1.3) of 1,000
    assert account.positions.iloc[0].tolist() == pytest.approx([1000 * 0.7 / 1.3 / 100, 1000 * 0.6 / 1.3 / 50])


def test_the_order_count_is_the_accounts() -> None:
    account = run({"A": [100, 100, 100], "B": [100, 100, 100]}, [[0.5, 0.5], [N, N], [0.2, 0.2]], max_orders_per_day=1)
    # one order a day (daily bars): bar 0 buys A only, B's is refused; bar 2's cut of A goes, B's is refused again
    assert account.positions["A"].tolist() == pytest.approx([5.0, 5.0, 2.0])
    assert account.positions["B"].tolist() == [0.0, 0.0, 0.0]


def test_weights_of_a_symbol_not_allowed_are_dropped() -> None:
    account = run({"A": [100, 100], "B": [100, 100]}, [[0.5, 0.5], [N, N]], allowed_symbols=["A"])
    assert account.positions.iloc[-1].tolist() == [5.0, 0.0]


def gappy_panel(closes: dict[str, list[float]], freq: str = "D") -> Panel:
    """Bars whose open equals the close; a NaN close is a bar the symbol does not have."""
    index = pd.date_range("2024-01-01", periods=len(next(iter(closes.values()))), freq=freq, tz="UTC")
    frames = {}
    for symbol, values in closes.items():
        price = pd.Series(values, index=index, dtype=float).dropna()
        frame = pd.DataFrame(
            {"open": price, "high": price, "low": price, "close": price, "volume": 1e6}, index=price.index
        ).rename_axis("timestamp")
        frames[symbol] = wb.validate_bars(frame, symbol=symbol)
    return Panel.of(frames)


def test_the_drawdown_switch_sells_a_symbol_without_a_bar_at_its_next_bar() -> None:
    # bar 2: A falls to 80 (equity 5*80 + 5*100 = 900, 10 % down); B has no bar there: A is sold at that close, B at
    # its next bar's close, 90 (its exit waits for a fill instead of being lost)
    costs = check_costs(1_000.0, 0.0, 0.0, "close", {"max_drawdown": 0.05})
    weights = np.array([[0.5, 0.5], [N, N], [N, N], [N, N], [N, N]])
    account = simulate_weights(
        weights, gappy_panel({"A": [100, 100, 80, 80, 80], "B": [100, 100, N, 90, 90]}), costs, 252.0
    )
    assert account.positions["A"].tolist() == [5.0, 5.0, 0.0, 0.0, 0.0]
    assert account.positions["B"].tolist() == [5.0, 5.0, 5.0, 0.0, 0.0]
    assert account.equity.iloc[-1] == pytest.approx(5 * 80 + 5 * 90)


def test_a_weight_held_by_a_daily_halt_waits_for_its_symbols_next_bar() -> None:
    # four bars a day: bar 1 loses 20 % (daily_loss 10 %), so the account is flat and halted for the day; bar 2's
    # weights are held to the next day (bar 4), where B has no bar: A's is traded there, B's waits for B's next bar
    costs = check_costs(1_000.0, 0.0, 0.0, "close", {"daily_loss": 0.1})
    weights = np.array([[0.5, 0.5], [N, N], [0.3, 0.3], [N, N], [N, N], [N, N]])
    prices = {"A": [100, 80, 80, 80, 80, 80], "B": [100, 80, 80, 80, N, 80]}
    account = simulate_weights(weights, gappy_panel(prices, freq="6h"), costs, 252.0)
    size = 0.3 * (5 * 80 + 5 * 80.0) / 80
    assert account.positions["A"].tolist() == pytest.approx([5.0, 0.0, 0.0, 0.0, size, size])
    assert account.positions["B"].tolist() == pytest.approx([5.0, 0.0, 0.0, 0.0, 0.0, size])

"""The N-symbol step (engine.portfolio) against vectorbt's Portfolio.from_orders(size_type="targetpercent",
group_by=True, cash_sharing=True, call_seq="auto"): equity bar by bar, every fill, round trips and metrics, with
fees, fixed fees, slippage, shorts, missing bars and both fill models; and the exact error of a bad weight."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import vectorbt as vbt

import workbench as wb
from workbench.engine.inputs import check_costs
from workbench.engine.universe_run import simulate_weights
from workbench.strategies.universe import Panel

CASH = 10_000.0
SYMBOLS = ["SPY", "QQQ", "IWM", "DIA", "META"]  # META starts in 2012: missing bars before


@pytest.fixture(scope="module")
def panel() -> Panel:
    return Panel.of(wb.load(SYMBOLS, start="2010-01-01", end="2016-12-31"))


def random_weights(panel: Panel, seed: int, every: int = 5, shorts: bool = True) -> np.ndarray:
    """Rebalances every ``every`` bars to random weights of gross exposure at most 1 (NaN rows between), NaN where
    a symbol cannot trade at the fill (no close at the bar, or no open at the next)."""
    rng = np.random.default_rng(seed)
    o, c = panel.arrays[0], panel.arrays[3]
    n, m = c.shape
    weights = np.full((n, m), np.nan)
    for t in range(0, n, every):
        w = rng.uniform(-0.4 if shorts else 0.0, 1.0, m)
        weights[t] = w / np.abs(w).sum() * rng.uniform(0.3, 1.0)
    weights[np.isnan(c)] = np.nan
    weights[:-1][np.isnan(o[1:])] = np.nan
    return weights


def vectorbt_run(panel: Panel, weights: np.ndarray, fill: str, **costs: float) -> vbt.Portfolio:
    """The oracle: next-open fills are vectorbt's orders of the weights one bar later at the open."""
    close = pd.DataFrame(panel.arrays[3], index=panel.index, columns=panel.symbols)
    options = dict(size_type="targetpercent", group_by=True, cash_sharing=True, call_seq="auto", init_cash=CASH)
    if fill == "close":
        return vbt.Portfolio.from_orders(close, size=weights, **options, **costs, freq="1D")
    shifted = np.vstack([np.full((1, weights.shape[1]), np.nan), weights[:-1]])
    opens = pd.DataFrame(panel.arrays[0], index=panel.index, columns=panel.symbols)
    return vbt.Portfolio.from_orders(close, size=shifted, price=opens, **options, **costs, freq="1D")


@pytest.mark.parametrize(
    ("fill", "costs", "seed"),
    [
        ("close", {"fees": 0.001}, 0),
        ("close", {"fees": 0.0}, 1),
        ("close", {"fees": 0.002, "slippage": 0.001}, 2),
        ("close", {"fees": 0.001, "fixed_fees": 1.0}, 3),
        ("next_open", {"fees": 0.001}, 4),
        ("next_open", {"fees": 0.001, "slippage": 0.0005, "fixed_fees": 0.5}, 5),
    ],
)
def test_a_weights_run_equals_vectorbt_targetpercent_with_cash_sharing(panel, fill, costs, seed) -> None:
    weights = random_weights(panel, seed)
    ours = simulate_weights(
        weights,
        panel,
        check_costs(CASH, costs.get("fees", 0.0), costs.get("slippage", 0.0), fill, None, costs.get("fixed_fees", 0.0)),
        365.0,
    )
    pf = vectorbt_run(panel, weights, fill, **costs)
    np.testing.assert_allclose(ours.equity.to_numpy(), pf.value().to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(ours.cash.to_numpy(), pf.cash().to_numpy(), rtol=1e-9, atol=1e-6)
    orders = pf.orders.records_readable
    assert len(ours.fills) == len(orders) > 100
    np.testing.assert_allclose(ours.fills["price"], orders["Price"], rtol=1e-12)
    np.testing.assert_allclose(np.abs(ours.fills["size"]), orders["Size"], rtol=1e-9)
    np.testing.assert_allclose(ours.fills["fee"], orders["Fees"], rtol=1e-9, atol=1e-9)
    assert list(ours.fills["symbol"]) == list(orders["Column"])
    m = ours.metrics
    assert m["total_return"] == pytest.approx(pf.total_return(), rel=1e-9)
    assert m["max_drawdown"] == pytest.approx(pf.max_drawdown(), rel=1e-9)
    assert m["sharpe"] == pytest.approx(pf.sharpe_ratio(), rel=1e-9)  # both annualized by 365 periods
    assert m["trades"] == pf.positions.count() == len(ours.trades)
    assert m["win_rate"] == pytest.approx(pf.positions.win_rate(), rel=1e-12)
    np.testing.assert_allclose(
        np.sort(ours.trades["pnl"].to_numpy()), np.sort(pf.positions.records_readable["PnL"].to_numpy()), rtol=1e-8
    )


def test_sells_run_before_buys_so_a_rotation_is_fully_invested(panel) -> None:
    """All in SPY, then all in QQQ: the sale of SPY pays for QQQ at the same bar (the buy is not cut for cash)."""
    n, m = panel.shape
    weights = np.full((n, m), np.nan)
    weights[100, :4] = [1.0, 0.0, 0.0, 0.0]
    weights[200, :4] = [0.0, 1.0, 0.0, 0.0]
    run = simulate_weights(weights, panel, check_costs(CASH, 0.0, 0.0, "close"), 252.0)
    fills = run.fills
    assert list(fills["symbol"]) == ["SPY", "SPY", "QQQ"] and list(fills["bar"]) == [100, 200, 200]
    assert run.positions.iloc[200, 0] == 0.0
    value = run.equity.iloc[199] / panel.arrays[3][199, 0] * panel.arrays[3][200, 0]  # SPY's value at bar 200
    assert run.positions.iloc[200, 1] * panel.arrays[3][200, 1] == pytest.approx(value, rel=1e-12)
    assert run.cash.iloc[200] == 0.0


def test_a_buy_cash_cannot_cover_is_cut_to_what_it_covers(panel) -> None:
    n, m = panel.shape
    weights = np.full((n, m), np.nan)
    weights[50, 0] = 1.0  # all in: the fees leave the cash short of the full order
    run = simulate_weights(weights, panel, check_costs(CASH, 0.01, 0.0, "close"), 252.0)
    [fill] = run.fills.itertuples()
    assert fill.size == pytest.approx(CASH / 1.01 / panel.arrays[3][50, 0], rel=1e-12)
    assert fill.fee == pytest.approx(CASH - CASH / 1.01, rel=1e-12) and run.cash.iloc[50] == 0.0


def test_a_weight_without_a_price_is_refused_naming_the_bar_and_symbol(panel) -> None:
    weights = np.full(panel.shape, np.nan)
    weights[10, 4] = 0.2  # META has no bar in 2010
    with pytest.raises(
        ValueError,
        match=r"the weights at 2010-01-19 00:00:00\+00:00 ask to trade META, which has no price at 2010-01-19",
    ):
        simulate_weights(weights, panel, check_costs(CASH, 0.0, 0.0, "close"), 252.0)


def test_weights_beyond_the_leverage_are_refused_naming_the_bar_and_symbols(panel) -> None:
    weights = np.full(panel.shape, np.nan)
    weights[20, :3] = [0.6, 0.5, -0.2]
    costs = check_costs(CASH, 0.0, 0.0, "next_open")
    message = r"the weights at 2010-02-02 .* hold 1.3 of equity in \{'SPY': 0.6, 'QQQ': 0.5, 'IWM': -0.2\}: more"
    with pytest.raises(ValueError, match=message):
        simulate_weights(weights, panel, costs, 252.0)
    allowed = simulate_weights(weights, panel, costs, 252.0, leverage=1.5)
    assert allowed.fills["symbol"].tolist() == ["IWM", "QQQ", "SPY"]  # the short sale first, the largest buy last

"""Backtests on the N-symbol core: on one symbol it is the one-symbol kernel (``engine.simulate.run_nb``, its own
loop) under every rule and cost; on several, one account at target weights; without costs, vectorbt's
``from_orders`` of the weights the exposures make (``trading.exposure_weights``)."""

from __future__ import annotations

import numpy as np
import pytest

import workbench as wb
from workbench.engine.inputs import check_costs
from workbench.engine.single import simulate
from workbench.risk.manager import RiskRules
from workbench.strategies.universe import Panel
from workbench.trading.exposure_weights import ExposureWeights
from workbench.trading.result import BacktestResult
from workbench.trading.universe import run_exposures


@pytest.fixture(scope="module")
def bars():
    return wb.load(["SPY", "QQQ", "META"], start="2010-01-01")


def _core(strategy, bars, fill: str, rules: dict | None = None, fees=0.001, slippage=0.0, fixed_fee=0.0, ppy=252.0):
    """The N-symbol core's event-driven backtest of a one-symbol strategy on one symbol at weight 1, called directly
    (``wb.backtest`` of one symbol runs it so)."""
    costs = check_costs(10_000.0, fees, slippage, fill, rules, fixed_fee)
    frames = {"SPY": bars}
    pieces = run_exposures(strategy, frames, {"SPY": 1.0}, costs, ppy, RiskRules.from_mapping(rules))
    return BacktestResult(strategy=strategy, frames=frames, settings={"costs": {"cash": 10_000.0}}, **pieces)


def _assert_is_the_kernel(bt: BacktestResult, run) -> None:
    """A one-symbol backtest on the core equals the one-symbol kernel's run: equity, position, trades, metrics."""
    np.testing.assert_allclose(bt.equity.to_numpy(), run.equity.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(bt.position.to_numpy(), run.position.to_numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bt.metrics.to_numpy(), run.metrics.to_numpy(), rtol=1e-9, atol=1e-12, equal_nan=True)
    columns = ["entry_bar", "exit_bar", "direction", "size", "entry_price", "exit_price", "fees", "pnl", "return"]
    np.testing.assert_allclose(bt.trades[columns].to_numpy(float), run.trades[columns].to_numpy(float), rtol=1e-9)


@pytest.mark.parametrize("fill", ["close", "next_open"])
@pytest.mark.parametrize("fixed_fee", [0.0, 1.0])
def test_one_symbol_on_the_core_equals_the_one_symbol_kernel(fill: str, fixed_fee: float) -> None:
    """Long and short (zscore_reversion), costs: the core called directly and ``wb.backtest`` of one symbol alike."""
    spy = wb.load("SPY", start="2010-01-01")
    strategy = wb.strategy("zscore_reversion")()
    costs = check_costs(10_000.0, 0.001, 0.0005, fill, None, fixed_fee)
    run = simulate(strategy, spy, costs, 252)
    _assert_is_the_kernel(_core(strategy, spy, fill, None, 0.001, 0.0005, fixed_fee), run)
    bt = wb.backtest(strategy, spy, fees=0.001, slippage=0.0005, fill=fill, fixed_fee=fixed_fee)
    assert isinstance(bt, BacktestResult) and bt.symbols == ["SPY"] and bt.weights is None
    _assert_is_the_kernel(bt, run)
    assert bt["spy"].trades.equals(bt.trades) and (bt["SPY"].position == bt.position).all()


def test_a_short_the_cash_cannot_cover_is_covered_whole_as_the_one_symbol_kernel_covers_it() -> None:
    """A short that lost more than the account (equity below zero, AAPL 2005): the core covers it in full, as the
    one-symbol kernel (and a broker) does, instead of cutting the buy to the cash."""
    aapl = wb.load("AAPL", end="2006-12-31")
    strategy = wb.strategy("zscore_reversion")(window=70, entry_z=2.5, exit_z=0.25)
    run = simulate(strategy, aapl, check_costs(10_000.0, 0.001, 0.0002, "close"), 252)
    assert run.equity.min() < 0.0
    _assert_is_the_kernel(_core(strategy, aapl, "close", None, 0.001, 0.0002), run)


@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_portfolio_accounting(bars, fill: str) -> None:
    res = wb.backtest(wb.strategy("sma_cross")(fast=10, slow=50), bars, fees=0.001, fill=fill)
    assert isinstance(res, BacktestResult) and res.weights == pytest.approx({"SPY": 1 / 3, "QQQ": 1 / 3, "META": 1 / 3})
    closes = bars.close.reindex(res.equity.index).ffill().fillna(0.0)
    cash = res.equity - (res.positions * closes).sum(axis=1)
    assert (cash > -1e-6).all(), "long-only weights summing to 1 never borrow"
    assert (res.positions >= 0).all().all()
    assert res.positions.loc[res.positions.index < "2012-05-18", "META"].eq(0).all()  # META lists in 2012
    # every trade's P&L (the open ones marked at the last close) adds up to the total gain
    assert res.trades["pnl"].sum() == pytest.approx(res.equity.iloc[-1] - 10_000.0, rel=1e-9)
    # right after each buy the symbol holds about its weight of equity
    fills = res.fills[res.fills["side"] == "buy"]
    for fill_row in fills.head(20).itertuples():
        ts = fill_row.timestamp
        value = res.positions.at[ts, fill_row.symbol] * fill_row.price
        assert value / res.equity.at[ts] == pytest.approx(1 / 3, abs=0.05)


@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_without_costs_a_portfolio_is_vectorbts_target_percent_orders_of_its_weights(bars, fill: str) -> None:
    """Each symbol at ``weight x exposure``, rebalanced when a target moves: vectorbt's ``from_orders``
    (targetpercent, one shared cash, sells first) of those weights gives the same equity bar by bar (without costs
    the one-symbol sizing after fees is target percent), META's missing bars before 2012 included."""
    import pandas as pd
    import vectorbt as vbt

    strategy, weights = wb.strategy("zscore_reversion")(), {"SPY": 0.5, "QQQ": 0.3, "META": 0.2}
    res = wb.backtest(strategy, bars, weights=weights, fees=0.0, slippage=0.0, fill=fill)
    panel = Panel.of({s: bars[s] for s in bars.symbols})
    opens, closes = panel.arrays[0], panel.arrays[3]
    fills = closes if fill == "close" else np.vstack([opens[1:], np.full((1, len(panel.symbols)), np.nan)])
    exposures = np.column_stack([strategy.exposure(bars[s]).reindex(panel.index) for s in panel.symbols])
    targets = ExposureWeights(np.array([weights[s] for s in panel.symbols]))
    rows = np.array([targets.row(exposures[t], ~np.isnan(fills[t])) for t in range(len(panel.index))])
    close = pd.DataFrame(closes, index=panel.index, columns=panel.symbols)
    options = dict(size_type="targetpercent", group_by=True, cash_sharing=True, call_seq="auto", init_cash=10_000.0)
    if fill == "close":
        pf = vbt.Portfolio.from_orders(close, size=rows, **options, freq="1D")
    else:
        shifted = np.vstack([np.full((1, rows.shape[1]), np.nan), rows[:-1]])
        pf = vbt.Portfolio.from_orders(close, size=shifted, price=opens, **options, freq="1D")
    assert len(res.fills) > 100
    np.testing.assert_allclose(res.equity.to_numpy(), pf.value().to_numpy(), rtol=1e-9)
    assert len(res.fills) == len(pf.orders.records)


def test_custom_weights_and_bad_weights(bars) -> None:
    res = wb.backtest("sma_cross", bars, weights={"SPY": 0.5, "QQQ": 0.3, "META": 0.0}, fill="close")
    assert res.positions["META"].eq(0).all() and res.fills["symbol"].isin(["SPY", "QQQ"]).all()
    with pytest.raises(ValueError, match="together at most 1"):
        wb.backtest("sma_cross", bars, weights={"SPY": 0.7, "QQQ": 0.7, "META": 0.0})
    with pytest.raises(ValueError, match=r"missing \['META'\]"):
        wb.backtest("sma_cross", bars, weights={"SPY": 0.5, "QQQ": 0.5})


def test_gross_and_net_limits_scale_all_targets(bars) -> None:
    res = wb.backtest(wb.strategy("sma_cross")(fast=10, slow=50), bars, fill="close", risk={"max_gross_exposure": 0.5})
    closes = bars.close.reindex(res.equity.index).ffill().fillna(0.0)
    gross = (res.positions.abs() * closes).sum(axis=1) / res.equity
    fill_times = sorted(set(res.fills["timestamp"]))
    # at each rebalance the traded symbols are set within the limit; holdings that did not move keep their price
    # drift (targets are traded on change, not re-balanced every bar), hence the small tolerance
    assert gross.loc[fill_times].max() <= 0.5 * 1.02
    unlimited = wb.backtest(wb.strategy("sma_cross")(fast=10, slow=50), bars, fill="close")
    assert ((unlimited.positions.abs() * closes).sum(axis=1) / unlimited.equity).loc[fill_times].max() > 0.6
    resizes = [e for e in res.risk_events if e.decision == "resize"]
    assert resizes and {e.rule for e in resizes} == {"max_gross_exposure"}
    assert all(abs(e.details["allowed"]) < abs(e.details["wanted"]) for e in resizes)


RULE_SETS = [
    {"stop_loss": 0.03, "take_profit": 0.08},
    {"trailing_stop": 0.04},
    {"max_drawdown": 0.12},
    {"daily_loss": 0.02, "max_orders_per_day": 1},
    {"max_shares": 20, "max_order_value": 6_000},
    {"stop_loss": 0.02, "trailing_stop": 0.05, "max_drawdown": 0.25, "max_exposure": 0.7},
]


@pytest.mark.parametrize("fill", ["close", "next_open"])
@pytest.mark.parametrize("rules", RULE_SETS, ids=lambda r: "+".join(r))
def test_every_rule_on_one_symbol_equals_the_one_symbol_kernel(fill: str, rules: dict) -> None:
    """The core applies every rule on one symbol as the one-symbol kernel (its own loop) does, and says so in risk
    events: each order approved or cut, each exit, halt, resize or denial."""
    spy = wb.load("SPY", start="2008-01-01")
    strategy = wb.strategy("sma_cross")(fast=5, slow=20)
    bt = _core(strategy, spy, fill, rules)
    _assert_is_the_kernel(bt, simulate(strategy, spy, check_costs(10_000.0, 0.001, 0.0, fill, rules), 252))
    assert any(e.decision in {"exit", "halt", "resize", "deny"} for e in bt.risk_events)
    sized = [e for e in bt.risk_events if e.rule in {"", "max_shares", "max_order_value"}]  # approved or cut
    assert len(sized) == int((bt.orders["side"] == "buy").sum()), "each buy (long only: every order not an exit)"


@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_stops_act_per_position_and_the_drawdown_switch_flattens_the_account(bars, fill: str) -> None:
    rules = {"stop_loss": 0.04, "max_drawdown": 0.15}
    res = wb.backtest(wb.strategy("sma_cross")(fast=5, slow=20), bars, fees=0.001, fill=fill, risk=rules)
    exits = [e for e in res.risk_events if e.decision == "exit"]
    assert {e.rule for e in exits} == {"stop_loss"} and len({e.symbol for e in exits}) >= 2
    fills = res.fills.assign(signed=lambda f: np.where(f.side == "buy", f.qty, -f.qty))
    for e in exits:  # the stop fired at a close 4 % or more below the trade's entry fill
        mine = fills[(fills.symbol == e.symbol) & (fills.timestamp <= e.timestamp)]
        entry = mine[mine.signed.cumsum().shift(1, fill_value=0.0) == 0.0].price.iloc[-1]
        assert e.details["close"] / entry - 1.0 <= -0.04 + 1e-12
    halt = next(e for e in res.risk_events if e.decision == "halt")
    assert halt.rule == "max_drawdown"
    after = res.positions.loc[res.positions.index > halt.timestamp]
    assert (after.iloc[1:] == 0.0).all().all()  # flat from the fill after the halt to the end
    assert (res.fills.timestamp <= after.index[min(1, len(after) - 1)]).all()  # and nothing traded since
    peak = res.equity.loc[: halt.timestamp].cummax().iloc[-1]
    assert res.equity.loc[halt.timestamp] / peak - 1.0 <= -0.15


def test_single_symbol_gross_limit_is_the_exposure_limit() -> None:
    spy = wb.load("SPY", start="2012-01-01")
    a = wb.backtest(wb.strategy("sma_cross")(), spy, risk={"max_gross_exposure": 0.4})
    b = wb.backtest(wb.strategy("sma_cross")(), spy, risk={"max_exposure": 0.4})
    row = wb.sweep("sma_cross", spy, fast=[10], slow=[50], risk={"max_net_exposure": 0.4}, progress=False)
    np.testing.assert_array_equal(a.equity.to_numpy(), b.equity.to_numpy())
    np.testing.assert_allclose(a.metrics.to_numpy(), row.metrics.iloc[0].to_numpy(), rtol=1e-9, equal_nan=True)


@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_session_and_daily_rules_on_minute_bars_equal_the_one_symbol_kernel(fill: str) -> None:
    bars = wb.load("SPY_1min", end="2011-02-01")
    rules = {"trading_hours": "09:30-16:00", "daily_loss": 0.003, "stop_loss": 0.001, "max_orders_per_day": 8}
    strategy = wb.strategy("sma_cross")(fast=5, slow=30)
    bt = _core(strategy, bars, fill, rules, fees=0.0002, ppy=98_000.0)
    _assert_is_the_kernel(bt, simulate(strategy, bars, check_costs(10_000.0, 0.0002, 0.0, fill, rules), 98_000.0))
    assert len(bt.fills) > 20
    decisions = {e.rule for e in bt.risk_events if e.decision != "approve"}
    assert decisions >= {"daily_loss", "stop_loss", "max_orders_per_day"}


@pytest.mark.parametrize("costs", [{}, {"fees": 0.001, "slippage": 0.0005, "fixed_fee": 1.0}])
def test_rebalances_restore_every_weight_and_never_run_out_of_cash(costs: dict) -> None:
    """When one target changes, drifted holdings go back to their weights and the buys fit the cash."""
    bars = wb.load(["SPY", "QQQ", "IWM"], start="2010-01-01")
    res = wb.backtest("sma_cross", bars, **costs)
    assert set(res.orders["status"]) == {"filled"}
    closes = bars.close.reindex(res.positions.index).ffill()
    weights = (res.positions * closes).div(res.equity, axis=0)
    fills_at = sorted(set(res.fills["timestamp"]))
    exposure = wb.strategy("sma_cross")().exposure
    targets = {s: exposure(bars[s]).reindex(res.positions.index).ffill().fillna(0.0) / 3 for s in bars.symbols}
    checked = 0
    for when in fills_at[5:60]:
        bar = res.positions.index.get_loc(when)
        for s in bars.symbols:
            target = targets[s].iloc[bar - 1]  # next-open fills: the signal of the bar before
            if target > 0 and weights[s].iloc[bar] > 0:
                drift = closes[s].iloc[bar] / bars[s]["open"].reindex(res.positions.index).iloc[bar] - 1
                assert weights[s].iloc[bar] == pytest.approx(target * (1 + drift), abs=0.01)
                checked += 1
    assert checked > 40


def test_affordable_size_cuts_only_buys_the_cash_cannot_pay() -> None:
    from workbench.engine.fills import affordable_size_nb

    assert affordable_size_nb(1_000.0, 0.0, 100.0, 5.0, 0.001, 1.0, 0.0) == 5.0  # 500.5 + 1 <= 1000
    cut = affordable_size_nb(1_000.0, 2.0, 100.0, 20.0, 0.001, 1.0, 0.01)
    assert cut == pytest.approx((1_000.0 - 1.0) / (101.0 * 1.001), rel=1e-15)
    assert affordable_size_nb(1_000.0, 0.0, 100.0, -50.0, 0.001, 1.0, 0.0) == -50.0  # sells pass
    assert affordable_size_nb(10.0, -30.0, 100.0, 20.0, 0.001, 1.0, 0.0) == 20.0  # covering a short passes
    assert affordable_size_nb(0.5, 0.0, 100.0, 1.0, 0.0, 1.0, 0.0) == 0.0  # not even the fixed fee


@pytest.mark.parametrize("fill", ["close", "next_open"])
@pytest.mark.parametrize(
    "rules",
    [{"trading_hours": "09:30-16:00", "daily_loss": 0.003, "stop_loss": 0.001, "max_orders_per_day": 8},
     {"daily_loss": 0.002, "max_drawdown": 0.01}],
    ids=["hours+daily+stop", "daily+drawdown"],
)  # fmt: skip
def test_the_event_driven_portfolio_equals_the_weights_kernel_on_gappy_minute_bars(fill: str, rules: dict) -> None:
    """A symbol with every other minute bar: weights that wait (trading hours, a daily halt) and exits of the account
    wait for its next bar in both the kernel and the event-driven driver (whose quiet bars run compiled), alike."""
    from workbench.engine.exposure_weights import exposure_rows_nb
    from workbench.engine.portfolio import AFTER_FEES
    from workbench.engine.sessions import CLOSED
    from workbench.engine.universe_run import simulate_weights

    spy = wb.load("SPY_1min", end="2011-02-01")
    other = spy.copy()
    other[["open", "high", "low", "close"]] *= 1.01
    frames = {"SPY": spy, "ALT": other.iloc[::2]}
    strategy = wb.strategy("sma_cross")(fast=5, slow=30)
    costs = check_costs(10_000.0, 0.0002, 0.0, fill, rules)
    weights = {"SPY": 0.5, "ALT": 0.5}
    res = wb.backtest(strategy, frames, weights=weights, fees=0.0002, fill=fill, risk=rules, periods_per_year=98_000.0)

    panel = Panel.of(frames)
    days = costs.account_sessions(panel.index, panel.symbols)[0]
    prices = panel.arrays[3] if fill == "close" else np.vstack([panel.arrays[0][1:], np.full((1, 2), np.nan)])
    in_session = days != CLOSED if fill == "close" else np.append(days[1:] != CLOSED, False)
    exposures = np.column_stack([strategy.exposure(f).reindex(panel.index) for f in frames.values()])
    rows = np.empty(panel.shape)
    exposure_rows_nb(exposures, np.array([0.5, 0.5]), in_session[:, None] & ~np.isnan(prices), rows)
    kernel = simulate_weights(rows, panel, costs, 98_000.0, sizing=AFTER_FEES)
    assert len(res.fills) == len(kernel.fills) > 50
    np.testing.assert_allclose(res.equity.to_numpy(), kernel.equity.to_numpy(), rtol=1e-9)
    assert any(e.decision in {"exit", "halt"} for e in res.risk_events)

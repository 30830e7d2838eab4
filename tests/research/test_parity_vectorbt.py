"""Our sweep against vectorbt's Portfolio.from_signals: same trades, returns, drawdowns; Sharpe up to annualization.

Entries and exits for the oracle come from vectorbt's own MA and crossover kernels or from pandas, never from
workbench code, so a bug in our indicators or in our simulation shows up as a mismatch.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest
import vectorbt as vbt
from vectorbt.generic.nb import crossed_above_nb as vbt_crossed_above

import workbench as wb

FEES = 0.001
CASH = 10_000.0
N_SETS = 50
SYMBOLS = ["SPY", "AAPL", "JPM"]


def synthetic_bars(n: int = 4000, seed: int = 7) -> pd.DataFrame:
    """A seeded geometric random walk with consistent OHLC, on business days."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0002, 0.015, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * (1 + rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.004, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.004, n)))
    index = pd.bdate_range("2005-01-03", periods=n, tz="UTC", name="timestamp")
    frame = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": 1e6}, index=index)
    frame.attrs["symbol"] = "SYN"
    return frame


@pytest.fixture(scope="module", params=[*SYMBOLS, "synthetic"])
def bars(request) -> pd.DataFrame:
    if request.param == "synthetic":
        return synthetic_bars()
    return wb.load(request.param, start="2004-01-01")


def random_sets(cls: type[wb.Strategy], ranges: dict, rng: np.random.Generator) -> pd.DataFrame:
    """N_SETS distinct random parameter sets that pass the strategy's constraints."""
    rows = set()
    while len(rows) < N_SETS:
        row = tuple(rng.choice(np.asarray(list(values))).item() for values in ranges.values())
        frame = pd.DataFrame([row], columns=list(ranges))
        if not cls.failed_constraints(frame):
            rows.add(row)
    return pd.DataFrame(sorted(rows), columns=list(ranges))


def ours(name: str, bars: pd.DataFrame, sets: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """Our metrics for exactly the rows of ``sets`` (swept as a constrained grid), in the order of ``sets``."""
    wanted = set(map(tuple, sets.itertuples(index=False)))
    res = wb.sweep(
        name,
        bars,
        fees=FEES,
        cash=CASH,
        progress=False,
        constraint=lambda g: [tuple(r) in wanted for r in g.itertuples(index=False)],
        **{c: sorted(set(sets[c])) for c in sets.columns},
        **kwargs,
    )
    assert len(res.metrics) == len(sets)
    return res.metrics.loc[pd.MultiIndex.from_frame(sets)]


def compare(mine: pd.DataFrame, pf: vbt.Portfolio, ppy: float) -> None:
    """Total return and drawdown to 1e-9 relative, equal trade counts, Sharpe up to the annualization factor."""
    np.testing.assert_allclose(mine["total_return"], pf.total_return().to_numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(mine["max_drawdown"], pf.max_drawdown().to_numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(mine["trades"].to_numpy(), pf.trades.count().to_numpy())
    ours_sharpe = mine["sharpe"].to_numpy() / np.sqrt(ppy)
    theirs = pf.sharpe_ratio().to_numpy() / np.sqrt(365.0)
    # A run that never trades has zero variance: vectorbt reports inf, we report NaN (0 / 0).
    flat = np.isinf(theirs)
    assert np.isnan(ours_sharpe[flat]).all() and (mine["trades"].to_numpy()[flat] == 0).all()
    np.testing.assert_allclose(ours_sharpe[~flat], theirs[~flat], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(mine["win_rate"], pf.trades.win_rate().to_numpy(), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(mine["profit_factor"], pf.trades.profit_factor().to_numpy(), rtol=1e-9, equal_nan=True)
    assert (mine["trades"] > 0).mean() > 0.8, "most parameter sets should trade"


def portfolio(bars: pd.DataFrame, entries: np.ndarray, exits: np.ndarray, next_open: bool = False, **kw):
    close = bars["close"].to_numpy()[:, None]
    if next_open:
        # A signal of bar t fills at bar t+1's open: shift the signals and trade at the open price.
        entries = np.vstack([np.zeros((1, entries.shape[1]), bool), entries[:-1]])
        exits = np.vstack([np.zeros((1, exits.shape[1]), bool), exits[:-1]])
        kw["price"] = np.broadcast_to(bars["open"].to_numpy()[:, None], entries.shape)
    return vbt.Portfolio.from_signals(close, entries, exits, size=np.inf, fees=FEES, init_cash=CASH, freq="1D", **kw)


def sma_signals(bars: pd.DataFrame, sets: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    close = bars["close"]
    fast = vbt.MA.run(close, window=list(sets["fast"])).ma.to_numpy().reshape(len(close), -1)
    slow = vbt.MA.run(close, window=list(sets["slow"])).ma.to_numpy().reshape(len(close), -1)
    return vbt_crossed_above(fast, slow), vbt_crossed_above(slow, fast)


def wilder_rsi(close: pd.Series, window: int) -> pd.Series:
    """Wilder's RSI with pandas: SMA seed of the first ``window`` changes, then alpha = 1/window smoothing."""
    delta = close.diff()
    gain, loss = delta.clip(lower=0), (-delta).clip(lower=0)
    out = []
    for series in (gain, loss):
        seeded = series.copy()
        seeded.iloc[:window] = np.nan
        seeded.iloc[window] = series.iloc[1 : window + 1].mean()
        out.append(seeded.iloc[window:].ewm(alpha=1 / window, adjust=False).mean().reindex(series.index))
    avg_gain, avg_loss = out
    return 100 - 100 / (1 + avg_gain / avg_loss)


def rsi_signals(bars: pd.DataFrame, sets: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    close = bars["close"]
    rsis = {w: wilder_rsi(close, w).to_numpy() for w in sets["window"].unique()}
    rsi = np.column_stack([rsis[w] for w in sets["window"]])
    lower = np.broadcast_to(sets["lower"].to_numpy(float), rsi.shape).copy()
    upper = np.broadcast_to(sets["upper"].to_numpy(float), rsi.shape).copy()
    return vbt_crossed_above(lower, rsi), vbt_crossed_above(rsi, upper)


def donchian_signals(bars: pd.DataFrame, sets: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    close = bars["close"].to_numpy()[:, None]
    highs = np.column_stack([bars["high"].rolling(w).max().shift(1) for w in sets["entry"]])
    lows = np.column_stack([bars["low"].rolling(w).min().shift(1) for w in sets["exit"]])
    return close > highs, close < lows


CASES = {
    "sma_cross": ({"fast": range(2, 80), "slow": range(5, 300)}, sma_signals),
    "rsi_reversion": ({"window": range(2, 30), "lower": range(20, 45), "upper": range(55, 85)}, rsi_signals),
    "donchian_breakout": ({"entry": range(5, 200), "exit": range(3, 120)}, donchian_signals),
}


@pytest.mark.parametrize("name", list(CASES))
def test_close_fills_match_vectorbt(name: str, bars: pd.DataFrame) -> None:
    ranges, signals = CASES[name]
    cls = wb.strategy(name)
    sets = random_sets(cls, ranges, np.random.default_rng(zlib.crc32(name.encode()) + len(bars)))  # stable seed
    mine = ours(name, bars, sets, fill="close")
    entries, exits = signals(bars, sets)
    compare(mine, portfolio(bars, entries, exits), ppy=252.0)


@pytest.mark.parametrize("name", ["sma_cross", "donchian_breakout"])
def test_next_open_fills_and_slippage_match_vectorbt(name: str) -> None:
    bars = wb.load("QQQ", start="2005-01-01")
    ranges, signals = CASES[name]
    sets = random_sets(wb.strategy(name), ranges, np.random.default_rng(11))
    mine = ours(name, bars, sets, fill="next_open", slippage=0.0005)
    entries, exits = signals(bars, sets)
    compare(mine, portfolio(bars, entries, exits, next_open=True, slippage=0.0005), ppy=252.0)


def test_equity_curve_matches_vectorbt_bar_by_bar() -> None:
    from workbench.engine.inputs import check_costs
    from workbench.engine.single import simulate

    bars = wb.load("AAPL", start="2010-01-01")
    run = simulate(wb.strategy("sma_cross")(fast=12, slow=80), bars, check_costs(CASH, FEES, 0.0, "close"), 252)
    entries, exits = sma_signals(bars, pd.DataFrame({"fast": [12], "slow": [80]}))
    pf = portfolio(bars, entries, exits)
    np.testing.assert_allclose(run.equity.to_numpy(), pf.value().to_numpy()[:, 0], rtol=1e-12)
    records = pf.trades.records_readable
    np.testing.assert_allclose(run.trades["pnl"].to_numpy(), records["PnL"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(run.trades["entry_price"].to_numpy(), records["Avg Entry Price"].to_numpy())


def test_fixed_fee_per_order_matches_vectorbt_fixed_fees() -> None:
    bars = wb.load("MSFT", start="2006-01-01")
    sets = random_sets(wb.strategy("sma_cross"), CASES["sma_cross"][0], np.random.default_rng(21))
    mine = ours("sma_cross", bars, sets, fill="close", fixed_fee=2.5)
    entries, exits = sma_signals(bars, sets)
    compare(mine, portfolio(bars, entries, exits, fixed_fees=2.5), ppy=252.0)

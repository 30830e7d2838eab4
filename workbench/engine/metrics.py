"""Performance metrics computed from streaming accumulators, so a sweep never stores an equity curve.

All ratios use simple per-bar returns of equity, mean and sample std (ddof=1) over every bar of the window,
annualized by ``periods_per_year`` (252 for daily bars). Drawdown is measured from the first bar's equity.
"""

from __future__ import annotations

import numpy as np
from numba import njit

METRIC_NAMES = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "trades",
    "win_rate",
    "profit_factor",
    "exposure",
    "end_value",
)
N_METRICS = len(METRIC_NAMES)
TOTAL_RETURN, CAGR, VOLATILITY, SHARPE, SORTINO, MAX_DRAWDOWN, CALMAR = 0, 1, 2, 3, 4, 5, 6
TRADES, WIN_RATE, PROFIT_FACTOR, EXPOSURE, END_VALUE = 7, 8, 9, 10, 11
#: Metrics where lower is better; every other metric ranks descending (max_drawdown is <= 0, so closer to 0
#: ranks first).
LOWER_IS_BETTER = frozenset({"volatility"})


@njit(cache=True, nogil=True, inline="always")
def mark_bar_nb(prev_equity, equity, ret_sum, ret_sq, down_sq, peak, max_dd):
    """Fold one bar's equity into the running return sums and drawdown; returns the updated values.

    Plain sums rather than Welford keep divisions off the loop-carried chain (several times faster); per-bar
    returns are small, so the sum of squares loses nothing at 1e-12. ``peak`` starts as NaN.
    """
    ret = equity / prev_equity - 1.0 if prev_equity > 0 else 0.0
    ret_sum += ret
    ret_sq += ret * ret
    if ret < 0:
        down_sq += ret * ret
    if not equity <= peak:
        peak = equity
    elif peak > 0:
        dd = equity / peak - 1.0
        if dd < max_dd:
            max_dd = dd
    return ret, ret_sum, ret_sq, down_sq, peak, max_dd


@njit(cache=True, nogil=True)
def equity_metrics_nb(equity, position, cash0, trades, wins, gross_win, gross_loss, periods_per_year, out):
    """Metrics of a recorded equity curve (equity and position after each bar's close), as ``run_nb`` computes."""
    prev_equity = cash0
    ret_sum = ret_sq = down_sq = max_dd = 0.0
    peak = np.nan
    exposed = 0
    for t in range(equity.shape[0]):
        _, ret_sum, ret_sq, down_sq, peak, max_dd = mark_bar_nb(
            prev_equity, equity[t], ret_sum, ret_sq, down_sq, peak, max_dd
        )
        prev_equity = equity[t]
        if position[t] != 0.0:
            exposed += 1
    end_value = equity[-1] if equity.shape[0] else cash0
    finalize_metrics_nb(
        out,
        equity.shape[0],
        cash0,
        end_value,
        ret_sum,
        ret_sq,
        down_sq,
        max_dd,
        exposed,
        trades,
        wins,
        gross_win,
        gross_loss,
        periods_per_year,
    )


@njit(cache=True, nogil=True, inline="always")
def finalize_metrics_nb(
    out,
    n,
    start_value,
    end_value,
    ret_sum,
    ret_sq,
    down_sq,
    max_dd,
    exposed,
    trades,
    wins,
    gross_win,
    gross_loss,
    periods_per_year,
):
    """Fill ``out`` (length ``N_METRICS``) from the accumulators of one simulated window of ``n`` bars.

    Conventions (vectorbt's): no variance -> NaN Sharpe; no downside -> inf Sortino (NaN if the mean is 0);
    no drawdown -> NaN Calmar; no losing trade -> inf profit factor; no trade -> NaN win rate.
    """
    out[:] = np.nan
    out[END_VALUE] = end_value
    out[TRADES] = trades
    if n == 0:
        return
    ret_mean = ret_sum / n
    ret_m2 = max(ret_sq - ret_sum * ret_mean, 0.0)
    growth = end_value / start_value
    out[TOTAL_RETURN] = growth - 1.0
    out[CAGR] = growth ** (periods_per_year / n) - 1.0 if growth > 0 else -1.0
    ann = np.sqrt(periods_per_year)
    if n > 1:
        std = np.sqrt(ret_m2 / (n - 1))
        out[VOLATILITY] = std * ann
        if std > 0:
            out[SHARPE] = ret_mean / std * ann
    downside = np.sqrt(down_sq / n)
    if downside > 0:
        out[SORTINO] = ret_mean / downside * ann
    elif ret_mean > 0:
        out[SORTINO] = np.inf
    out[MAX_DRAWDOWN] = max_dd
    if max_dd < 0:
        out[CALMAR] = out[CAGR] / abs(max_dd)
    if trades > 0:
        out[WIN_RATE] = wins / trades
        if gross_loss > 0:
            out[PROFIT_FACTOR] = gross_win / gross_loss
        elif gross_win > 0:
            out[PROFIT_FACTOR] = np.inf
    out[EXPOSURE] = exposed / n

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


@njit(cache=True, nogil=True)
def finalize_metrics_nb(
    out,
    n,
    start_value,
    end_value,
    ret_mean,
    ret_m2,
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

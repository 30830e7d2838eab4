"""The tearsheet numbers of a report from an equity curve: per-bar returns, rolling Sharpe and volatility,
yearly returns, the worst drawdowns and the return distribution (conventions as quantstats', checked in tests).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def bar_returns(equity: pd.Series, cash: float) -> pd.Series:
    """Each bar's return, the first measured from the starting ``cash``.

    Examples
    --------
    >>> bar_returns(pd.Series([100.0, 110.0, 99.0]), 100.0).round(4).tolist()
    [0.0, 0.1, -0.1]
    """
    return (equity / equity.shift(1).fillna(cash) - 1.0).rename("return")


def rolling_window(periods_per_year: float) -> int:
    """Half a year of bars (126 on daily bars), the window of the rolling Sharpe ratio and volatility."""
    return max(2, round(periods_per_year / 2))


def rolling_stats(returns: pd.Series, periods_per_year: float) -> pd.DataFrame:
    """Annualized rolling Sharpe ratio (no risk-free rate) and volatility over ``rolling_window`` bars,
    NaN until the window is full."""
    window = rolling_window(periods_per_year)
    mean, std = returns.rolling(window).mean(), returns.rolling(window).std()
    scale = np.sqrt(periods_per_year)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = (mean / std.where(std > 0)) * scale
    return pd.DataFrame({"sharpe": sharpe, "volatility": std * scale})


def yearly_returns(returns: dict[str, pd.Series]) -> pd.DataFrame:
    """Compounded return of each calendar year, one column per series (e.g. strategy and buy & hold).

    Examples
    --------
    >>> r = pd.Series([0.1, 0.1, -0.5], index=pd.to_datetime(["2020-06-01", "2020-07-01", "2021-01-04"]))
    >>> yearly_returns({"s": r})["s"].round(4).tolist()
    [0.21, -0.5]
    """
    table = pd.DataFrame({name: (1.0 + r).groupby(r.index.year).prod() - 1.0 for name, r in returns.items()})
    return table.rename_axis("year")


def worst_drawdowns(equity: pd.Series, n: int = 5) -> pd.DataFrame:
    """The ``n`` deepest drawdowns below the running peak of ``equity``: ``start`` (first bar under water),
    ``valley`` (lowest bar), ``recovery`` (first bar back at the peak; NaT while still under water), ``depth``
    (a fraction, negative) and ``days`` (calendar days from start to the last bar under water, inclusive)."""
    under = equity / equity.cummax() - 1.0
    wet = under < 0
    period = (wet & ~wet.shift(1, fill_value=False)).cumsum().where(wet)
    rows = []
    for _, part in under.groupby(period):
        start, last = part.index[0], part.index[-1]
        after = equity.index.get_loc(last) + 1
        recovery = equity.index[after] if after < len(equity) else pd.NaT
        rows.append((start, part.idxmin(), recovery, float(part.min()), (last - start).days + 1))
    table = pd.DataFrame(rows, columns=["start", "valley", "recovery", "depth", "days"])
    return table.sort_values("depth", kind="stable").head(n).reset_index(drop=True)


def distribution(returns: dict[str, pd.Series]) -> pd.DataFrame:
    """The shape of per-bar returns: mean, volatility, skew, excess kurtosis, best and worst bar, share of
    bars up, and the 5 % value at risk (the 5th percentile), one column per series."""
    rows = {}
    for name, r in returns.items():
        r = r.dropna()
        rows[name] = {
            "mean": r.mean(),
            "std": r.std(),
            "skew": r.skew(),
            "kurtosis": r.kurt(),
            "best": r.max(),
            "worst": r.min(),
            "up": (r > 0).mean(),
            "var_5%": r.quantile(0.05),
        }
    return pd.DataFrame(rows)

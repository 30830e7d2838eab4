"""`validate_bars`: the normalizer every bar table passes through before the workbench uses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

import numpy as np
import pandas as pd

from workbench.data._failures import Failure, first, first_rows, format_timestamp, validation_error
from workbench.data.schema import BAR_COLUMNS, PRICE_COLUMNS, normalize_columns

NanPolicy = Literal["raise", "drop", "ffill"]

# Row rules, checked in this order on the normalized frame; every failing one is reported.
# Each is (name, the columns shown for an offending row, a function returning the offending-row mask).
_ROW_RULES: tuple[tuple[str, tuple[str, ...], Callable[[pd.DataFrame], pd.Series]], ...] = (
    ("nan", BAR_COLUMNS, lambda d: d[list(BAR_COLUMNS)].isna().any(axis=1)),
    ("non_finite", BAR_COLUMNS, lambda d: np.isinf(d[list(BAR_COLUMNS)]).any(axis=1)),
    ("non_positive_price", PRICE_COLUMNS, lambda d: (d[list(PRICE_COLUMNS)] <= 0).any(axis=1)),
    # np.maximum/np.minimum propagate NaN, so a NaN row is reported by `nan` alone.
    ("high_below_open_close", PRICE_COLUMNS, lambda d: d["high"] < np.maximum(d["open"], d["close"])),
    ("low_above_open_close", PRICE_COLUMNS, lambda d: d["low"] > np.minimum(d["open"], d["close"])),
    ("high_below_low", PRICE_COLUMNS, lambda d: d["high"] < d["low"]),
    ("negative_volume", ("volume",), lambda d: d["volume"] < 0),
)

#: Every rule name `validate_bars` can report, in the order they are checked.
RULES: tuple[str, ...] = (
    "duplicate_columns",
    "missing_columns",
    "bad_timestamp",
    "non_numeric",
    "duplicate_timestamps",
    "unsorted",
    "empty",
    *(name for name, _, _ in _ROW_RULES),
)


def _rows_pass(bars: pd.DataFrame) -> bool:
    """True when no row rule fails: one pass over the OHLCV block, so clean data skips the per-rule masks."""
    if all(dtype == np.float64 for dtype in bars.dtypes.tolist()):  # one float block: no column lookups
        values = bars.to_numpy()[:, : len(BAR_COLUMNS)]  # normalized frames start with the bar columns
    else:
        values = bars[list(BAR_COLUMNS)].to_numpy(dtype=np.float64)
    o, h, low, c, v = values.T
    return bool(
        np.isfinite(values).all()
        and (values[:, :4] > 0).all()
        and (h >= np.maximum(o, c)).all()
        and (low <= np.minimum(o, c)).all()
        and (h >= low).all()
        and (v >= 0).all()
    )


def validate_bars(df: pd.DataFrame, symbol: str = "?", nan_policy: NanPolicy = "raise") -> pd.DataFrame:
    """Return a validated, normalized copy of `df` (see `workbench.data.schema`); `df` is never modified.

    Rules, by stable name, in the order they are checked:

    * ``duplicate_columns``, ``missing_columns``, ``bad_timestamp``, ``non_numeric``: from
      `normalize_columns`; ``missing_columns`` also when one of ``open, high, low, close, volume`` is absent;
    * ``duplicate_timestamps``: a timestamp repeats an earlier one;
    * ``unsorted``: a timestamp is earlier than the one before it (sort the frame first if that is intended);
    * ``empty``: no rows (also when ``nan_policy="drop"`` dropped them all);
    * ``nan``, ``non_finite`` (+/-inf), ``non_positive_price`` (a price <= 0), ``high_below_open_close``,
      ``low_above_open_close``, ``high_below_low``, ``negative_volume``: row rules.

    The first failing check raises, except the row rules, which are all checked and reported in one error.

    Parameters
    ----------
    df : pandas.DataFrame
        Bars with any column spelling `normalize_columns` accepts.
    symbol : str
        Name used in error messages.
    nan_policy : {"raise", "drop", "ffill"}
        ``"raise"``: any NaN in ``open, high, low, close, volume`` fails rule ``nan``.
        ``"drop"``: rows with a NaN price (open, high, low or close) are dropped.
        ``"ffill"``: NaN prices (and ``adj_close``) take the previous row's value; a NaN before the first
        valid value cannot be filled and still fails rule ``nan``.
        With ``"drop"`` and ``"ffill"`` a NaN volume becomes 0 (no trades).

    Returns
    -------
    pandas.DataFrame
        Canonical bars: float64 ``open, high, low, close, volume`` and any extra columns, on a strictly
        increasing UTC ``DatetimeIndex`` named ``timestamp``.

    Raises
    ------
    DataValidationError
        Its message names the symbol, each failed rule, its row count and the first offending rows. The
        attributes ``symbol``, ``rule`` and ``count`` describe the first failed rule, and ``failures`` maps
        every failed rule to its count.
    ValueError
        If `nan_policy` is not one of the three above.

    Examples
    --------
    >>> raw = pd.DataFrame({"date": ["2020-01-02"], "open": [10.0], "high": [9.5], "low": [9.0],
    ...                     "close": [9.8], "volume": [100]})
    >>> try:
    ...     validate_bars(raw, "SPY")
    ... except Exception as err:
    ...     print(err.rule, err.count)
    high_below_open_close 1
    """
    if nan_policy not in get_args(NanPolicy):
        raise ValueError(f"nan_policy={nan_policy!r}; expected one of {get_args(NanPolicy)}")
    out = normalize_columns(df, symbol)
    missing = [c for c in BAR_COLUMNS if c not in out.columns]
    if missing:
        detail = f"missing {missing}; columns: {list(df.columns)}"
        raise validation_error(symbol, [Failure("missing_columns", len(missing), detail, unit="column")])
    _check_order(out.index, symbol)
    out = _apply_nan_policy(out, nan_policy)
    if out.empty:
        detail = "the frame has no rows" + (" left after nan_policy='drop'" if nan_policy == "drop" else "")
        raise validation_error(symbol, [Failure("empty", 0, detail)])

    if _rows_pass(out):
        return out
    failures = []
    for name, columns, rule in _ROW_RULES:
        mask = rule(out).to_numpy()
        if mask.any():
            detail = first_rows(out, mask, columns)
            if name == "nan" and nan_policy == "ffill":
                detail += " (leading NaN: nothing earlier to forward-fill from)"
            failures.append(Failure(name, int(mask.sum()), detail))
    if failures:
        raise validation_error(symbol, failures)
    return out


def _check_order(index: pd.DatetimeIndex, symbol: str) -> None:
    """Raise ``duplicate_timestamps`` or ``unsorted`` unless `index` is strictly increasing."""
    if index.is_monotonic_increasing and index.is_unique:  # both cached on the index: validated data is cheap
        return
    repeated = index.duplicated(keep="first")
    if repeated.any():
        shown = first((format_timestamp(ts) for ts in index[repeated]), int(repeated.sum()))
        raise validation_error(symbol, [Failure("duplicate_timestamps", int(repeated.sum()), shown)])
    stamps = index.asi8
    earlier = np.flatnonzero(stamps[1:] < stamps[:-1]) + 1
    if earlier.size:
        shown = first(
            (f"{format_timestamp(index[i])} after {format_timestamp(index[i - 1])}" for i in earlier),
            earlier.size,
        )
        raise validation_error(symbol, [Failure("unsorted", int(earlier.size), shown)])


def _apply_nan_policy(bars: pd.DataFrame, nan_policy: NanPolicy) -> pd.DataFrame:
    """Drop or forward-fill NaN prices and zero NaN volume; ``"raise"`` leaves NaN for rule ``nan``."""
    if nan_policy == "raise":
        return bars
    if nan_policy == "drop":
        out = bars.dropna(subset=list(PRICE_COLUMNS))
    else:
        prices = [c for c in (*PRICE_COLUMNS, "adj_close") if c in bars.columns]
        out = bars.assign(**{c: bars[c].ffill() for c in prices})
    return out.assign(volume=out["volume"].fillna(0.0))

"""Parallel sweep kernels, signals (or weights) -> simulation -> metrics, fused. A work item is (symbol, parameter
set) of a one-symbol strategy, or a parameter set of a universe strategy over the whole panel. The kernels run
their items in numba threads (``prange``), but for ``sweep_signals_nb``, whose caller runs slices of them in threads.

Memory is O(bars x threads): each item computes its exposure (or weights) into a fresh array, reduces it to
metrics in every requested window and drops it. Bars of all symbols of a one-symbol sweep are concatenated;
``offsets[s]:offsets[s+1]`` slices symbol ``s``; a universe sweep reads 2-D arrays (bars x symbols).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types

from workbench.engine.portfolio import TARGET_PERCENT
from workbench.engine.simulate import N_TRADE_FIELDS, run_nb
from workbench.engine.weights_kernel import simulate_weights_nb

_f8 = types.float64[:]
_bars = types.float64[::1]
# The one signature a compiled signal function is adapted to: (open, high, low, close, volume, params). The bar
# arrays are C-contiguous, as a call from Python passes them, so that the strategy's function is compiled (and
# loaded from numba's cache) once for both.
SIGNAL_SIG = _f8(_bars, _bars, _bars, _bars, _bars, _f8)

_SWEEP_SIG = types.void(
    types.FunctionType(SIGNAL_SIG),
    _bars,
    _bars,
    _bars,
    _bars,
    _bars,  # open, high, low, close, volume (all symbols concatenated)
    types.int64[:],  # session id of every bar (sessions.session_ids), concatenated like the bars
    types.int64[:],  # offsets, length n_symbols + 1
    types.float64[:, :],  # params, one row per parameter set
    types.int64[:],
    types.int64[:],  # item_symbol, item_combo
    types.int64[:, :, :],  # windows[symbol, w] = (start, end) relative to the symbol
    types.float64,
    types.float64,
    types.float64,
    types.float64,
    types.boolean,  # cash, fees, fixed_fee, slippage, fill_close
    types.float64[:],  # periods_per_year per symbol
    types.float64[:],  # risk rules (risk_rules.risk_array)
    types.float64[:, :, :],  # metrics out[item, window, metric]
    types.float64[:, :, :],  # blocks out[item, block, (sum, sumsq)] over window 0
    types.int64[:],  # errors out[item]: 0 ok, BAD_LENGTH or BAD_VALUE (the item is not simulated)
)
BAD_LENGTH, BAD_VALUE = 1, 2


@njit(cache=True, nogil=True, inline="always")
def _exposure_error_nb(exposure, n):
    """0 when ``exposure`` has ``n`` values, each in [-1, 1] or NaN; else BAD_LENGTH or BAD_VALUE."""
    if exposure.shape[0] != n:
        return BAD_LENGTH
    for i in range(n):
        x = exposure[i]
        if x > 1.0 or x < -1.0:
            return BAD_VALUE
    return 0


@njit(cache=True, nogil=True, inline="always")
def _window_metrics_nb(
    open_,
    close,
    exposure,
    sessions,
    windows,
    cash,
    fees,
    fixed_fee,
    slippage,
    fill_close,
    periods_per_year,
    risk,
    metrics_out,
    blocks_out,
):
    """Metrics of one exposure series in each window (``windows[w] = (start, end)``) into ``metrics_out[w]``;
    the block moments of window 0 into ``blocks_out``. Nothing is recorded."""
    no_record = np.empty(0)
    no_trades = np.empty((0, N_TRADE_FIELDS))
    for w in range(windows.shape[0]):
        run_nb(
            open_,
            close,
            exposure,
            sessions,
            windows[w, 0],
            windows[w, 1],
            cash,
            fees,
            fixed_fee,
            slippage,
            fill_close,
            periods_per_year,
            risk,
            metrics_out[w],
            blocks_out if w == 0 else blocks_out[:0],
            False,
            no_record,
            no_record,
            no_trades,
        )


@njit(_SWEEP_SIG, cache=True, nogil=True)
def sweep_signals_nb(
    signal_fn,
    open_,
    high,
    low,
    close,
    volume,
    sessions,
    offsets,
    params,
    item_symbol,
    item_combo,
    windows,
    cash,
    fees,
    fixed_fee,
    slippage,
    fill_close,
    periods_per_year,
    risk,
    metrics_out,
    blocks_out,
    errors_out,
):
    """Metrics of every (symbol, parameter set) item in every window, signals computed by ``signal_fn``.

    An exposure array of the wrong length or with a value outside [-1, 1] (NaN allowed) flags the item in
    ``errors_out`` instead of being simulated, so the caller can name the parameter set. One thread: callers
    run slices of the items in threads (``parallel_items``), as it holds no GIL; a numba ``prange`` here would
    double the kernel's compile time on a cold cache.
    """
    for k in range(item_symbol.shape[0]):
        s = item_symbol[k]
        a = offsets[s]
        b = offsets[s + 1]
        exposure = signal_fn(open_[a:b], high[a:b], low[a:b], close[a:b], volume[a:b], params[item_combo[k]])
        errors_out[k] = _exposure_error_nb(exposure, b - a)
        if errors_out[k] == 0:
            _window_metrics_nb(
                open_[a:b],
                close[a:b],
                exposure,
                sessions[a:b],
                windows[s],
                cash,
                fees,
                fixed_fee,
                slippage,
                fill_close,
                periods_per_year[s],
                risk,
                metrics_out[k],
                blocks_out[k],
            )


@njit(cache=True, parallel=True, nogil=True)
def sweep_exposures_nb(
    open_,
    close,
    exposures,
    sessions,
    windows,
    cash,
    fees,
    fixed_fee,
    slippage,
    fill_close,
    periods_per_year,
    risk,
    metrics_out,
    blocks_out,
):
    """Like ``sweep_signals_nb`` for one symbol whose exposures (rows) were computed outside numba."""
    for k in prange(exposures.shape[0]):
        _window_metrics_nb(
            open_,
            close,
            exposures[k],
            sessions,
            windows,
            cash,
            fees,
            fixed_fee,
            slippage,
            fill_close,
            periods_per_year,
            risk,
            metrics_out[k],
            blocks_out[k],
        )


# --- universes: one work item = a parameter set of a universe strategy over the whole panel ---------------------

_f8_2d = types.float64[:, ::1]
# The one signature a compiled weights function is adapted to: (open, high, low, close, volume, params), each bar
# array 2-D (bars x symbols).
WEIGHTS_SIG = types.float64[:, :](_f8_2d, _f8_2d, _f8_2d, _f8_2d, _f8_2d, _f8)


@njit(cache=True, nogil=True)
def panel_metrics_nb(
    open_,
    close,
    last_closes,
    fill_marks,
    weights,
    days,
    allowed,
    risk,
    windows,
    cash,
    fees,
    fixed_fee,
    slippage,
    fill_close,
    leverage,
    periods_per_year,
    metrics_out,
    blocks_out,
    errors_out,
):
    """Metrics of one weights panel in each window (``windows[w] = (start, end)``) into ``metrics_out[w]``, the
    block moments of window 0 into ``blocks_out``; the first error (code, bar, symbol) into ``errors_out``."""
    no_record = np.empty(0)
    no_rows = np.empty((0, 0))
    for w in range(windows.shape[0]):
        simulate_weights_nb(
            open_, close, last_closes, fill_marks, weights, days, allowed, risk, windows[w, 0], windows[w, 1], cash,
            fees, fixed_fee, slippage, fill_close, leverage, periods_per_year, metrics_out[w],
            blocks_out if w == 0 else blocks_out[:0], errors_out, False, no_record, no_record, no_rows, no_rows,
            no_rows, TARGET_PERCENT,
        )  # fmt: skip
        if errors_out[0] != 0:
            return


@njit(cache=True, parallel=True, nogil=True)
def sweep_weight_panels_nb(
    open_,
    close,
    last_closes,
    fill_marks,
    weights,
    days,
    allowed,
    risk,
    windows,
    cash,
    fees,
    fixed_fee,
    slippage,
    fill_close,
    leverage,
    periods_per_year,
    metrics_out,
    blocks_out,
    errors_out,
):
    """Metrics of every parameter set of a universe strategy over the panel, in every window, from its weights
    (``weights[k]``: set k's), each simulated and reduced to metrics. A set flagged in ``errors_out[k]`` already
    is skipped; one whose weights ask more than ``leverage`` or to trade a symbol without a price is flagged
    (code, bar, symbol) (``portfolio.OVER_LEVERAGE``, ``portfolio.NAN_PRICE``)."""
    for k in prange(weights.shape[0]):
        if errors_out[k, 0] != 0:
            continue
        panel_metrics_nb(
            open_, close, last_closes, fill_marks, weights[k], days, allowed, risk, windows, cash, fees, fixed_fee,
            slippage, fill_close, leverage, periods_per_year, metrics_out[k], blocks_out[k], errors_out[k],
        )  # fmt: skip

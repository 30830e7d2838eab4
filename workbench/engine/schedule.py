"""The event scheduler of the event-driven backtest: which bar needs an order next, and why.

It walks bars exactly like ``simulate.run_nb`` (same signal, clamp, risk and marking steps, same rule
kernels) but executes nothing: it stops where ``run_nb`` would trade and hands the decision to the Python
side (RiskManager -> OrderManager -> broker), which resumes it after the fill. Between events it only marks
equity for the drawdown rule, so Python runs only where something happens.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from workbench.engine.risk_rules import (
    EXIT_MAX_DRAWDOWN,
    MAX_EXPOSURE,
    NO_EXIT,
    clamp_exposure_nb,
    exit_reason_nb,
    update_extreme_nb,
)

SIGNAL, RISK, MARK = 0, 1, 2  # phases of a bar: the strategy's signal, the risk rules, marking at the close


@njit(cache=True, nogil=True)
def next_event_nb(
    t, phase, end, exposure, close, fill_close, last_target, cash, position, entry_price, extreme, peak, halted, risk
):
    """Scan from bar ``t`` (at ``phase``) for the next order; returns
    ``(bar, phase, target, reason, last_target, extreme, peak, halted)``.

    ``bar == end`` means no more orders. ``reason`` is 0 for a strategy order, else the ``risk_rules.EXIT_*``
    code of a risk exit (whose ``target`` is 0). With close fills the order is due at ``close[bar]`` and the
    scan resumes at ``(bar, RISK)`` after a signal order or ``(bar, MARK)`` after a risk exit; with
    next-open fills it is due at ``open[bar + 1]`` and the scan resumes at ``(bar + 1, SIGNAL)`` once it filled.
    """
    while t < end:
        pending = np.nan
        pending_reason = 0
        if phase == SIGNAL:
            target = exposure[t]
            if not halted and not np.isnan(target):
                target = clamp_exposure_nb(min(max(target, -1.0), 1.0), risk[MAX_EXPOSURE])
                if target != last_target:
                    last_target = target
                    if fill_close:
                        return t, SIGNAL, target, 0, last_target, extreme, peak, halted
                    pending = target
        if phase != MARK and not halted:
            extreme = update_extreme_nb(position, extreme, close[t])
            reason = exit_reason_nb(position, entry_price, extreme, close[t], cash + position * close[t], peak, risk)
            if reason != NO_EXIT:
                halted = reason == EXIT_MAX_DRAWDOWN
                if fill_close:
                    return t, RISK, 0.0, reason, last_target, extreme, peak, halted
                if halted or np.isnan(pending):
                    pending = 0.0
                    pending_reason = reason
        equity = cash + position * close[t]
        if not equity <= peak:
            peak = equity
        if not np.isnan(pending):
            return t, SIGNAL, pending, pending_reason, last_target, extreme, peak, halted
        t += 1
        phase = SIGNAL
    return end, SIGNAL, 0.0, 0, last_target, extreme, peak, halted

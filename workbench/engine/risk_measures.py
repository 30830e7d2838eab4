"""How close an account is to its risk limits: drawdown, the day's loss, gross and net exposure.

The RiskMonitor steps ``measures_step_nb`` on every bar and fill of a live session; a backtest runs the same
step over its equity path with ``measures_path_nb``. ``alert_level_nb`` grades a measure against its limit,
so both raise the same alerts at the same bars.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from workbench.engine.risk_rules import DAILY_LOSS, MAX_DRAWDOWN, MAX_GROSS_EXPOSURE, MAX_NET_EXPOSURE

MEASURES = ("drawdown", "daily_loss", "gross_exposure", "net_exposure")
N_MEASURES = len(MEASURES)
#: The risk-rule slot (``risk_rules.RISK_FIELDS``) each measure is graded against.
MEASURE_RULES = (MAX_DRAWDOWN, DAILY_LOSS, MAX_GROSS_EXPOSURE, MAX_NET_EXPOSURE)
LEVELS = ("ok", "warning", "breach")
OK, WARNING, BREACH = range(3)
CLEAR_MARGIN = 0.9  # a level clears once the measure is 10 % below the threshold that raised it
# Slots of the monitor state: highest equity, current day, equity the day started from, last equity.
_PEAK, _DAY, _DAY_START, _LAST = range(4)


def new_measures_state(equity: float) -> np.ndarray:
    """The state before the first observation of an account worth ``equity``."""
    return np.array([equity, -1.0, equity, equity])


@njit(cache=True, nogil=True)
def measures_step_nb(equity, gross_value, net_value, day, state, out):
    """Measures after an observation into ``out`` (as fractions, losses positive): drawdown from the peak,
    loss since the previous day's last equity, gross and absolute net exposure (position values / equity)."""
    if day != state[_DAY]:
        state[_DAY] = day
        state[_DAY_START] = state[_LAST]
    if equity > state[_PEAK]:
        state[_PEAK] = equity
    state[_LAST] = equity
    out[0] = max(1.0 - equity / state[_PEAK], 0.0) if state[_PEAK] > 0 else 0.0
    out[1] = max(1.0 - equity / state[_DAY_START], 0.0) if state[_DAY_START] > 0 else 0.0
    out[2] = gross_value / equity if equity > 0 else np.inf
    out[3] = abs(net_value) / equity if equity > 0 else np.inf


@njit(cache=True, nogil=True)
def alert_level_nb(value, limit, warn_at, previous):
    """``BREACH`` at or past ``limit``, ``WARNING`` from ``warn_at`` x limit, else ``OK`` (NaN limit: ``OK``).

    A level is left only once the measure is ``CLEAR_MARGIN`` below the level's threshold, so a measure
    hovering at a threshold does not raise an alert on every bar.
    """
    if np.isnan(limit):
        return OK
    if value >= limit:
        return BREACH
    level = WARNING if value >= warn_at * limit else OK
    if previous == BREACH and value >= CLEAR_MARGIN * limit:
        return BREACH
    if previous >= WARNING and level == OK and value >= CLEAR_MARGIN * warn_at * limit:
        return WARNING
    return level


@njit(cache=True, nogil=True)
def measures_path_nb(equity, gross_value, net_value, day, cash0, risk, warn_at, measures_out, levels_out):
    """``measures_step_nb`` and ``alert_level_nb`` over a recorded path (one row per bar)."""
    state = np.array([cash0, -1.0, cash0, cash0])
    for t in range(equity.shape[0]):
        measures_step_nb(equity[t], gross_value[t], net_value[t], day[t], state, measures_out[t])
        for m in range(measures_out.shape[1]):
            previous = levels_out[t - 1, m] if t > 0 else OK
            levels_out[t, m] = alert_level_nb(measures_out[t, m], risk[MEASURE_RULES[m]], warn_at, previous)

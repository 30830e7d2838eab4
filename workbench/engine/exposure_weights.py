"""A one-symbol strategy's exposures over several symbols at fixed weights, as a universe's weights (the rows the
N-symbol core trades): at a bar time where some symbol that can trade has a target (``weight x`` its last exposure)
other than the one last sent, every symbol that can trade is sent its target, so the holdings that drifted go back
to their weights; no weight otherwise (NaN). A symbol that cannot trade keeps its target for the next time it can.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def exposure_row_nb(exposures, weights, tradable, exposure, sent, out):
    """One bar time's weights into ``out`` from its ``exposures`` (NaN: none given; each held within [-1, 1] as the
    one-symbol kernel holds it); ``exposure`` (each symbol's last) and ``sent`` (the targets last sent, NaN: unknown)
    are updated. Returns whether the row gives any weight."""
    moved = False
    for j in range(weights.shape[0]):
        if exposures[j] == exposures[j]:
            exposure[j] = min(max(exposures[j], -1.0), 1.0)
        target = weights[j] * exposure[j]
        moved = moved or (tradable[j] and target != sent[j])
    for j in range(weights.shape[0]):
        out[j] = np.nan
        if moved and tradable[j]:
            out[j] = weights[j] * exposure[j]
            sent[j] = out[j]
    return moved


@njit(cache=True, nogil=True)
def exposure_rows_nb(exposures, weights, tradable, out):
    """The weights of every bar time (``exposures`` and ``tradable``: bars x symbols) into ``out``, from flat."""
    m = weights.shape[0]
    exposure = np.zeros(m)
    sent = np.zeros(m)
    for t in range(exposures.shape[0]):
        exposure_row_nb(exposures[t], weights, tradable[t], exposure, sent, out[t])

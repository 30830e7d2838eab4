"""``ExposureWeights``: a one-symbol strategy run over several symbols at fixed weights, as the weights of a universe.

A portfolio of a one-symbol strategy holds each symbol at ``weight x its exposure`` (the last exposure its own bars
gave) of the whole account, and rebalances when a target moves: at a bar time where some symbol's target differs
from the one last sent and that symbol can trade, every symbol that can trade is sent its target (the holdings that
drifted go back to their weights); otherwise no weight is given (NaN). A symbol that cannot trade then (no bar at
the fill, outside its trading hours, not allowed) keeps its target for the next time it can. Fed to the N-symbol
core (`trading.universe.UniverseDriver`) sized ``AFTER_FEES``, these weights are the one-symbol kernel on one symbol.
"""

from __future__ import annotations

import numpy as np


class ExposureWeights:
    """The weights row of each bar time from the symbols' exposures; see the module docstring.

    Examples
    --------
    >>> targets = ExposureWeights(np.array([0.5, 0.5]))
    >>> targets.row(np.array([1.0, np.nan]), np.array([True, True]))
    array([0.5, 0. ])
    >>> targets.row(np.array([1.0, 0.0]), np.array([True, True]))  # nothing moved: no order
    array([nan, nan])
    """

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        self.exposure = np.zeros(len(self.weights))  # each symbol's last exposure (0 before its first)
        self.sent = np.zeros(len(self.weights))  # the targets last sent (NaN: unknown, sent at the next row)

    def row(self, exposures: np.ndarray, tradable: np.ndarray) -> np.ndarray:
        """The weights of a bar time whose exposures (NaN: none given) are ``exposures`` and whose orders can fill
        for the symbols ``tradable``."""
        self.exposure = np.where(np.isnan(exposures), self.exposure, exposures)
        target = self.weights * self.exposure
        if not (tradable & (target != self.sent)).any():
            return np.full(len(target), np.nan)
        self.sent = np.where(tradable, target, self.sent)
        return np.where(tradable, target, np.nan)

    def start(self, exposure: np.ndarray, sent: np.ndarray) -> None:
        """Continue from warm-up bars: ``exposure`` in force, ``sent`` the exposures already traded to (NaN where
        not known)."""
        self.exposure = np.asarray(exposure, dtype=np.float64).copy()
        self.sent = self.weights * np.asarray(sent, dtype=np.float64)

    def resync(self, symbols: np.ndarray | None = None) -> None:
        """Forget what was sent (for ``symbols``, a boolean mask; all by default): their targets go out again at the
        next row where they can trade (after a pause, or for positions whose targets are not known)."""
        self.sent = np.where(np.ones(len(self.sent), dtype=bool) if symbols is None else symbols, np.nan, self.sent)

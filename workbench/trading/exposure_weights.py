"""``ExposureWeights``: a one-symbol strategy run over several symbols at fixed weights, as the weights of a universe,
one bar time at a time (`engine.exposure_weights` says when a row rebalances). Fed to the N-symbol core
(`trading.universe.UniverseDriver`) sized ``AFTER_FEES``, these weights are the one-symbol kernel on one symbol.
"""

from __future__ import annotations

import numpy as np

from workbench.engine.exposure_weights import exposure_row_nb


class ExposureWeights:
    """The weights row of each bar time from the symbols' exposures, as bars arrive.

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
        out = np.empty(len(self.weights))
        exposure_row_nb(np.asarray(exposures, dtype=np.float64), self.weights, tradable, self.exposure, self.sent, out)
        return out

    def start(self, exposure: np.ndarray, sent: np.ndarray) -> None:
        """Continue from warm-up bars: ``exposure`` in force, ``sent`` the exposures already traded to (NaN where
        not known)."""
        self.exposure = np.asarray(exposure, dtype=np.float64).copy()
        self.sent = self.weights * np.asarray(sent, dtype=np.float64)

    def resync(self, symbols: np.ndarray | None = None) -> None:
        """Forget what was sent (for ``symbols``, a boolean mask; all by default): their targets go out again at the
        next row where they can trade (after a pause, or for positions whose targets are not known)."""
        self.sent = np.where(np.ones(len(self.sent), dtype=bool) if symbols is None else symbols, np.nan, self.sent)

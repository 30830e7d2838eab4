"""``UniverseJob``: a universe strategy's grid run, cut into chunks of parameter sets like a ``GridJob`` (the local
loop and the Dask engine run either the same way): one item is one parameter set over the whole panel."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from workbench.engine.grid_job import row_values
from workbench.engine.inputs import Costs
from workbench.engine.metrics import N_METRICS
from workbench.engine.portfolio import BAD_SHAPE, OK
from workbench.engine.universe_run import weights_error
from workbench.strategies.kernel import is_compiled, signal_kernel
from workbench.strategies.universe import Panel, UniverseStrategy, call_weights


@dataclass(frozen=True)
class UniverseJob:
    """Everything a chunk of a universe grid run reads: the grid (and as the kernels' float64 matrix), the panel,
    the windows (start, end) over the panel's rows, the costs, the leverage allowed and the periods per year."""

    grid: pd.DataFrame
    params: np.ndarray
    panel: Panel
    windows: np.ndarray
    costs: Costs
    leverage: float
    ppy: float
    n_blocks: int

    @classmethod
    def build(
        cls,
        grid: pd.DataFrame,
        panel: Panel,
        windows: np.ndarray,
        costs: Costs,
        leverage: float,
        ppy: float,
        n_blocks: int,
    ) -> UniverseJob:
        """The job of ``grid`` over ``panel``, the grid as a writable float64 matrix for the kernels."""
        params = np.array(grid.to_numpy(dtype=np.float64), dtype=np.float64, order="C", copy=True)
        return cls(grid, params, panel, windows, costs, leverage, ppy, n_blocks)

    @property
    def n_items(self) -> int:
        return len(self.grid)

    @property
    def cells_per_item(self) -> float:
        """Bar-symbol cells one item simulates, over all its windows (the unit of work that sizes chunks)."""
        n, m = self.panel.shape
        return float(n * m * self.windows.shape[0])

    def bytes_per_item(self, strategy: type[UniverseStrategy]) -> float:
        """Memory an item needs while its chunk runs: its outputs, plus its weights when computed in Python (a
        compiled strategy's are simulated as each thread makes them)."""
        outputs = 8.0 * (self.windows.shape[0] * N_METRICS + 2 * self.n_blocks + 3)
        n, m = self.panel.shape
        return outputs if is_compiled(strategy) else outputs + 8.0 * n * m

    def outputs(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Empty metrics (NaN) and block arrays for ``n`` items."""
        return np.full((n, self.windows.shape[0], N_METRICS), np.nan), np.zeros((n, self.n_blocks, 2))

    def check(self, strategy: type[UniverseStrategy]) -> None:
        """One call in Python first: a wrong shape, dtype or an infinite weight fails with a clear message."""
        call_weights(strategy, self.panel, row_values(strategy, self.grid, 0))

    def run(
        self, strategy: type[UniverseStrategy], start: int, stop: int, metrics: np.ndarray, blocks: np.ndarray
    ) -> None:
        """Metrics and blocks of parameter sets ``start .. stop - 1``; ``ValueError`` names the first set whose
        weights ask for more than the leverage or to trade a symbol without a price."""
        from workbench.engine.sweep_kernel import panel_metrics_nb, sweep_weight_panels_nb
        from workbench.engine.weights_kernel import last_prices_nb

        costs, arrays = self.costs, self.panel.arrays
        errors = np.zeros((stop - start, 3), dtype=np.int64)
        marks = (last_prices_nb(arrays[3]), last_prices_nb(arrays[3] if costs.fill_close else arrays[0]))
        rules = (*costs.account_sessions(self.panel.index, self.panel.symbols), costs.risk, self.windows)
        common = (costs.cash, costs.fees, costs.fixed_fee, costs.slippage, costs.fill_close, self.leverage, self.ppy)
        if is_compiled(strategy):  # each set's weights simulated by the thread that made them, while in cache
            weights_fn, shape = signal_kernel(strategy), self.panel.shape

            def one(k: int) -> None:
                weights = weights_fn(*arrays, self.params[start + k])
                if weights.shape != shape:
                    errors[k, 0] = BAD_SHAPE
                    return
                panel_metrics_nb(
                    arrays[0], arrays[3], *marks, np.ascontiguousarray(weights, dtype=np.float64), *rules, *common,
                    metrics[k], blocks[k], errors[k],
                )  # fmt: skip

            with ThreadPoolExecutor(max_workers=numba.get_num_threads()) as pool:
                list(pool.map(one, range(stop - start)))
        else:
            weights = np.stack(
                [call_weights(strategy, self.panel, row_values(strategy, self.grid, k)) for k in range(start, stop)]
            )
            sweep_weight_panels_nb(arrays[0], arrays[3], *marks, weights, *rules, *common, metrics, blocks, errors)
        self.raise_on_error(strategy, start, errors)

    def raise_on_error(self, strategy: type[UniverseStrategy], start: int, errors: np.ndarray) -> None:
        """The first flagged parameter set's error, naming the set, the bar and the symbols."""
        bad = np.flatnonzero(errors[:, 0] != OK)
        if not len(bad):
            return
        k = int(bad[0])
        values = row_values(strategy, self.grid, start + k)
        named = dict(zip(strategy.params(), values, strict=True))
        if errors[k, 0] == BAD_SHAPE:
            raise ValueError(f"{strategy.__name__}.weights returned another shape than the panel's {self.panel.shape}")
        row = call_weights(strategy, self.panel, values)[errors[k, 1]]
        message = weights_error(errors[k], row, self.panel, self.costs.fill_close, self.leverage)
        raise ValueError(f"{strategy.__name__} with {named}: {message}")

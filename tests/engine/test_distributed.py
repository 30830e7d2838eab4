"""The Dask engine: sweeps and walk-forward on a 2-worker LocalCluster equal the local engine, row for row,
even when a worker dies mid-sweep; Ctrl-C cancels the outstanding chunks; bad engine arguments are refused."""

from __future__ import annotations

import itertools
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import workbench as wb
import workbench.engine.chunks as chunks
import workbench.engine.distributed as dist_module
from workbench.engine.chunks import chunk_bounds
from workbench.engine.strategy_ref import StrategyImportError, StrategyRef, resolve, strategy_ref

distributed = pytest.importorskip("distributed")

GRID = {"fast": range(5, 40, 5), "slow": range(20, 120, 20)}  # 32 parameter sets with fast < slow
COSTS = {"fees": 0.001, "slippage": 0.0005, "fixed_fee": 1.0, "cash": 25_000.0}
RISK = {"stop_loss": 0.05, "max_drawdown": 0.2}


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of a few items each, so a small grid still spreads over several tasks per worker."""
    monkeypatch.setattr(chunks, "MIN_CELLS_PER_CHUNK", 1)


@pytest.fixture(scope="module")
def two_symbols(spy, qqq):
    return {"SPY": spy, "QQQ": qqq}


def assert_same_metrics(local: pd.DataFrame, other: pd.DataFrame) -> None:
    """Same index and columns, integer columns bit for bit, floats within 1e-12 (relative), NaN where NaN."""
    pd.testing.assert_index_equal(local.index, other.index, exact=True)
    pd.testing.assert_index_equal(local.columns, other.columns, exact=True)
    for column in local.columns:
        a, b = local[column].to_numpy(), other[column].to_numpy()
        assert a.dtype == b.dtype, column
        if np.issubdtype(a.dtype, np.integer):
            np.testing.assert_array_equal(a, b, err_msg=column)
        else:
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=column)


def assert_same_sweep(local, other) -> None:
    assert other.complete and local.complete
    assert_same_metrics(local.metrics, other.metrics)
    np.testing.assert_allclose(other.blocks, local.blocks, rtol=1e-12, atol=1e-12)


class NumpyMomentum(wb.Strategy):
    """Long while the close is above the close ``fast`` bars ago and below the one ``slow`` bars ago (numpy)."""

    fast = wb.Param(int, 5, min=1, window=True)
    slow = wb.Param(int, 30, min=1, window=True)
    constraints = ("fast < slow",)

    @staticmethod
    def signals(open, high, low, close, volume, fast, slow):
        out = np.zeros(close.shape[0])
        out[slow:] = ((close[slow:] > close[slow - fast : -fast]) & (close[slow:] < close[:-slow])).astype(float)
        return out


# ---------------------------------------------------------------------------------------------------------------
# identical to local
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["sma_cross", NumpyMomentum], ids=["compiled", "numpy"])
def test_sweep_equals_local_multi_symbol_with_risk(client, small_chunks, two_symbols, strategy):
    args = {"progress": False, "risk": RISK, **COSTS, **GRID}
    local = wb.sweep(strategy, two_symbols, **args)
    remote = wb.sweep(strategy, two_symbols, engine="dask", client=client, **args)
    assert (local.metrics["trades"] > 0).any()
    assert_same_sweep(local, remote)


def test_a_class_defined_in_a_function_travels_by_value(client, spy):
    from numba import njit

    @njit(nogil=True)
    def above_signals(open, high, low, close, volume, window):
        out = np.zeros(close.shape[0])
        for i in range(window, close.shape[0]):
            out[i] = 1.0 if close[i] > close[i - window] else 0.0
        return out

    class Above(wb.Strategy):
        window = wb.Param(int, 10, min=1, window=True)
        signals = staticmethod(above_signals)

    assert strategy_ref(Above) is Above
    local = wb.sweep(Above, spy, progress=False, window=range(2, 60, 3))
    assert_same_sweep(local, wb.sweep(Above, spy, progress=False, engine="dask", client=client, window=range(2, 60, 3)))


def test_walk_forward_equals_local(client, small_chunks, two_symbols):
    args = {"train": "2Y", "test": "6M", "progress": False, "fees": 0.001, **GRID}
    local = wb.walk_forward("sma_cross", two_symbols, **args)
    remote = wb.walk_forward("sma_cross", two_symbols, engine="dask", client=client, **args)
    pd.testing.assert_frame_equal(remote.windows, local.windows, check_exact=False, rtol=1e-12, atol=1e-12)
    pd.testing.assert_frame_equal(remote.oos_metrics, local.oos_metrics, check_exact=False, rtol=1e-12, atol=1e-12)
    for symbol, equity in local.equity.items():
        pd.testing.assert_series_equal(remote.equity[symbol], equity, check_exact=False, rtol=1e-12)


def test_scheduler_address_string(client, spy):
    local = wb.sweep("sma_cross", spy, progress=False, **GRID)
    remote = wb.sweep("sma_cross", spy, progress=False, engine="dask", client=client.scheduler.address, **GRID)
    assert_same_sweep(local, remote)


def test_cli_sweep_on_a_scheduler(client, tmp_path):
    from workbench.cli import main

    args = ["sweep", "sma_cross", "-p", "fast=5:20:5", "-p", "slow=30:60:10", "--fill", "close"]
    assert main([*args, "--out", str(tmp_path / "local.csv")]) == 0
    remote = [*args, "--engine", "dask", "--scheduler", client.scheduler.address, "--out", str(tmp_path / "dask.csv")]
    assert main(remote) == 0
    local_rows, dask_rows = (pd.read_csv(tmp_path / f"{name}.csv") for name in ("local", "dask"))
    pd.testing.assert_frame_equal(dask_rows, local_rows, check_exact=False, rtol=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# a worker lost mid-sweep, Ctrl-C
# ---------------------------------------------------------------------------------------------------------------


class KillOnce(distributed.WorkerPlugin):
    """Kills its worker's process when the worker finishes a chunk, ``kills`` times in all (flag files count them)."""

    def __init__(self, flag: str, kills: int = 1) -> None:
        self.flag, self.kills = flag, kills

    def transition(self, key, start, finish, **kwargs) -> None:
        if finish == "memory" and "run_chunk" in str(key):
            for n in range(self.kills):
                try:
                    os.close(os.open(f"{self.flag}.{n}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                except FileExistsError:
                    continue
                os._exit(1)


def _wait_for_two_new_workers(client, before: set) -> set:
    deadline = time.monotonic() + 60  # the nanny restarts a killed worker (a new address) for the next tests
    while time.monotonic() < deadline:
        workers = set(client.scheduler_info()["workers"])
        if len(workers) == 2 and workers != before:
            break
        time.sleep(0.1)
    return workers


def test_a_worker_killed_mid_sweep_costs_only_its_chunks(client, small_chunks, two_symbols, tmp_path):
    args = {"progress": False, **COSTS, **GRID}
    local = wb.sweep("sma_cross", two_symbols, **args)
    flag = tmp_path / "killed"
    before = set(client.scheduler_info()["workers"])
    client.register_plugin(KillOnce(str(flag)), name="kill-once")
    try:
        remote = wb.sweep("sma_cross", two_symbols, engine="dask", client=client, **args)
    finally:
        client.unregister_worker_plugin("kill-once")
    assert Path(f"{flag}.0").exists(), "no worker was killed"
    assert_same_sweep(local, remote)
    workers = _wait_for_two_new_workers(client, before)
    assert len(workers) == 2 and workers != before, (before, workers)


def test_every_worker_killed_mid_sweep_still_gives_the_local_rows(client, small_chunks, two_symbols, tmp_path):
    args = {"progress": False, **COSTS, **GRID}
    local = wb.sweep("sma_cross", two_symbols, **args)
    flag = tmp_path / "killed"
    before = set(client.scheduler_info()["workers"])
    client.register_plugin(KillOnce(str(flag), kills=2), name="kill-twice")
    try:
        remote = wb.sweep("sma_cross", two_symbols, engine="dask", client=client, **args)
    finally:
        client.unregister_worker_plugin("kill-twice")
    assert Path(f"{flag}.0").exists() and Path(f"{flag}.1").exists(), "both workers were to be killed"
    assert_same_sweep(local, remote)
    workers = _wait_for_two_new_workers(client, before)
    assert len(workers) == 2 and not workers & before, (before, workers)


def test_ctrl_c_cancels_the_outstanding_chunks_and_keeps_the_leading_rows(client, small_chunks, spy, monkeypatch):
    full = wb.sweep("sma_cross", spy, progress=False, **GRID)

    class InterruptedBar:
        def __init__(self, *args, **kwargs) -> None:
            self.updates = 0

        def update(self, n: int) -> None:
            self.updates += 1
            if self.updates == 2:
                raise KeyboardInterrupt

        def close(self) -> None:
            pass

    monkeypatch.setattr(dist_module, "tqdm", InterruptedBar)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = wb.sweep("sma_cross", spy, progress=False, engine="dask", client=client, **GRID)
    messages = [str(w.message) for w in caught if w.category is RuntimeWarning]
    assert len(messages) == 1 and messages[0].startswith("sweep interrupted:"), messages
    assert not res.complete and len(res.metrics) < len(full.metrics)
    assert_same_metrics(full.metrics.iloc[: len(res.metrics)], res.metrics)
    deadline = time.monotonic() + 10
    while any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(client.processing().values()), "chunks still running after the sweep was cancelled"


# ---------------------------------------------------------------------------------------------------------------
# bad arguments, strategies workers cannot import, chunking
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "part"),
    [
        ({"engine": "spark"}, ValueError, "engine='spark': must be one of local, dask"),
        ({"client": "tcp://127.0.0.1:1"}, ValueError, "needs engine='dask'"),
        ({"engine": "dask", "client": 42}, TypeError, "client=42"),
    ],
)
def test_bad_engine_arguments(spy, kwargs, exc, part):
    with pytest.raises(exc, match=part):
        wb.sweep("sma_cross", spy, progress=False, **kwargs, **GRID)
    with pytest.raises(exc, match=part):
        wb.walk_forward("sma_cross", spy, progress=False, **kwargs, **GRID)


def test_an_unreachable_scheduler_is_named(spy):
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), pytest.raises(ConnectionError, match=r"127"):
        wb.sweep("sma_cross", spy, progress=False, engine="dask", client="tcp://127.0.0.1:9", **GRID)


def test_a_strategy_the_worker_cannot_import_is_refused_clearly(tmp_path):
    missing = StrategyRef("nowhere.gone", "Gone", str(tmp_path / "gone.py"), None)
    with pytest.raises(StrategyImportError, match=r"Gone .*cannot be imported on this worker"):
        resolve(missing)


def test_a_worker_copy_with_other_source_is_refused():
    cls = wb.strategy("sma_cross")
    ref = strategy_ref(cls)
    assert resolve(ref) is cls
    with pytest.raises(StrategyImportError, match="differs from the client's"):
        resolve(StrategyRef(ref.module, ref.qualname, ref.path, "0" * 40))


def test_chunk_bounds_tile_the_items_in_order():
    bounds = chunk_bounds(12_000, 1e5, 1e3, threads=3, memory_per_thread=None, max_cells=1e12)
    assert bounds[0][0] == 0 and bounds[-1][1] == 12_000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert len(bounds) == 4 * 3  # 4 per worker thread
    # at least MIN_CELLS_PER_CHUNK (1e7) bar-runs a chunk; at most the local chunk; within a worker's memory
    assert len(chunk_bounds(1000, 1e5, 1e3, threads=8, memory_per_thread=None, max_cells=1e12)) == 10
    assert len(chunk_bounds(1000, 1e6, 1e3, threads=1, memory_per_thread=None, max_cells=1e7)) == 100
    assert len(chunk_bounds(1000, 5e4, 1e6, threads=1, memory_per_thread=4e7, max_cells=4e7)) == 100

"""Strategy modules keep a stable name, so numba's on-disk cache still loads after a checkout moves."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import workbench as wb

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = "import workbench as wb; print(wb.sweep('sma_cross', wb.load('SPY'), fast=5, slow=30, progress=False))"


def test_strategy_module_name_is_stable() -> None:
    cls = wb.strategy("sma_cross")
    assert cls.__module__ == "strategies.sma_cross"  # what `from strategies.sma_cross import ...` gives
    assert wb.strategy("sma_cross") is cls


def test_moved_checkout_reuses_its_numba_cache(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in ("workbench", "strategies"):
        shutil.copytree(ROOT / folder, first / folder, ignore=shutil.ignore_patterns("__pycache__"))
    env = {"PYTHONPATH": "", "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-c", SCRIPT], cwd=first, capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    shutil.copytree(first, second)  # with the __pycache__ the first run wrote
    moved = subprocess.run([sys.executable, "-c", SCRIPT], cwd=second, capture_output=True, text=True, env=env)
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout == run.stdout and "sma_cross: 1 runs over SPY" in moved.stdout


DIRECT = (
    "from strategies.sma_cross import SmaCross; import workbench as wb; "
    "bars = wb.load('SPY'); arrays = [bars[c].to_numpy() for c in ('open', 'high', 'low', 'close', 'volume')]; "
    "print(SmaCross.signals(*arrays, 5, 30).sum())"
)


def test_direct_import_and_registry_share_the_cache_in_either_order(tmp_path: Path) -> None:
    for folder in ("workbench", "strategies"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    env = {"PYTHONPATH": "", "PATH": "/usr/bin:/bin"}
    outputs = []
    for script in (SCRIPT, DIRECT, SCRIPT, DIRECT):  # registry first, then a direct import, then again
        proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[2] and outputs[1] == outputs[3]

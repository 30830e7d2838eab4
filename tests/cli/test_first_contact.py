"""First contact: `workbench --help` imports nothing heavy, and a command about to fill a cold numba cache says so."""

from __future__ import annotations

import subprocess
import sys

from numba.core import config

import workbench.engine  # sets numba's cache folder, which the tests below move
from workbench.cli import compiling, main

HEAVY = ("pandas", "numba", "sqlalchemy", "pydantic", "panel", "fastapi", "workbench.engine", "workbench.config")


def test_help_imports_none_of_the_heavy_modules() -> None:
    code = "import sys; from workbench.cli import app; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert [name for name in HEAVY if name in loaded] == []


def test_a_cold_cache_is_announced_and_a_warm_one_is_not(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path))
    assert compiling.cache_is_cold("sweep") and compiling.cache_is_cold("backtest")
    compiling.say_if_compiling("sweep")
    assert capsys.readouterr().err == (
        "compiling numba kernels, once per install (~10 s on two cores; `workbench warmup` does it ahead)...\n"
    )
    source = compiling.Path(workbench.engine.__file__).parent / "sweep_kernel.py"
    folder = tmp_path / compiling_subpath(source)
    folder.mkdir()
    (folder / "sweep_kernel.sweep_signals_nb-106.py311.nbi").write_bytes(b"")
    assert not compiling.cache_is_cold("sweep") and compiling.cache_is_cold("backtest")
    compiling.say_if_compiling("sweep")
    assert capsys.readouterr().err == ""


def compiling_subpath(source) -> str:
    from numba.core.caching import UserProvidedCacheLocator

    return UserProvidedCacheLocator.get_suitable_cache_subpath(str(source))


def test_warmup_is_a_command(capsys) -> None:
    assert main(["warmup", "--help"]) == 0
    assert "Compile and cache the numba kernels" in capsys.readouterr().out

"""The ``volume_signal`` strategy the drift tests trade: long while a bar's volume reaches ``level``, so a test
scripts its trades in the volume column. A fixture module (``pytest_plugins``); a test module opts in with
``pytestmark = pytest.mark.usefixtures("volume_signal")``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

STRATEGY = '''
"""Long while the bar's volume reaches ``level``: tests script their trades in the volume column."""
import numpy as np
from workbench import Param, Strategy


class VolumeSignal(Strategy):
    level = Param(float, 2e6, min=0.0)

    @staticmethod
    def signals(open, high, low, close, volume, level):
        return (volume >= level).astype(np.float64)
'''


@pytest.fixture
def volume_signal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``strategies/volume_signal.py`` in a fresh working directory, where ``wb.strategy`` looks first."""
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "volume_signal.py").write_text(textwrap.dedent(STRATEGY))
    monkeypatch.chdir(tmp_path)

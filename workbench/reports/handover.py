"""A finished result handed from a notebook to the report's kernel through a file.

``cloudpickle`` carries the result with its bars; strategies defined in a notebook (``__main__``) or a local
``strategies/`` folder travel by value, so the kernel needs neither the notebook's code nor the registry.
This module imports no trading or research code: ``result.report()`` reaches it from the results themselves.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any


def hand_over(result: Any, sweep: Any = None, walk_forward: Any = None, folder: Path | None = None) -> Path:
    """Write ``result`` (a backtest, or None to report the sweep's best set) with its ``sweep`` and
    ``walk_forward`` to a temporary file the report's kernel reads back (``source.taken_over``); strategies
    not shipped with workbench are pickled by value."""
    import cloudpickle

    modules = set() if result is None else {type(result.strategy).__module__}
    if sweep is not None:
        modules.add(sweep.strategy.__module__)
    if walk_forward is not None:
        modules.add(walk_forward.strategy.__module__)
    for name in modules:
        module = sys.modules.get(name)
        if module is not None and name != "__main__" and not name.startswith("workbench."):
            cloudpickle.register_pickle_by_value(module)
    # removed by build_report once the kernel has read it
    with tempfile.NamedTemporaryFile(prefix="workbench-report-", suffix=".pkl", dir=folder, delete=False) as handle:
        cloudpickle.dump({"result": result, "sweep": sweep, "walk_forward": walk_forward}, handle)
    return Path(handle.name)


def same_run(result: Any, sweep: Any) -> None:
    """Refuse a sweep that did not run on the backtest's strategy and bars: its heatmap would mislead."""
    if sweep is None:
        return
    mine, swept = result.spec, sweep.spec
    if swept.strategy != mine.strategy or swept.data_hash != mine.data_hash:
        raise ValueError(
            f"The sweep ({swept.strategy} on {', '.join(swept.symbols)}) did not run on the backtest's strategy "
            "and bars, so its heatmap would not show where these parameters came from."
        )

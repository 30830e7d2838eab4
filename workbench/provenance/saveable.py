"""``Saveable``: ``save()`` and ``report()`` for every result that knows what it was made of (its ``spec``).

A result of a backtest or a sweep saves itself in the store (`workbench.provenance.saved`) and reports itself as
HTML (`workbench.reports`); neither needs to know which kind of result it is given.
"""

from __future__ import annotations

from typing import Any


class Saveable:
    """``save()`` and ``report()`` for results that have a ``spec``: the run goes to the store
    (``workbench.provenance.saved``) or into an HTML report (``workbench.reports``)."""

    def report(self, out: Any = None, show_code: bool = False, sweep: Any = None, walk_forward: Any = None) -> Any:
        """Write this result's HTML report, built from the result itself (a sweep reports its best set's
        backtest); returns the path. ``sweep`` (the sweep the parameters came from) adds its heatmap and
        overfitting verdict, ``walk_forward`` its out-of-sample curve."""
        from workbench.reports import report_result

        return report_result(self, out, show_code, sweep, walk_forward)

    def save(self, store: Any = None, *, name: str | None = None) -> int:
        """Save this run in ``store`` (default: the configured database) and return its run id; list saved
        runs with ``wb.runs()`` and reproduce one with ``workbench runs rerun ID``."""
        from workbench.provenance.saved import save_run

        return save_run(self, store, name=name)

"""HTML reports of backtests: ``notebooks/backtest_report.ipynb`` run by papermill, exported by nbconvert.

The notebook is the report's only source; ``build_report`` checks the parameters (before any kernel
starts), executes it in a real kernel and writes its HTML (code hidden, BokehJS inlined) atomically;
``report_result`` hands a finished result to the notebook instead (``handover``), so any result a notebook
holds gets a report::

    from workbench.reports import build_report, report_result
    build_report("sma_cross", "SPY", {"fast": 12, "slow": 80}, start="2015-01-01", fees=0.001,
                 sweep={"fast": "5:60:5", "slow": "20:250:10"}, walk_forward={"train": "3Y", "test": "1Y"})
    report_result(bt, sweep=res, walk_forward=wf)   # a finished backtest, the sweep and walk-forward behind it

Modules: ``tearsheet`` (the numbers), ``tables`` and ``display`` (tables and their one number format),
``plots``, ``summary`` (results' notebook HTML), ``offline`` (inline JavaScript in notebooks), ``source`` and
``handover`` (what a report shows, and how a result reaches its kernel).

The command line: ``workbench report sma_cross -p fast=12 -p slow=80 --symbols SPY --out reports/x.html``.
"""

from workbench.reports.build import build_report, report_result

__all__ = ["build_report", "report_result"]

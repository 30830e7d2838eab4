"""HTML reports of backtests: ``notebooks/backtest_report.ipynb`` run by papermill, exported by nbconvert.

The notebook is the report's only source; ``build_report`` checks the parameters (before any kernel
starts), executes it in a real kernel and writes its HTML (code hidden, BokehJS inlined) atomically::

    from workbench.reports import build_report, report_result
    build_report("sma_cross", "SPY", {"fast": 12, "slow": 80}, start="2015-01-01", fees=0.001)
    report_result(bt, sweep=res)   # a finished backtest (and the sweep its parameters came from)

The command line: ``workbench report sma_cross -p fast=12 -p slow=80 --symbols SPY --out reports/x.html``.
"""

from workbench.reports.build import build_report, report_result

__all__ = ["build_report", "report_result"]

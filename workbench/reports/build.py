"""``build_report`` and ``report_result``: check the parameters, run the report notebook, write its HTML."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any


def build_report(
    strategy: str,
    symbols: str | Sequence[str] = "SPY",
    params: Mapping[str, Any] | None = None,
    start: Any = None,
    end: Any = None,
    *,
    out: str | Path | None = None,
    show_code: bool = False,
    **settings: Any,
) -> Path:
    """Backtest ``strategy`` in the report notebook and write its HTML report; returns the file's path.

    ``settings`` are the other arguments of ``parameters.check_parameters`` (cash, fees, slippage, fill,
    fixed_fee, risk, weights, sweep ranges, metric, source, data_path, ...). Every parameter is checked
    before a kernel starts; on any failure no file is left at ``out`` (default:
    ``reports/<strategy>_<symbols>_<timestamp>.html`` under the current directory).

    Examples
    --------
    >>> build_report("sma_cross", "SPY", {"fast": 12, "slow": 80}, start="2015-01-01", fees=0.001,
    ...              sweep={"fast": "5:60:5", "slow": "20:250:10"})  # doctest: +SKIP
    PosixPath('.../reports/sma_cross_SPY_20250101-120000.html')
    """
    from workbench.reports.export import to_html, write_atomic
    from workbench.reports.notebook import execute
    from workbench.reports.parameters import check_parameters

    target = default_out(strategy, symbols) if out is None else _check_out(Path(out))
    parameters = check_parameters(strategy, symbols, params, start, end, **settings).parameters
    notebook = execute(parameters)
    notebook.metadata["title"] = f"{parameters['strategy']} on {', '.join(parameters['symbols'])}"
    return write_atomic(target, to_html(notebook, show_code=show_code))


def report_result(
    result: Any,
    out: str | Path | None = None,
    show_code: bool = False,
    sweep: Any = None,
    walk_forward: Any = None,
) -> Path:
    """The HTML report of a finished result, built from the result itself: any backtest a notebook holds
    (bars passed in memory, a strategy defined in the notebook, a universe strategy) or a sweep (reported by
    its best parameter set's backtest, with its heatmap). ``sweep``, the sweep the parameters came from, adds
    its heatmap and overfitting verdict; ``walk_forward`` (a ``WalkForwardResult``) its out-of-sample curve.
    The provenance section says whether the run can be made again from scratch, and how.

    Examples
    --------
    >>> import workbench as wb
    >>> bt = wb.backtest("sma_cross", wb.load("SPY", start="2015-01-01"), fees=0.001)
    >>> report_result(bt)  # doctest: +SKIP
    PosixPath('.../reports/sma_cross_SPY_20250101-120000.html')
    """
    from workbench.reports.export import to_html, write_atomic
    from workbench.reports.handover import hand_over, same_run
    from workbench.reports.notebook import execute

    if hasattr(result, "grid"):  # a SweepResult: the kernel backtests its best set
        result, sweep = None, result
    elif not hasattr(result, "equity") or not hasattr(result, "spec"):
        raise ValueError(f"A report shows a backtest or a sweep; {type(result).__name__} is neither.")
    else:
        same_run(result, sweep)
    spec = (sweep if result is None else result).spec
    target = default_out(spec.strategy, spec.symbols) if out is None else _check_out(Path(out))
    handed = hand_over(result, sweep, walk_forward)
    try:
        notebook = execute({"result_file": str(handed)})
    finally:
        handed.unlink(missing_ok=True)
    notebook.metadata["title"] = f"{spec.strategy} on {', '.join(spec.symbols)}"
    return write_atomic(target, to_html(notebook, show_code=show_code))


def default_out(strategy: str, symbols: str | Sequence[str], now: datetime | None = None) -> Path:
    """``reports/<strategy>_<symbols>_<YYYYmmdd-HHMMSS>.html`` under the current directory.

    Examples
    --------
    >>> default_out("sma_cross", ["SPY", "QQQ"], datetime(2025, 1, 2, 3, 4, 5)).name
    'sma_cross_SPY-QQQ_20250102-030405.html'
    """
    names = symbols.split(",") if isinstance(symbols, str) else list(symbols)
    label = "-".join(str(s).strip().upper() for s in names if str(s).strip())
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return Path.cwd() / "reports" / f"{strategy}_{label}_{stamp}.html"


def _check_out(path: Path) -> Path:
    """Refuse an output path that is not an ``.html`` file before any work is done."""
    path = path.expanduser().absolute()
    if path.suffix.lower() != ".html":
        raise ValueError(f"out={str(path)!r}: a report is an .html file; name one ending in .html.")
    if path.is_dir():
        raise ValueError(f"out={str(path)!r} is a folder; name the .html file to write.")
    return path

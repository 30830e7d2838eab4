"""``rerun``: run a recorded ``RunSpec`` again on the same bars and code, refusing when either changed;
``rerun_run``: the same for a run saved in the store, saying which numbers came out different."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.provenance.saved import differences, opened_store, result_metrics, run_row, spec_dict
from workbench.provenance.spec import NotReproducible, RunSpec, bars_hash, strategy_hash


def rerun(spec: RunSpec | Mapping[str, Any], *, check_code: bool = True, progress: bool = False) -> Any:
    """The result of running ``spec`` again: a ``BacktestResult`` or a ``SweepResult``.

    The bars are reloaded as ``wb.load`` made them and must hash as recorded; the strategy's source must hash
    as recorded unless ``check_code=False``. Raises ``NotReproducible`` saying which of them changed.

    Examples
    --------
    >>> import workbench as wb
    >>> bt = wb.backtest("sma_cross", wb.load("SPY", start="2020-01-01"), fees=0.001)
    >>> rerun(bt.spec).metrics.equals(bt.metrics)
    True
    """
    from workbench.data.load import load
    from workbench.research.sweep import sweep
    from workbench.strategies.registry import strategy
    from workbench.trading.backtest import backtest

    spec = spec if isinstance(spec, RunSpec) else RunSpec.from_dict(spec)
    if spec.origin is None:
        raise NotReproducible(
            "This run cannot be run again: its bars were passed in memory, not made by wb.load, so they cannot be "
            "reloaded. Load the bars with wb.load (from a source such as a CSV folder) to make a run reproducible."
        )
    origin = spec.origin
    bars = load(
        spec.symbols,
        start=origin["start"],
        end=origin["end"],
        source=origin["source"],
        path=origin["path"],
        nan_policy=origin["nan_policy"],
    )
    if bars_hash(bars) != spec.data_hash:
        raise NotReproducible(
            f"This run cannot be run again: the bars of {', '.join(spec.symbols)} from {origin['source']} changed "
            "since the run (their hash differs), so the data was updated or edited."
        )
    try:
        cls = strategy(spec.strategy)
    except Exception as exc:
        raise NotReproducible(
            f"This run cannot be run again: strategy {spec.strategy!r} is not registered here ({exc})."
        ) from None
    if check_code and strategy_hash(cls) != spec.strategy_hash:
        raise NotReproducible(
            f"This run cannot be run as it was: the source of strategy {spec.strategy!r} changed since the run. "
            "Pass check_code=False (CLI: --ignore-code) to run the current code on the recorded inputs."
        )
    data = bars if len(spec.symbols) > 1 else bars[bars.symbols[0]]
    costs, risk = dict(spec.costs), dict(spec.risk) or None
    if spec.kind == "backtest":
        return backtest(cls(**spec.params), data, **costs, risk=risk, weights=spec.weights)
    rows = {tuple(row) for row in spec.params["rows"]}
    return sweep(
        cls,
        data,
        **costs,
        risk=risk,
        metric=spec.metric or "sharpe",
        constraint=lambda grid: [tuple(row) in rows for row in grid.itertuples(index=False)],
        progress=progress,
        **spec.params["ranges"],
    )


def rerun_run(run_id: int, store: Any = None, *, check_code: bool = True) -> tuple[Any, list[str]]:
    """Run saved run ``run_id`` again; return the fresh result and how its numbers differ from the saved ones
    (empty when reproduced: every backtest metric equal to 1e-12 relative, a sweep's whole table hashing alike).

    Raises ``NotReproducible`` when the bars were passed in memory or changed, or the strategy's code changed
    (unless ``check_code=False``), or the run has no run spec (a live session).

    Examples
    --------
    >>> result, differences = rerun_run(1)  # doctest: +SKIP
    >>> differences  # doctest: +SKIP
    []
    """
    with opened_store(store) as opened, opened.unit_of_work(readonly=True) as uow:
        row = run_row(uow, run_id)
    try:
        spec = RunSpec.from_dict(spec_dict(row))
    except (TypeError, ValueError):  # missing fields, or a kind rerun does not know
        raise NotReproducible(
            f"Run {run_id} ({row.kind}) has no run spec to run again: only backtests and sweeps record one."
        ) from None
    result = rerun(spec, check_code=check_code)
    return result, differences(row.metrics or {}, result_metrics(result))

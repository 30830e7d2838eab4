"""Promotion of a strategy configuration from research to paper to live, and the check that guards live trading.

A configuration is a strategy, its parameter values and its symbols, at the strategy's current source (by hash).
`promote` runs the gates of the stage (`workbench.ops.promotion_gates`) and records the attempt whatever its
outcome, with each gate's numbers, the sweep it came from, the time and who asked, plus an audit entry:

* to ``paper``: the sweep, parity, look-ahead and overfitting gates, on the bars of the saved sweep;
* to ``live``: a promotion to paper, and a paper period (``paper_days`` trading days on Alpaca's paper account
  without a reconciliation halt).

A failing gate can be overridden with a reason; the promotion is then recorded ``overridden`` and audited.

`require_promotion` is what ``workbench live`` asks before it connects a broker: Alpaca paper needs a promotion
to paper (or live), Alpaca live one to live, of the same configuration and source; without one it refuses, naming
what is missing and the command to run, unless given an override reason (audited). The local ``sim`` broker needs
none: it is a simulation on the data source's bars, part of research.

>>> p = promote("sma_cross", {"fast": 10, "slow": 100}, ["SPY"], to="paper", sweep=3)  # doctest: +SKIP
>>> p.status, [g.name for g in p.gates if not g.passed]  # doctest: +SKIP
('passed', [])
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from workbench.errors import ConfigError, WorkbenchError
from workbench.ops.promotion_gates import (
    PAPER_BROKERS,
    PAPER_DAYS,
    Gate,
    lookahead_gate,
    overfitting_gate,
    paper_period_gate,
    parity_gate,
    same_values,
    sweep_gate,
)
from workbench.store.models_promotion import PromotionRow, PromotionStage, PromotionStatus
from workbench.strategies.base import StrategyBase
from workbench.strategies.universe import UniverseStrategy

#: The stage each broker needs; ``sim`` (local simulation) needs none.
STAGE_OF_BROKER = {"alpaca-paper": PromotionStage.PAPER, "alpaca-live": PromotionStage.LIVE}
_GOOD = (PromotionStatus.PASSED, PromotionStatus.OVERRIDDEN)


class PromotionRequired(WorkbenchError):
    """A configuration is not promoted to the stage its broker needs (the message says what is missing)."""


@dataclass(frozen=True)
class Promotion:
    """A recorded promotion attempt: its id, stage, outcome and gates."""

    id: int
    strategy: str
    params: dict[str, Any]
    symbols: list[str]
    stage: str
    status: str
    gates: list[Gate]
    sweep_run_id: int | None
    created_at: datetime
    override_reason: str | None = None

    @property
    def failed(self) -> list[Gate]:
        """The gates that did not pass."""
        return [g for g in self.gates if not g.passed]


def promote(
    strategy: str,
    params: Mapping[str, Any] | None,
    symbols: Sequence[str],
    *,
    to: str,
    store: Any,
    sweep: int | None = None,
    override_reason: str | None = None,
    actor: str | None = None,
    paper_days: int = PAPER_DAYS,
    paper_brokers: Sequence[str] = PAPER_BROKERS,
) -> Promotion:
    """Run the gates of stage ``to`` (``paper`` or ``live``) for ``strategy`` with ``params`` on ``symbols`` and
    record the attempt (see the module docstring); returns it, passed, failed or overridden.

    ``sweep`` is the saved sweep the parameters were chosen from (needed for paper; for live, the paper promotion's
    is kept). ``override_reason`` promotes even when a gate fails.

    Raises
    ------
    ConfigError
        ``to`` is no stage, ``symbols`` is empty, ``override_reason`` is blank or ``paper_days`` < 1.
    """
    from workbench.provenance.spec import strategy_hash
    from workbench.strategies.registry import strategy as lookup

    stage = _stage(to)
    reason = _reason(override_reason)
    if paper_days < 1:
        raise ConfigError(f"paper_days={paper_days!r}: expected at least 1 trading day")
    cls = lookup(strategy)
    values = cls(**dict(params or {})).values
    names = _symbols(symbols)
    source = strategy_hash(cls)
    if stage is PromotionStage.PAPER:
        gates = _paper_gates(store, sweep, cls, values, names)
    else:
        paper, sweep = _paper_promotion(store, cls, values, names, source, sweep)
        gates = [paper, paper_period_gate(store, cls, values, names, paper_days, tuple(paper_brokers))]
    passed = all(g.passed for g in gates)
    status = PromotionStatus.PASSED if passed else PromotionStatus.OVERRIDDEN if reason else PromotionStatus.FAILED
    who = actor or f"library:{getpass.getuser()}"
    with store.unit_of_work() as uow:
        row = uow.promotions.add(
            cls.name,
            params=values,
            symbols=names,
            stage=stage,
            status=status,
            sweep_run_id=sweep,
            strategy_source_hash=source,
            gates={g.name: g.to_dict() for g in gates},
            actor=who,
            override_reason=reason,
        )
        details = {"promotion_id": row.id, "stage": stage.value, "params": values, "symbols": names}
        details |= {"failed": [g.name for g in gates if not g.passed], "reason": reason}
        uow.audit.add(who, f"promotion.{status}", f"strategy:{cls.name}", details)
        return _promotion(row, gates)


def require_promotion(
    store: Any,
    strategy: StrategyBase,
    symbols: Sequence[str],
    broker: str,
    *,
    override_reason: str | None = None,
    actor: str | None = None,
) -> PromotionRow | None:
    """The promotion that lets ``strategy`` (a configured instance) trade ``symbols`` via ``broker``; None for the
    local ``sim`` broker, which needs none, or when started anyway with ``override_reason`` (audited).

    Raises
    ------
    PromotionRequired
        No promotion of this configuration and source to the stage ``broker`` needs; the message names what is
        missing and the command that promotes it.
    """
    from workbench.provenance.spec import strategy_hash

    stage = STAGE_OF_BROKER.get(broker)
    if stage is None:
        return None
    reason = _reason(override_reason)
    cls, values, names = type(strategy), strategy.values, _symbols(symbols)
    source = strategy_hash(cls)
    allowed = {PromotionStage.PAPER, PromotionStage.LIVE} if stage is PromotionStage.PAPER else {PromotionStage.LIVE}
    with store.unit_of_work(readonly=True) as uow:
        rows = [r for r in uow.promotions.find(strategy=cls.name, limit=None) if _covers(cls, r, values, names)]
    good = [r for r in rows if r.status in _GOOD and r.stage in allowed]
    current = next((r for r in good if r.strategy_source_hash == source), None)
    if current is not None:
        return current
    missing = _missing(rows, good, stage)
    if reason is None:
        flags = " ".join(f"-p {k}={v}" for k, v in values.items())
        sweep = " --sweep RUN_ID" if stage is PromotionStage.PAPER else ""
        raise PromotionRequired(
            f"{cls.name} {_text(values)} on {','.join(names)} is not promoted to {stage}, which --broker {broker} "
            f"needs: {missing}. Run: workbench promote {cls.name} {flags} --symbols {','.join(names)}{sweep} "
            f"--to {stage} (or start anyway with --override-reason TEXT, which is audited)"
        )
    who = actor or f"library:{getpass.getuser()}"
    with store.unit_of_work() as uow:
        details = {"stage": stage.value, "broker": broker, "params": values, "symbols": names, "missing": missing}
        uow.audit.add(who, "live.override", f"strategy:{cls.name}", {**details, "reason": reason})
    return None


def promotions(store: Any, *, strategy: str | None = None, limit: int | None = 50) -> pd.DataFrame:
    """The recorded promotion attempts, newest first, indexed by id: configuration, stage, outcome, each gate's
    pass or fail, the sweep, who and when.

    Examples
    --------
    >>> promotions(store, strategy="sma_cross")[["stage", "status"]]  # doctest: +SKIP
    """
    with store.unit_of_work(readonly=True) as uow:
        rows = uow.promotions.find(strategy=strategy, limit=limit)
    records = [
        {
            "id": r.id,
            "created_at": pd.Timestamp(r.created_at),
            "strategy": r.strategy,
            "params": r.params,
            "symbols": ",".join(r.symbols),
            "stage": r.stage,
            "status": r.status,
            "gates": " ".join(f"{name}:{'ok' if g['passed'] else 'FAIL'}" for name, g in r.gates.items()),
            "sweep": r.sweep_run_id,
            "actor": r.actor,
            "reason": r.override_reason,
        }
        for r in rows
    ]
    columns = ["id", "created_at", "strategy", "params", "symbols", "stage", "status", "gates", "sweep", "actor"]
    table = pd.DataFrame(records, columns=[*columns, "reason"]).set_index("id")
    table["sweep"] = table["sweep"].astype("Int64")  # a promotion to live may have none
    return table


def _paper_gates(
    store: Any, sweep: int | None, cls: type[StrategyBase], values: dict[str, Any], symbols: list[str]
) -> list[Gate]:
    """Sweep, parity, look-ahead and overfitting; the last three only on a sweep that reruns (their bars)."""
    if sweep is None:
        return [Gate("sweep", False, "no sweep given: name the saved sweep the parameters were chosen from")]
    lineage, result = sweep_gate(store, sweep, cls, values, symbols)
    if result is None:
        return [lineage]
    return [
        lineage,
        parity_gate(result, cls, values, symbols),
        lookahead_gate(result.frames, cls, values, symbols),
        overfitting_gate(result, values, symbols),
    ]


def _paper_promotion(
    store: Any, cls: type[StrategyBase], values: dict[str, Any], symbols: list[str], source: str, sweep: int | None
) -> tuple[Gate, int | None]:
    """The gate "promoted to paper" (same configuration and source), and the sweep to record."""
    with store.unit_of_work(readonly=True) as uow:
        rows = uow.promotions.find(strategy=cls.name, stage=PromotionStage.PAPER, status=_GOOD, limit=None)
    row = next((r for r in rows if _covers(cls, r, values, symbols) and r.strategy_source_hash == source), None)
    if row is None:
        detail = "not promoted to paper (with this source): promote it to paper first"
        return Gate("paper_promotion", False, detail), sweep
    detail = f"promoted to paper as #{row.id} ({row.status}) on {row.created_at:%Y-%m-%d %H:%M} UTC"
    return Gate("paper_promotion", True, detail, {"promotion_id": row.id}), sweep or row.sweep_run_id


def _covers(cls: type[StrategyBase], row: PromotionRow, values: dict[str, Any], symbols: list[str]) -> bool:
    """Whether promotion ``row`` is of these parameter values and includes these symbols (a universe strategy's:
    exactly these, its account being all of them)."""
    universe = issubclass(cls, UniverseStrategy)
    held = set(symbols) == set(row.symbols) if universe else set(symbols) <= set(row.symbols)
    return held and same_values(cls, row.params, values)


def _missing(rows: list[PromotionRow], good: list[PromotionRow], stage: PromotionStage) -> str:
    """What the newest attempts say is missing, in words."""
    if good:
        return f"promotion #{good[0].id} was of other code: the strategy's source changed since; promote it again"
    attempt = next((r for r in rows if r.stage == stage), None)
    if attempt is not None:
        failed = [f"{name} ({g['detail']})" for name, g in attempt.gates.items() if not g["passed"]]
        return f"promotion #{attempt.id} failed the gate(s) {'; '.join(failed)}"
    if stage is PromotionStage.LIVE and any(r.stage == PromotionStage.PAPER and r.status in _GOOD for r in rows):
        return "it is promoted to paper, not yet to live: the paper period gate is missing"
    gates = "parity, look-ahead and overfitting gates" if stage is PromotionStage.PAPER else "paper period gate"
    return f"no promotion of it is recorded (missing: the {gates})"


def _promotion(row: PromotionRow, gates: list[Gate]) -> Promotion:
    return Promotion(
        id=row.id,
        strategy=row.strategy,
        params=dict(row.params),
        symbols=list(row.symbols),
        stage=row.stage,
        status=row.status,
        gates=gates,
        sweep_run_id=row.sweep_run_id,
        created_at=row.created_at,
        override_reason=row.override_reason,
    )


def _stage(to: str) -> PromotionStage:
    try:
        return PromotionStage(to)
    except ValueError:
        raise ConfigError(f"to={to!r}: expected paper or live") from None


def _reason(text: str | None) -> str | None:
    if text is None:
        return None
    if not text.strip():
        raise ConfigError("override reason is blank: expected a sentence saying why the gates are overridden")
    return text.strip()


def _symbols(symbols: Sequence[str]) -> list[str]:
    names = [s.strip().upper() for s in symbols if s.strip()]
    if not names:
        raise ConfigError(f"symbols={list(symbols)!r}: expected at least one symbol")
    return names


def _text(values: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in values.items()) or "(defaults)"

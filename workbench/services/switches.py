"""The trading switches — a strategy switched on or off, halted or resumed — read (`strategies`) and made one way by
every front end: the CLI (`workbench.cli.strategies`, `workbench.cli.trading`), the API
(`workbench.api.routes_strategies`, `workbench.api.routes_account`) and the dashboard (`workbench.ui.actions`).
Live sessions act on these store flags (`workbench.trading.live`).

Each switch changes the ``strategies`` table and writes its audit entry in the caller's unit of work, so both
commit together or not at all. The actions are ``strategy.enable`` and ``strategy.disable`` (target
``strategy:<name>``), ``trading.halt`` and ``trading.resume`` (target ``strategy:<name>`` for one strategy,
``trading`` for every one; the details list the strategies either way). A name that is not stored is refused
(`StoreError`), never created. The front ends keep their own checks (scopes, HTTP errors, the in-process trading
account) and add to each entry when it happened (``now``) and what they know of the caller (``context``: the
credential, the request's source).

>>> from workbench.store import Store
>>> store = Store.open("sqlite://")
>>> with store.unit_of_work() as uow:
...     _ = uow.strategies.add("sma_cross", enabled=True)
...     _ = uow.strategies.add("rsi", enabled=True)
>>> with store.unit_of_work() as uow:
...     set_enabled(uow, "rsi", False, "cli:ada").enabled
...     halt(uow, "drill", "cli:ada")
...     uow.strategies.get("sma_cross").halted_reason
...     resume(uow, "cli:ada")
False
['sma_cross']
'drill (cli:ada)'
['sma_cross']
>>> with store.unit_of_work(readonly=True) as uow:
...     [(entry.action, entry.target) for entry in uow.audit.find()]
[('trading.resume', 'trading'), ('trading.halt', 'trading'), ('strategy.disable', 'strategy:rsi')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workbench.auth.audit import audit
from workbench.store.database import Store
from workbench.store.models_trading import StrategyRow
from workbench.store.types import utcnow
from workbench.store.unit_of_work import UnitOfWork

#: The audit actions of the switches.
ENABLE, DISABLE, HALT, RESUME = "strategy.enable", "strategy.disable", "trading.halt", "trading.resume"
#: The longest halt reason kept (the API's request schema says the same).
MAX_REASON = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Switches:
    """A strategy the live side knows (its first session stored it), with its switches."""

    name: str
    enabled: bool
    mode: str
    halted: bool
    halted_reason: str | None
    params: dict[str, Any]
    updated_at: datetime

    @classmethod
    def of(cls, row: StrategyRow) -> Switches:
        return cls(
            row.name, row.enabled, row.mode, row.halted, row.halted_reason, dict(row.params or {}), row.updated_at
        )


def strategies(store: Store) -> list[Switches]:
    """Every stored strategy with its switches, by name.

    >>> strategies(Store.open("sqlite://"))
    []
    """
    with store.unit_of_work(readonly=True) as uow:
        return [Switches.of(row) for row in uow.strategies.find()]


def check_reason(text: str) -> str:
    """A halt's reason, trimmed: 1 to `MAX_REASON` characters, no control characters, or ``ValueError`` saying so.

    >>> check_reason("  drawdown drill ")
    'drawdown drill'
    """
    text = (text or "").strip()
    if not text or len(text) > MAX_REASON or _CONTROL.search(text):
        raise ValueError(f"reason={text[:40]!r}: a halt needs a reason of 1 to {MAX_REASON} characters, none a control")
    return text


def target(strategy: str | None) -> str:
    """The audit target of a switch of ``strategy``, or of every strategy (None).

    >>> target("sma_cross"), target(None)
    ('strategy:sma_cross', 'trading')
    """
    return "trading" if strategy is None else f"strategy:{strategy}"


def halted_reason(reason: str, actor: str) -> str:
    """What a halt records as its reason: why, and who pulled the switch.

    >>> halted_reason("drill", "tom")
    'drill (tom)'
    """
    return f"{reason} ({actor})"


def set_enabled(
    uow: UnitOfWork, name: str, enabled: bool, actor: str, *, now: datetime | None = None, **context: Any
) -> StrategyRow:
    """Switch strategy ``name`` on (it trades from its next bar, unless halted) or off (no new orders; positions
    stay), audited as ``strategy.enable`` / ``strategy.disable``; returns its row.

    >>> set_enabled(uow, "sma_cross", False, "tom", credential="key:wbk_1a2b", source="10.0.0.7")  # doctest: +SKIP
    """
    row = uow.strategies.update(name, enabled=enabled)
    _audit(uow, actor, ENABLE if enabled else DISABLE, target(name), now, context, enabled=enabled)
    return row


def halt(
    uow: UnitOfWork,
    reason: str,
    actor: str,
    strategy: str | None = None,
    *,
    now: datetime | None = None,
    **context: Any,
) -> list[str]:
    """The kill switch: halt ``strategy``, or every enabled strategy not halted yet, with the reason
    ``"<reason> (<actor>)"`` (``reason`` as `check_reason` leaves it); their sessions cancel working orders, flatten
    and stay halted, across restarts, until resumed. Audited as ``trading.halt``; returns the names halted.

    >>> halt(uow, "drawdown", "cli:ada", "sma_cross")  # doctest: +SKIP
    ['sma_cross']
    """
    reason = check_reason(reason)
    names = [row.name for row in uow.strategies.enabled()] if strategy is None else [strategy]
    for name in names:
        uow.strategies.halt(name, halted_reason(reason, actor))
    _audit(uow, actor, HALT, target(strategy), now, context, reason=reason, strategies=names)
    return names


def resume(
    uow: UnitOfWork, actor: str, strategy: str | None = None, *, now: datetime | None = None, **context: Any
) -> list[str]:
    """Lift the halt of ``strategy``, or of every halted strategy (a person's decision, so also a halt by a risk
    rule or a failed reconciliation). Audited as ``trading.resume``; returns the names resumed.

    >>> resume(uow, "tom")  # doctest: +SKIP
    ['rsi', 'sma_cross']
    """
    names = [row.name for row in uow.strategies.find() if row.halted] if strategy is None else [strategy]
    for name in names:
        uow.strategies.resume(name)
    _audit(uow, actor, RESUME, target(strategy), now, context, strategies=names)
    return names


def _audit(
    uow: UnitOfWork,
    actor: str,
    action: str,
    where: str,
    now: datetime | None,
    context: dict[str, Any],
    **details: Any,
) -> None:
    """The audit entry of a switch: its details, with the front end's ``context``."""
    audit(uow, actor, action, where, now=now or utcnow(), **context, **details)

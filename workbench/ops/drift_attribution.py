"""The P&L difference between a trading run and its model, split order by order into its causes.

Both paths are lists of orders placed on bars (`Placed`, each with its fills); quantities are signed (bought > 0).
With every position marked at the period's last close ``c``, a path's P&L is exactly ``sum(q * (c - p) - fee)``
over its fills (from flat), so the difference splits exactly, as an implementation shortfall does:

* orders are matched: each model order takes the run's first unmatched order on the same side placed from the
  model's bar up to the model's next order; the rest are model-only (missed by the run) or run-only (extra);
* each fill of a run's order: **slippage** ``-q (p - R(b))``, its price against the model's price ``R`` on the
  bar it filled (the bar's open or close by the fill model, with the model's slippage), and **latency**
  ``-q (R(b) - P)``, the move from the model's price ``P`` on the model's bar to the bar it filled on;
* quantity differences ``dq``, each worth ``dq (c - P)`` at the model's price: **missed** (an order one path
  filled and the other did not), **partial** (the unfilled part of the run's order) and **size** (the run
  ordered another quantity: the knock-on of different cash). A difference stays open until a later matched
  order trades the run back to the model's target; that order closes it at its price, booked to the same cause,
  so a partial entry costs what its missing shares would have made until the exit;
* **fees**: the fees the run paid minus the model's.

The components of every order add up to its P&L difference, so they add up to the total (`Attribution.total`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: The causes the execution difference is split into, in the order reports list them.
COMPONENTS = ("slippage", "latency", "missed", "partial", "size", "fees")


@dataclass(frozen=True)
class Execution:
    """One fill: signed quantity, price, fee and the bar (index into the period's bars) it happened on."""

    qty: float
    price: float
    fee: float
    bar: int


@dataclass(frozen=True)
class Placed:
    """One order of a path: the bar it was placed on, its signed ordered quantity, its final status, its fills."""

    order_id: str
    bar: int
    qty: float
    status: str
    fills: tuple[Execution, ...] = ()

    @property
    def side(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self.qty > 0 else -1

    @property
    def filled(self) -> float:
        """Signed quantity filled."""
        return sum(f.qty for f in self.fills)

    @property
    def price(self) -> float:
        """Average fill price (NaN before any fill)."""
        filled = self.filled
        return sum(f.qty * f.price for f in self.fills) / filled if filled else math.nan

    @property
    def fees(self) -> float:
        """Fees of all its fills."""
        return sum(f.fee for f in self.fills)


@dataclass
class Attribution:
    """The components of the difference (run minus model), in total and per matched pair of orders (``rows``:
    the model's order, the run's order, and what the pair contributed to each component)."""

    components: dict[str, float]
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> float:
        """Sum of the components: the run's P&L minus the model's."""
        return sum(self.components.values())


def pnl(orders: Sequence[Placed], close: float) -> float:
    """A path's P&L from flat: its fills marked at ``close``, net of fees.

    Examples
    --------
    >>> buy = Placed("a", 0, 10.0, "filled", (Execution(10.0, 100.0, 1.0, 0),))
    >>> pnl([buy], close=103.0)
    29.0
    """
    return sum(f.qty * (close - f.price) - f.fee for order in orders for f in order.fills)


def match(model: Sequence[Placed], session: Sequence[Placed]) -> list[tuple[Placed | None, Placed | None]]:
    """Pairs of (model order, run order) in time order; None where one path has no counterpart.

    A model order that traded nothing (refused by the simulated broker) is no decision to compare and is left
    out; the run's order then counts as extra.
    """
    traded = sorted((m for m in model if m.filled != 0.0), key=lambda m: m.bar)
    ordered = sorted(range(len(session)), key=lambda i: session[i].bar)
    used: set[int] = set()
    pairs: list[tuple[Placed | None, Placed | None]] = []
    for k, m in enumerate(traded):
        until = traded[k + 1].bar if k + 1 < len(traded) else math.inf
        j = next(
            (i for i in ordered if i not in used and session[i].side == m.side and m.bar <= session[i].bar <= until),
            None,
        )
        if j is not None:
            used.add(j)
        pairs.append((m, None if j is None else session[j]))
    pairs += [(None, session[i]) for i in ordered if i not in used]
    pairs.sort(key=lambda pair: (pair[0] or pair[1]).bar)  # stable: a model order before a run-only one
    return pairs


def attribute(
    model: Sequence[Placed],
    session: Sequence[Placed],
    close: float,
    reference: Callable[[int, float], float],
) -> Attribution:
    """Split ``pnl(session) - pnl(model)`` into `COMPONENTS` (see the module docstring).

    ``close`` is the last bar's close (both paths are marked there); ``reference(bar, qty)`` is the model's fill
    price for ``qty`` units on ``bar``.

    Examples
    --------
    The run filled a buy 0.5 above the model and sold one bar late, 2.0 lower than the model did:

    >>> model = [Placed("m1", 1, 10, "filled", (Execution(10, 100.0, 0.0, 1),)),
    ...          Placed("m2", 3, -10, "filled", (Execution(-10, 110.0, 0.0, 3),))]
    >>> run = [Placed("s1", 1, 10, "filled", (Execution(10, 100.5, 0.0, 1),)),
    ...        Placed("s2", 3, -10, "filled", (Execution(-10, 108.0, 0.0, 4),))]
    >>> opens = {1: 100.0, 3: 110.0, 4: 108.0}
    >>> a = attribute(model, run, close=107.0, reference=lambda bar, qty: opens[bar])
    >>> {k: round(v, 9) for k, v in a.components.items() if v}, round(a.total, 9)
    ({'slippage': -5.0, 'latency': -20.0}, -25.0)
    """
    ledger = _Ledger(close)
    rows = []
    for m, s in match(model, session):
        row: dict[str, Any] = {"model": m, "session": s, **dict.fromkeys(COMPONENTS, 0.0)}
        if m is not None and s is not None and s.filled != 0.0:
            price = m.price
            _fills(s, price, reference, row)
            carried = ledger.close_out(price, row)
            ledger.book("partial", s.filled - s.qty, price, row)
            ledger.book("size", s.qty - m.filled - carried, price, row)
        elif m is not None:  # the run missed it: no order, or one that filled nothing
            ledger.book("missed", -m.filled, m.price, row)
        else:  # an order of the run alone
            for f in s.fills:
                ref = reference(f.bar, f.qty)
                row["slippage"] -= f.qty * (f.price - ref)
                ledger.book("missed", f.qty, ref, row)
        row["fees"] -= (s.fees if s is not None else 0.0) - (m.fees if m is not None else 0.0)
        rows.append(row)
    components = {c: sum(row[c] for row in rows) for c in COMPONENTS}
    return Attribution(components, rows)


def _fills(order: Placed, model_price: float, reference: Callable[[int, float], float], row: dict) -> None:
    """Slippage and latency of each fill of a matched run order."""
    for f in order.fills:
        ref = reference(f.bar, f.qty)
        row["slippage"] -= f.qty * (f.price - ref)
        row["latency"] -= f.qty * (ref - model_price)


class _Ledger:
    """The run's quantity differences still open, by cause, and their value marked at the last close."""

    def __init__(self, close: float) -> None:
        self.close = close
        self.open = dict.fromkeys(("missed", "partial", "size"), 0.0)

    def book(self, cause: str, dq: float, price: float, row: dict) -> None:
        """Open a difference of ``dq`` units at ``price`` (the run holds ``dq`` more than the model from now)."""
        if dq:
            row[cause] += dq * (self.close - price)
            self.open[cause] += dq

    def close_out(self, price: float, row: dict) -> float:
        """Close every open difference at ``price``, each booked to its cause; returns the quantity that took."""
        carried = 0.0
        for cause, dq in self.open.items():
            if dq:
                row[cause] -= dq * (self.close - price)
                carried -= dq
                self.open[cause] = 0.0
        return carried

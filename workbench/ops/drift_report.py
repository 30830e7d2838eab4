"""``DriftReport``: a run against its model (made by ``workbench.ops.drift``), and the report as one standalone HTML
page: the run, the P&Ls, the attribution table, the orders side by side and the bars that differ from the reference
(no scripts, no network: it opens anywhere). A run of several symbols shows its weights, the account's table split
by symbol, and each symbol's orders."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from workbench.reports.export import write_atomic

_PAGE = jinja2.Environment(autoescape=True).from_string(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Drift of run {{ r.run_id }}: {{ r.strategy }} on {{ r.symbol }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; }
tr.total td { font-weight: bold; } .neg { color: #b00020; } .pos { color: #1b5e20; }
</style></head><body>
<h1>Drift of run {{ r.run_id }}: {{ r.strategy }} on {{ r.symbol }}</h1>
<p>{{ r.strategy }} {{ params }} via {{ r.broker }}, {{ r.bars|length }} bars received from {{ first }} to {{ last }};
starting cash {{ money(r.cash) }}; costs {{ costs }}.{% if several %} Weights: {{ weights }}.{% endif %}</p>
<table>
<tr><th class="text">P&amp;L</th><th>amount</th></tr>
<tr><td class="text">recorded by the run</td><td>{{ money(r.session_pnl) }}</td></tr>
<tr><td class="text">model on the bars received</td><td>{{ money(r.model_pnl) }}</td></tr>
<tr><td class="text">model on the reference data</td>
<td>{{ "not measured" if r.reference_pnl is none else money(r.reference_pnl) }}</td></tr>
</table>
<h2>Where the difference comes from</h2>
<table>
<tr><th class="text">component</th><th>P&amp;L</th><th class="text">what it measures</th></tr>
{% for name, row in r.table.iterrows() %}
<tr{% if name == "total" %} class="total"{% endif %}><td class="text">{{ name }}</td>
<td class="{{ sign(row.pnl) }}">{{ money(row.pnl) }}</td><td class="text">{{ row.explanation }}</td></tr>
{% endfor %}
</table>{% if several %}
<h2>By symbol</h2>
<p>Each symbol's orders against the model's; data and other are measured for the whole account.</p>
<table>
<tr><th class="text">component</th>{% for s in r.symbols %}<th>{{ s }}</th>{% endfor %}</tr>
{% for name, row in r.by_symbol.iterrows() %}
<tr><td class="text">{{ name }}</td>{% for s in r.symbols %}<td class="{{ sign(row[s]) }}">{{ money(row[s]) }}</td>
{% endfor %}</tr>
{% endfor %}
</table>{% endif %}
{% if r.notes %}<ul>{% for note in r.notes %}<li>{{ note }}</li>{% endfor %}</ul>{% endif %}
{% for symbol, table in orders %}<h2>Orders{% if several %} of {{ symbol }}{% endif %}, model and run side by side</h2>
{{ table }}
{% endfor %}<h2>Bars that differ from the reference</h2>
{% if r.data_differences|length %}{{ differences }}{% else %}<p>none</p>{% endif %}
</body></html>
"""
)


@dataclass
class DriftReport:
    """A run against its model: the P&Ls, the attribution table, the orders side by side, the data differences.

    A run of several symbols in one account (``symbols``; ``symbol`` then names them all, comma-separated, as the
    run records them) traded by ``weights``: ``table`` is the account's, ``by_symbol`` splits its execution
    components by symbol, and ``bars``, ``orders`` and ``data_differences`` hold every symbol's rows, each led by
    a ``symbol`` column (`orders_of` gives one symbol's orders).
    """

    run_id: int
    strategy: str
    params: dict[str, Any]
    symbol: str
    broker: str
    cash: float
    costs: dict[str, Any]
    bars: pd.DataFrame = field(repr=False)
    session_pnl: float
    model_pnl: float
    reference_pnl: float | None
    table: pd.DataFrame = field(repr=False)
    orders: pd.DataFrame = field(repr=False)
    data_differences: pd.DataFrame = field(repr=False)
    notes: list[str] = field(default_factory=list)
    symbols: tuple[str, ...] = ()
    weights: dict[str, float] = field(default_factory=dict)
    by_symbol: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def __post_init__(self) -> None:
        self.symbols = tuple(self.symbols) or (self.symbol,)

    @property
    def total(self) -> float:
        """The run's recorded P&L minus the model's (on the reference data when there is some)."""
        return float(self.table.loc["total", "pnl"])

    def orders_of(self, symbol: str) -> pd.DataFrame:
        """``symbol``'s orders, model and run side by side (a table like a one-symbol report's ``orders``).

        Raises
        ------
        KeyError
            ``symbol`` is not one of the run's.
        """
        name = symbol.upper()
        if name not in self.symbols:
            raise KeyError(f"{symbol}: run {self.run_id} trades {', '.join(self.symbols)}")
        if len(self.symbols) == 1:
            return self.orders
        rows = self.orders[self.orders["symbol"] == name]
        return rows.drop(columns="symbol").reset_index(drop=True)

    def to_html(self) -> str:
        """The report as one standalone HTML page (see the module docstring)."""
        return render(self)

    def write(self, path: str | Path) -> Path:
        """Write `to_html` to ``path`` atomically; returns it."""
        return write_atomic(Path(path), self.to_html())


def render(report: DriftReport) -> str:
    """``report`` as an HTML page.

    Examples
    --------
    >>> page = render(drift("latest", store))  # doctest: +SKIP
    >>> page.startswith("<!DOCTYPE html>")  # doctest: +SKIP
    True
    """
    index = report.bars.index
    return _PAGE.render(
        r=report,
        params=", ".join(f"{k}={v}" for k, v in report.params.items()) or "defaults",
        costs=", ".join(f"{k}={v}" for k, v in report.costs.items()),
        first=index[0].isoformat(),
        last=index[-1].isoformat(),
        money=_money,
        sign=_sign,
        several=len(report.symbols) > 1,
        weights=", ".join(f"{s} {w:.4g}" for s, w in report.weights.items()),
        orders=[(symbol, _html(report.orders_of(symbol))) for symbol in report.symbols],
        differences=_html(report.data_differences),
    )


def _money(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:,.2f}"


def _sign(value: float) -> str:
    return "neg" if value < -0.005 else "pos" if value > 0.005 else ""


def _html(frame: pd.DataFrame) -> Any:
    """A table as HTML (pandas escapes the cells), numbers to 4 decimals."""
    from markupsafe import Markup

    return Markup(frame.to_html(float_format=lambda v: f"{v:,.4f}", na_rep="", border=0, escape=True))

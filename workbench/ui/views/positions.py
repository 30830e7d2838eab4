"""Positions: every open position of the live runs with its price, market value and unrealized P&L."""

from __future__ import annotations

import panel as pn

from workbench.ui.poller import PollState
from workbench.ui.views.common import show, table

COLUMNS = [
    "symbol", "strategy", "run_id", "qty", "avg_price", "price", "market_value", "unrealized_pnl", "realized_pnl",
    "fees", "priced_at",
]  # fmt: skip


class PositionsView(pn.viewable.Viewer):
    """The open positions; ``price`` is the run's last mark (or its last fill, when that came later)."""

    def __init__(self) -> None:
        super().__init__()
        self.table = table(COLUMNS, "wb-positions")
        self.total = pn.pane.Markdown("")

    def update(self, state: PollState) -> None:
        """Show the positions of ``state``."""
        positions = state.snapshot.positions
        show(self.table, positions)
        unrealized = float(positions["unrealized_pnl"].sum()) if len(positions) else 0.0
        self.total.object = f"**{len(positions)} open positions**, unrealized P&L **{unrealized:+,.2f}**"

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.total, self.table, sizing_mode="stretch_width")

"""Orders and fills of the live runs, newest first, filtered by status, symbol and strategy; a trader cancels a
working order here: at once when a trading account is attached, else by a request its session acts on."""

from __future__ import annotations

import html

import pandas as pd
import panel as pn

from workbench.services.snapshot import Snapshot
from workbench.ui.actions import Controls
from workbench.ui.poller import PollState
from workbench.ui.views.common import Feedback, act, show, table

ORDER_COLUMNS = [
    "created_at", "strategy", "symbol", "side", "type", "qty", "filled_qty", "limit_price", "stop_price",
    "avg_fill_price", "status", "reject_reason", "id",
]  # fmt: skip
FILL_COLUMNS = ["timestamp", "strategy", "symbol", "side", "qty", "price", "fee", "order_id", "id"]
ALL, OPEN = "all", "open"


class OrdersView(pn.viewable.Viewer):
    """Orders and fills with their filters, and the cancel control (see the module docstring)."""

    def __init__(self, controls: Controls, feedback: Feedback) -> None:
        super().__init__()
        self.controls, self.feedback = controls, feedback
        self.status = pn.widgets.Select(label="Status", options=[ALL, OPEN], value=ALL, width=140)
        self.symbol = pn.widgets.Select(label="Symbol", options=[ALL], value=ALL, width=140)
        self.strategy = pn.widgets.Select(label="Strategy", options=[ALL], value=ALL, width=180)
        self.orders = table(ORDER_COLUMNS, "wb-orders")
        self.fills = table(FILL_COLUMNS, "wb-fills")
        self.working = pn.widgets.Select(label="Working order", options=[], width=320)
        self.cancel_button = pn.widgets.Button(label="Cancel order", color="warning", disabled=True)
        self.cancel_note = pn.pane.Markdown(_cancel_note(controls), styles={"color": "#475467"})
        self.cancel_button.on_click(lambda _event: self.cancel())
        self._snapshot: Snapshot | None = None
        self._requested: str | None = None  # the order of a cancel request whose outcome is not shown yet
        for widget in (self.status, self.symbol, self.strategy):
            widget.param.watch(lambda _event: self._show(), "value")

    def update(self, state: PollState) -> None:
        """Show the orders and fills of ``state`` through the current filters."""
        snap = self._snapshot = state.snapshot
        statuses = sorted(set(snap.orders["status"]))
        self.status.options = [ALL, OPEN, *statuses]
        self.symbol.options = [ALL, *sorted(set(snap.orders["symbol"]) | set(snap.fills["symbol"]))]
        self.strategy.options = [ALL, *sorted({s for s in snap.orders["strategy"] if isinstance(s, str)})]
        working = snap.orders[snap.orders["open"].astype(bool)]
        options = {f"{o.side} {o.qty:g} {o.symbol} ({o.status}) {o.id}": o.id for o in working.itertuples()}
        if options != self.working.options:  # options and choice together, so the page shows the choice
            kept = self.working.value in options.values()
            first = next(iter(options.values()), None)
            self.working.param.update(options=options, value=self.working.value if kept else first)
        self.cancel_button.disabled = not (self.controls.can_cancel and len(working))
        self._show_request()
        self._show()

    def filtered(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The orders and fills that pass the filters."""
        if self._snapshot is None:
            return pd.DataFrame(columns=ORDER_COLUMNS), pd.DataFrame(columns=FILL_COLUMNS)
        orders, fills = self._snapshot.orders, self._snapshot.fills
        if self.status.value == OPEN:
            orders = orders[orders["open"].astype(bool)]
        elif self.status.value != ALL:
            orders = orders[orders["status"] == self.status.value]
        for column, widget in (("symbol", self.symbol), ("strategy", self.strategy)):
            if widget.value != ALL:
                orders, fills = orders[orders[column] == widget.value], fills[fills[column] == widget.value]
        return orders, fills

    def cancel(self) -> bool:
        """Cancel the working order selected (checked and audited by `Controls.cancel`)."""
        if not self.working.value:
            self.feedback.error("no working order selected")
            return False
        order_id = self.working.value
        done = act(self.feedback, lambda: self.controls.cancel(order_id))
        if done and self.controls.desk is None:
            self._requested = order_id
            self._show_request()
        return done

    def _show_request(self) -> None:
        """Show the outcome of this tab's last cancel request in the note, read at each new state while it is
        pending (a cancel moves the order, so a new state comes with it; an outcome that moves nothing shows with
        the next change of the store)."""
        if self._requested is None:
            return
        request = self.controls.last_cancel_request(self._requested)
        if request is None:
            return
        outcome = request.outcome or "pending: the session acts on it at its next check"
        text = f"Cancel of order {request.order_id} requested by {request.requested_by}: {outcome}"
        self.cancel_note.object = html.escape(text)  # the outcome may quote the broker
        if request.handled_at is not None:
            self._requested = None

    def _show(self) -> None:
        orders, fills = self.filtered()
        show(self.orders, orders)
        show(self.fills, fills)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self.status, self.symbol, self.strategy),
            "### Orders",
            self.orders,
            pn.Row(self.working, self.cancel_button, self.cancel_note),
            "### Fills",
            self.fills,
            sizing_mode="stretch_width",
        )


def _cancel_note(controls: Controls) -> str:
    """Why the cancel control is off, if it is."""
    if not controls.can_trade:
        return "Canceling orders needs the trader role."
    if controls.desk is None:
        return "A cancel is requested through the store: the order's session acts on it at its next check."
    return ""

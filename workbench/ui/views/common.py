"""What every view uses: read-only tables of DataFrames, the feedback banner, and running an action with visible
feedback (its message on success, its error otherwise)."""

from __future__ import annotations

import html
from collections.abc import Callable

import pandas as pd
import panel as pn
from bokeh.models.widgets.tables import NumberFormatter

from workbench.errors import WorkbenchError
from workbench.logs import get_logger

_log = get_logger("workbench.ui")
#: Number formats by column (others are shown as they are).
_MONEY = NumberFormatter(format="0,0.00")
_QTY = NumberFormatter(format="0,0.[0000]")
_PCT = NumberFormatter(format="0.00%")
FORMATS = {
    **dict.fromkeys(["price", "avg_price", "market_value", "unrealized_pnl", "realized_pnl", "fees", "fee"], _MONEY),
    **dict.fromkeys(["limit_price", "stop_price", "avg_fill_price", "equity", "cash", "best"], _MONEY),
    **dict.fromkeys(["qty", "filled_qty"], _QTY),
    **dict.fromkeys(["use", "total_return", "max_drawdown"], _PCT),
}


def table(columns: list[str], css_class: str, *, page_size: int = 15) -> pn.widgets.Tabulator:
    """A read-only, paginated table of ``columns`` (empty until `show` fills it); ``css_class`` names it in the
    page."""
    return pn.widgets.Tabulator(
        pd.DataFrame(columns=columns),
        disabled=True,
        show_index=False,
        pagination="local",
        page_size=page_size,
        formatters={c: f for c, f in FORMATS.items() if c in columns},
        sizing_mode="stretch_width",
        selectable=False,
        css_classes=[css_class],
    )


def show(widget: pn.widgets.Tabulator, frame: pd.DataFrame) -> None:
    """Put ``frame`` in ``widget`` (its columns, in order), times as UTC text and mappings as ``k=v`` text; an
    unchanged table is left alone."""
    columns = [c for c in widget.value.columns if c in frame.columns] or list(frame.columns)
    shown = display(frame[columns])
    if not shown.equals(widget.value):  # an unchanged table is not sent to the browser again
        widget.value = shown


def display(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` ready for a table: datetimes as ``YYYY-mm-dd HH:MM:SS`` (UTC), dicts as ``k=v, ...``."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_datetime64_any_dtype(values) or values.map(lambda v: hasattr(v, "tzinfo")).any():
            stamps = pd.to_datetime(values, utc=True)
            out[column] = stamps.dt.strftime("%Y-%m-%d %H:%M:%S").where(stamps.notna(), "")
        elif values.map(lambda v: isinstance(v, dict)).any():
            out[column] = values.map(
                lambda v: ", ".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else v
            )
    return out


class Feedback(pn.viewable.Viewer):
    """The banner that answers every action: its message in green, or its error in red. ``message`` is the text
    shown (the banner escapes it: a name or reason typed by someone is shown, never run as HTML).

    Examples
    --------
    >>> feedback = Feedback()
    >>> feedback.error("not <allowed>"); feedback.message, feedback.alert.alert_type, feedback.alert.visible
    ('not <allowed>', 'danger', True)
    """

    def __init__(self) -> None:
        super().__init__()
        self.message = ""
        self.alert = pn.pane.Alert("", alert_type="success", visible=False, sizing_mode="stretch_width")

    def ok(self, message: str) -> None:
        """Show ``message`` as a success."""
        self._show(message, "success")

    def error(self, message: str) -> None:
        """Show ``message`` as an error."""
        self._show(message, "danger")

    def _show(self, message: str, kind: str) -> None:
        self.message = message
        self.alert.param.update(object=html.escape(message), alert_type=kind, visible=True)

    def __panel__(self) -> pn.viewable.Viewable:
        return self.alert


def act(feedback: Feedback, action: Callable[[], str]) -> bool:
    """Run ``action`` and show its message, or its error, in ``feedback``; returns whether it succeeded.

    A refusal or invalid request (a `WorkbenchError`) is shown as it reads; anything else (the database went
    away, ...) is shown with its type and logged, so no click goes unanswered."""
    try:
        message = action()
    except WorkbenchError as exc:
        feedback.error(str(exc))
        return False
    except Exception as exc:
        _log.exception("dashboard action failed")
        feedback.error(f"the action failed: {type(exc).__name__}: {exc}")
        return False
    feedback.ok(message)
    return True

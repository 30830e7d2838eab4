"""Risk: the limits in force against their current use, the kill switch (halt with a confirmation step, and
resume), the recent risk decisions of the live runs and the alerts their marks raised."""

from __future__ import annotations

import panel as pn

from workbench.risk.manager import RiskRules
from workbench.services.snapshot import RISK_COLUMNS
from workbench.ui.actions import Controls
from workbench.ui.limits import ALERT_COLUMNS, LIMIT_COLUMNS, limit_use, recent_alerts
from workbench.ui.poller import PollState
from workbench.ui.views.common import Feedback, act, show, table


class RiskView(pn.viewable.Viewer):
    """Limits, kill switch, risk events and alerts (see the module docstring). Halting takes two clicks: "Halt
    trading" asks, "Confirm halt" acts."""

    def __init__(self, controls: Controls, feedback: Feedback, rules: RiskRules | None = None) -> None:
        super().__init__()
        self.controls, self.feedback, self.rules = controls, feedback, rules or RiskRules()
        self.limits = table(LIMIT_COLUMNS, "wb-limits")
        self.events = table(RISK_COLUMNS, "wb-risk-events")
        self.alerts = table(ALERT_COLUMNS, "wb-alerts")
        self.no_limits = pn.pane.Markdown(
            "No account-wide limit is set: pass the sessions' rules file (`workbench dashboard --risk risk.toml`)."
        )
        locked = not controls.can_trade
        self.reason = pn.widgets.TextInput(label="Reason", value="kill switch", width=260, disabled=locked)
        self.halt_button = pn.widgets.Button(label="Halt trading", color="danger", disabled=locked)
        self.confirm_button = pn.widgets.Button(label="Confirm halt", color="danger", disabled=locked)
        self.dismiss_button = pn.widgets.Button(label="Keep trading", color="light")
        self.resume_button = pn.widgets.Button(label="Resume trading", color="success", disabled=locked)
        self.question = pn.pane.Markdown(
            "**Halt every enabled strategy?** Their sessions cancel working orders, close positions and stay halted "
            "until resumed."
        )
        self.confirmation = pn.Row(self.question, self.confirm_button, self.dismiss_button, visible=False)
        self.halt_button.on_click(lambda _event: self.ask())
        self.confirm_button.on_click(lambda _event: self.confirm())
        self.dismiss_button.on_click(lambda _event: self.confirmation.param.update(visible=False))
        self.resume_button.on_click(lambda _event: self.resume())

    def update(self, state: PollState) -> None:
        """Show the limits, risk events and alerts of ``state``."""
        snapshot = state.snapshot
        use = limit_use(snapshot, self.rules)
        self.no_limits.visible = not len(use)
        show(self.limits, use)
        show(self.events, snapshot.risk_events)
        show(self.alerts, recent_alerts(snapshot, self.rules))

    def ask(self) -> None:
        """First click of the kill switch: show the confirmation."""
        self.confirmation.visible = True

    def confirm(self) -> bool:
        """Second click: halt every enabled strategy with the reason given."""
        self.confirmation.visible = False
        return act(self.feedback, lambda: self.controls.halt(self.reason.value))

    def resume(self) -> bool:
        """Lift every halt."""
        return act(self.feedback, self.controls.resume)

    def __panel__(self) -> pn.viewable.Viewable:
        note = "" if self.controls.can_trade else "The kill switch needs the trader role."
        return pn.Column(
            "### Kill switch",
            pn.Row(self.reason, self.halt_button, self.resume_button, pn.pane.Markdown(note)),
            self.confirmation,
            "### Limits",
            self.no_limits,
            self.limits,
            "### Recent risk decisions",
            self.events,
            "### Alerts",
            self.alerts,
            sizing_mode="stretch_width",
        )

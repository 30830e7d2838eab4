"""Strategies: each one's mode, parameters, on/off switch, halt state, last signal (the newest order it placed)
and last run. Only a trader's switches are live; each switch is checked and audited by `Controls`."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import panel as pn

from workbench.ui.actions import Controls
from workbench.ui.poller import PollState
from workbench.ui.views.common import Feedback, act, display


class StrategiesView(pn.viewable.Viewer):
    """One row per stored strategy (see the module docstring); ``switches`` maps names to their switches."""

    def __init__(self, controls: Controls, feedback: Feedback) -> None:
        super().__init__()
        self.controls, self.feedback = controls, feedback
        self.switches: dict[str, pn.widgets.Switch] = {}
        self.details: dict[str, pn.pane.HTML] = {}
        self.rows = pn.Column(sizing_mode="stretch_width")
        self.note = pn.pane.Markdown(
            "" if controls.can_trade else "Switching strategies needs the trader role: these switches are read-only.",
            styles={"color": "#475467"},
        )
        self._syncing = False

    def update(self, state: PollState) -> None:
        """Show the strategies of ``state``; rows are rebuilt only when the set of strategies changes."""
        raw = state.snapshot.strategies
        records = {r["name"]: r for r in display(raw).to_dict("records")}
        enabled = dict(zip(raw["name"], raw["enabled"].astype(bool), strict=True))
        if list(records) != list(self.switches):
            self._build(list(records))
        self._syncing = True
        try:
            for name, record in records.items():
                self.switches[name].value = enabled[name]
                self.details[name].object = _details_html(record)
        finally:
            self._syncing = False

    def toggle(self, name: str, enabled: bool) -> bool:
        """Switch strategy ``name`` on or off; on a refusal the switch goes back and the error is shown."""
        done = act(self.feedback, lambda: self.controls.set_enabled(name, enabled))
        if not done:
            self._syncing = True
            try:
                self.switches[name].value = not enabled
            finally:
                self._syncing = False
        return done

    def _build(self, names: list[str]) -> None:
        self.switches, self.details = {}, {}
        rows = []
        for name in names:
            switch = pn.widgets.Switch(
                value=False, disabled=not self.controls.can_trade, width=50, css_classes=[f"wb-switch-{name}"]
            )
            switch.param.watch(lambda event, name=name: self._switched(name, event.new), "value")
            self.switches[name], self.details[name] = switch, pn.pane.HTML("", sizing_mode="stretch_width")
            rows.append(pn.Row(switch, self.details[name], sizing_mode="stretch_width", css_classes=["wb-strategy"]))
        self.rows.objects = rows

    def _switched(self, name: str, enabled: bool) -> None:
        if not self._syncing:
            self.toggle(name, enabled)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.note, self.rows, sizing_mode="stretch_width")


def _details_html(record: dict[str, Any]) -> str:
    """Name, state, mode, parameters, last signal and last run of one strategy."""
    e = html.escape
    if record["halted"]:
        state = f'<b style="color:#b42318">HALTED</b> ({e(str(record["halted_reason"] or ""))})'
    else:
        state = '<b style="color:#027a48">enabled</b>' if record["enabled"] else '<b style="color:#475467">off</b>'
    signal = f"{e(record['last_signal'])} at {record['last_signal_at']}" if record["last_signal"] else "none yet"
    run = (
        f"#{int(record['last_run_id'])} {e(str(record['last_run_kind']))} {e(str(record['last_run_status']))}, "
        f"started {record['last_run_at']}"
        if pd.notna(record["last_run_id"])
        else "none"
    )
    return (
        f'<div class="wb-strategy-details" data-name="{e(record["name"])}"><b style="font-size:16px">'
        f"{e(record['name'])}</b> &nbsp; {state} &nbsp; mode <b>{e(str(record['mode']))}</b><br>"
        f"params: {e(str(record['params'] or 'defaults'))} &middot; last signal: {signal} &middot; last run: {run}"
        "</div>"
    )

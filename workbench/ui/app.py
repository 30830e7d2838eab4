"""``Dashboard``: the views of one browser tab (or notebook cell) together, kept live from the shared `Poller`.

When the poller reads a new `PollState` it pushes it: a served tab schedules its refresh on its own document at
once (and a periodic callback every ``period`` seconds catches up, in a notebook too), handing the state to every
view; nothing in a tab reads the database (the poller does, once for all tabs). An action answers in the
feedback banner at once and pokes the poller, so its effect shows within a period.
"""

from __future__ import annotations

import html
from functools import cached_property
from pathlib import Path
from typing import Any

import panel as pn

from workbench.risk.manager import RiskRules
from workbench.ui.actions import Controls
from workbench.ui.poller import Poller, PollState
from workbench.ui.views.common import Feedback
from workbench.ui.views.orders import OrdersView
from workbench.ui.views.overview import OverviewView
from workbench.ui.views.positions import PositionsView
from workbench.ui.views.research import ResearchView
from workbench.ui.views.risk import RiskView
from workbench.ui.views.runs import RunsView
from workbench.ui.views.strategies import StrategiesView

TITLE = "Quant Workbench"
#: The tabs, and the attribute holding each one's view.
_TABS = {
    "Overview": "overview",
    "Positions": "positions",
    "Orders & fills": "orders",
    "Strategies": "strategies",
    "Risk": "risk",
    "Runs & reports": "runs",
    "Research": "research",
}
#: Milliseconds between filling two tabs in the background: about what the browser takes to draw one, so that a
#: tab clicked meanwhile waits for one tab's drawing at most, not for a queue of them.
FILL_GAP_MS = 400


class Dashboard(pn.viewable.Viewer):
    """Overview, positions, orders and fills, strategies, risk, runs and reports, research — as tabs.

    ``controls`` decide what the user may do (and check it again on every action); ``rules`` are the risk limits
    shown against their use; ``reports_dir`` is listed with links under ``reports_url`` (None: paths only);
    ``logout_url`` adds a log-out link.

    Examples
    --------
    >>> from workbench.auth.service import AuthService
    >>> from workbench.store import Store
    >>> store = Store.open("sqlite://")
    >>> poller = Poller(store)
    >>> dash = Dashboard(poller, Controls(store, AuthService(store), None))
    >>> poller.tick() and dash.refresh()
    True
    >>> dash.overview.summary.state
    'idle: no session running'
    """

    def __init__(
        self,
        poller: Poller,
        controls: Controls,
        *,
        rules: RiskRules | None = None,
        reports_dir: Path | None = None,
        reports_url: str | None = None,
        logout_url: str | None = None,
        period: float = 1.0,
        sweep: Any = None,
    ) -> None:
        super().__init__()
        self.poller, self.controls, self.period, self.logout_url = poller, controls, period, logout_url
        self.feedback = Feedback()
        self.problem = pn.pane.Alert("", alert_type="warning", visible=False, sizing_mode="stretch_width")
        self.overview = OverviewView()
        self._options = {"rules": rules, "reports_dir": reports_dir, "reports_url": reports_url, "sweep": sweep}
        self._state: PollState | None = None
        # each tab but the first starts empty, its view not even built: it is built and put in its slot when the
        # tab is shown or, in a served page, one tab after another once the page has loaded. First paint builds
        # and draws one tab; a tab clicked later is there already.
        self.slots = [pn.Column(sizing_mode="stretch_width") for _ in _TABS]
        self.tabs = pn.Tabs(*zip(_TABS, self.slots, strict=True), sizing_mode="stretch_width")
        self.tabs.param.watch(lambda event: self.fill(event.new), "active")
        self.fill(0)
        self.version = -1
        self.refresh()

    @cached_property
    def positions(self) -> PositionsView:
        """The positions tab's view (built on first use)."""
        return self._shown(PositionsView())

    @cached_property
    def orders(self) -> OrdersView:
        """The orders and fills tab's view (built on first use)."""
        return self._shown(OrdersView(self.controls, self.feedback))

    @cached_property
    def strategies(self) -> StrategiesView:
        """The strategies tab's view (built on first use)."""
        return self._shown(StrategiesView(self.controls, self.feedback))

    @cached_property
    def risk(self) -> RiskView:
        """The risk tab's view (built on first use)."""
        return self._shown(RiskView(self.controls, self.feedback, self._options["rules"]))

    @cached_property
    def runs(self) -> RunsView:
        """The runs and reports tab's view (built on first use)."""
        return self._shown(RunsView(self._options["reports_dir"], self._options["reports_url"]))

    @cached_property
    def research(self) -> ResearchView:
        """The research tab's view (built on first use)."""
        return self._shown(ResearchView(self.poller.store, self.feedback, self._options["sweep"]))

    def _shown(self, view: Any) -> Any:
        """``view``, built now, showing the state the others show."""
        if self._state is not None:
            view.update(self._state)
        return view

    def _built(self) -> list[Any]:
        """The views of the snapshot built so far (each is built on first use)."""
        return [self.__dict__[name] for name in _TABS.values() if name != "overview" and name in self.__dict__]

    def refresh(self) -> bool:
        """Show the poller's latest state if it is newer than the one shown; returns whether it was. The views of
        the snapshot are updated only when the snapshot changed, not when only the health report did."""
        state = self.poller.current
        if state.version == self.version:
            return False
        self.version = state.version
        shown, self._state = self._state, state
        if shown is None or state.snapshot is not shown.snapshot:
            for view in self._built():
                view.update(state)
        elif "runs" in self.__dict__:  # a new health report only (every few seconds): the tables stay as they are
            self.runs.rescan()
        self.overview.update(state)
        self.problem.param.update(
            object=f"The store cannot be read ({state.error}): showing what it held before." if state.error else "",
            visible=state.error is not None,
        )
        return True

    def fill(self, index: int) -> bool:
        """Put tab ``index``'s view in its slot if it is not there yet; returns whether it was put."""
        slot = self.slots[index]
        if slot.objects:
            return False
        slot.objects = [getattr(self, list(_TABS.values())[index])]
        return True

    def start(self) -> Any:
        """Refresh on every new state of the poller (in a served tab) and every ``period`` seconds (anywhere);
        returns the periodic callback. In a served tab the other tabs are filled one after another, ``FILL_GAP_MS``
        apart, from ``FILL_GAP_MS`` after the page has loaded."""
        document = pn.state.curdoc
        if document is not None and document.session_context is not None:
            # the poller's thread may not touch the document: it schedules the refresh on the document's loop
            unsubscribe = self.poller.subscribe(lambda: document.add_next_tick_callback(self.refresh))
            pn.state.on_session_destroyed(lambda _context: unsubscribe())

            def fill_next() -> None:
                pending = [i for i, slot in enumerate(self.slots) if not slot.objects]
                if pending and _connected(document):
                    self.fill(pending[0])
                    document.add_timeout_callback(fill_next, FILL_GAP_MS)

            pn.state.onload(lambda: document.add_timeout_callback(fill_next, FILL_GAP_MS))
        else:
            for index in range(len(self.slots)):
                self.fill(index)
        return pn.state.add_periodic_callback(self.refresh, period=int(self.period * 1000))

    def user_bar(self) -> pn.pane.HTML:
        """Who is logged in, with what role, and the log-out link."""
        user = self.controls.user
        who = "read-only (not logged in)" if user is None else f"{user.username} ({user.role})"
        logout = f' &middot; <a href="{self.logout_url}" id="wb-logout">Log out</a>' if self.logout_url else ""
        return pn.pane.HTML(f'<span id="wb-user">Logged in as {html.escape(who)}</span>{logout}')

    def template(self) -> pn.template.BaseTemplate:
        """The served page: a template with the user bar in its header and the tabs in its main area."""
        return pn.template.BootstrapTemplate(
            title=TITLE,
            header=[self.user_bar()],
            main=[self.problem, self.feedback, self.tabs],
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.user_bar(), self.problem, self.feedback, self.tabs, sizing_mode="stretch_width")


def _connected(document: Any) -> bool:
    """Whether a browser is still connected to the served ``document`` (a closed page's tabs are not filled: nobody
    would see them, and Bokeh logs each message it cannot send)."""
    session = getattr(document.session_context, "_session", None)  # Bokeh's ServerSession, once connected
    return session is None or (not session.destroyed and session.connection_count > 0)

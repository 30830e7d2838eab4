"""``dashboard``: the dashboard's views inline in a notebook, live from the store, with no server to run.

Without a key it is read-only; with an API key of a trader (``workbench keys create NAME``) its switches, kill
switch and cancel act, checked and audited exactly as in the served dashboard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.risk.manager import RiskRules
from workbench.store.database import Store


def dashboard(
    store: Store | None = None,
    *,
    key: str | None = None,
    rules: RiskRules | dict[str, Any] | None = None,
    desk: Any = None,
    sweep: Any = None,
    reports_dir: str | Path | None = "reports",
    period: float = 1.0,
) -> Any:
    """A live `workbench.ui.app.Dashboard` of ``store`` (None: the configured database) to display in a cell.

    ``key``: an API key (or access token) to act with; ``rules``: the risk limits the sessions trade with;
    ``desk``: a `workbench.services.desk.Desk` to cancel orders through; ``sweep``: a `SweepResult` to explore in the
    Research tab. Every dashboard of one store in this kernel shares one poller, refreshed every ``period`` s.

    Examples
    --------
    >>> import workbench as wb
    >>> from workbench.ui import dashboard
    >>> res = wb.sweep("sma_cross", wb.load("SPY"), fast=range(5, 30, 5), slow=range(50, 200, 50))  # doctest: +SKIP
    >>> dashboard(key="wbk_...", rules={"max_drawdown": 0.2}, sweep=res)  # doctest: +SKIP
    """
    import panel as pn

    from workbench.auth.service import AuthService
    from workbench.config import load_settings
    from workbench.ui.actions import Controls
    from workbench.ui.app import Dashboard
    from workbench.ui.poller import shared_poller

    pn.extension("tabulator")
    store = store or Store.open(load_settings())
    broker = None if desk is None else desk.context.om.broker
    poller = shared_poller(store, period=period, broker=broker)
    controls = Controls(store, AuthService(store), key, source="notebook", desk=desk, on_change=poller.poke)
    limits = rules if isinstance(rules, RiskRules) or rules is None else RiskRules.from_mapping(rules)
    folder = None if reports_dir is None else Path(reports_dir).expanduser().absolute()
    view = Dashboard(poller, controls, rules=limits, reports_dir=folder, period=period, sweep=sweep)
    view.start()
    return view

"""The dashboard (Panel): watch and control live strategies in a browser, or inline in a notebook.

Served: ``workbench dashboard [--port 5006] [--host 127.0.0.1] [--risk risk.toml]`` (or `serve`), then log in
with a workbench user (``workbench users add NAME --role trader``). In a notebook:

>>> from workbench.ui import dashboard
>>> dashboard(key="wbk_...")  # doctest: +SKIP

Tabs: overview (equity curve, the day's P&L, exposure, cash, running/halted, health of database, cache, feed and
broker), positions (unrealized P&L), orders and fills (filterable; cancel), strategies (mode, parameters,
on/off switches, last signal, last run), risk (limits vs use, risk events, alerts, the kill switch with a
confirmation), runs and reports (links to the HTML reports), research (a sweep's heatmap; click a cell for its
equity curve). One poller per process reads the store for every open tab; viewers look, traders act, and the
server checks and audits each action. Names load on first use, so ``workbench`` does not import Panel.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Controls": "workbench.ui.actions",
    "Dashboard": "workbench.ui.app",
    "DashboardError": "workbench.ui.errors",
    "Poller": "workbench.ui.poller",
    "ResearchView": "workbench.ui.views.research",
    "Snapshot": "workbench.services.snapshot",
    "dashboard": "workbench.ui.notebook",
    "read_snapshot": "workbench.services.snapshot",
    "serve": "workbench.ui.server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'workbench.ui' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)

"""Errors of the dashboard: an action it cannot take as asked (no such strategy or order, an order no longer
working, a sweep that cannot be loaded), each naming what and why."""

from __future__ import annotations

from workbench.errors import WorkbenchError


class DashboardError(WorkbenchError):
    """The dashboard cannot do what was asked; the message says what and why, and is shown to the user as is."""

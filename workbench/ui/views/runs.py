"""Runs and reports: the saved runs (`wb.runs()`: backtests, sweeps, live sessions, notebook runs) and links to
the HTML reports in the reports folder (``workbench report``, ``workbench run``), served by the dashboard behind
its login."""

from __future__ import annotations

import html
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import panel as pn

from workbench.ui.poller import PollState
from workbench.ui.views.common import show, table

RUN_COLUMNS = [
    "id", "kind", "strategy", "name", "params", "symbols", "status", "started_at", "total_return", "sharpe",
    "max_drawdown", "trades", "metric", "best",
]  # fmt: skip
#: How many reports are listed (the newest), and how often the folder is looked at again.
MAX_REPORTS, RESCAN_SECONDS = 100, 10.0


def find_reports(folder: Path) -> list[Path]:
    """The HTML reports under ``folder`` (recursively), newest first, at most ``MAX_REPORTS``."""
    if not folder.is_dir():
        return []
    found = sorted(folder.rglob("*.html"), key=lambda p: p.stat().st_mtime, reverse=True)
    return found[:MAX_REPORTS]


class RunsView(pn.viewable.Viewer):
    """Saved runs and report links (see the module docstring). ``reports_url`` is where the server serves
    ``reports_dir`` (None, in a notebook: the files' paths are shown instead of links)."""

    def __init__(self, reports_dir: Path | None = None, reports_url: str | None = None) -> None:
        super().__init__()
        self.reports_dir, self.reports_url = reports_dir, reports_url
        self.runs = table(RUN_COLUMNS, "wb-runs")
        self.reports = pn.pane.HTML("", sizing_mode="stretch_width")
        self._scanned = float("-inf")

    def update(self, state: PollState) -> None:
        """Show the saved runs of ``state``; look at the reports folder again every ``RESCAN_SECONDS``."""
        saved = state.snapshot.saved_runs
        show(self.runs, saved.reset_index() if len(saved) else pd.DataFrame(columns=RUN_COLUMNS))
        self.rescan()

    def rescan(self) -> None:
        """Look at the reports folder again if ``RESCAN_SECONDS`` passed since the last look."""
        if time.monotonic() - self._scanned >= RESCAN_SECONDS:
            self._scanned = time.monotonic()
            self.reports.object = self._reports_html()

    def _reports_html(self) -> str:
        if self.reports_dir is None:
            return "<i>No reports folder.</i>"
        found = find_reports(self.reports_dir)
        if not found:
            return f"<i>No HTML report in {html.escape(str(self.reports_dir))} yet (<code>workbench report</code>).</i>"
        items = []
        for path in found:
            relative = path.relative_to(self.reports_dir).as_posix()
            stamp = datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
            label = html.escape(relative)
            if self.reports_url is None:
                items.append(f"<li><code>{html.escape(str(path))}</code> ({stamp})</li>")
            else:
                href = html.escape(f"{self.reports_url}/{quote(relative)}", quote=True)
                items.append(f'<li><a class="wb-report" href="{href}" target="_blank">{label}</a> ({stamp})</li>')
        return f"<ul>{''.join(items)}</ul>"

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column("### Saved runs", self.runs, "### Reports", self.reports, sizing_mode="stretch_width")

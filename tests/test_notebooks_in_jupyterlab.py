"""The notebooks as a researcher sees them: a real JupyterLab server, driven in headless Chromium with the
network blocked, runs the plotting notebooks (quickstart, universe research, research sweep) cell by cell; every
plot draws its canvas, nothing is fetched from outside, the console stays free of errors, and the sweep explorer (a
cell added to the research notebook's copy) redraws its curve when a slider moves."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from browser_support import CHROMIUM, LOCAL, offline_browser
from test_notebooks import SMALL

pytest.importorskip("playwright.sync_api")
ROOT = Path(__file__).resolve().parents[1]
#: The bokeh figures each notebook draws; the research notebook last, as the sweep explorer is driven on its page.
PLOTTING = {"01_quickstart.ipynb": 4, "universe_research.ipynb": 2, "research_sweep.ipynb": 5}
ALL = "(root) => [...root.querySelectorAll('*')].flatMap((el) => el.shadowRoot ? [el, ...ALL(el.shadowRoot)] : [el])"
FIGURES = f"const ALL = {ALL}; const figures = ALL(document).filter((el) => el.classList.contains('bk-Figure'));"
DRAWN = "(f) => ALL(f.shadowRoot || f).some((el) => el.tagName === 'CANVAS' && el.width > 0)"
CURRENT = "window.jupyterapp && window.jupyterapp.shell.currentWidget"
IDLE = f"{CURRENT}.context.sessionContext.session?.kernel?.status === 'idle'"
ERRORS = (
    "() => [...document.querySelectorAll('.jp-OutputArea-output')].filter((e) => ['application/vnd.jupyter.stderr',"
    " 'application/vnd.jupyter.error'].includes(e.getAttribute('data-mime-type'))).map((e) => e.textContent)"
)


def _parameterized(name: str, folder: Path) -> None:
    """The notebook with CI's small parameters put in its parameters cell, unexecuted; the research notebook
    gets a sweep explorer cell after its sweep (the docs render that notebook, where a live widget has no kernel)."""
    from papermill.parameterize import parameterize_notebook

    notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    if name == "research_sweep.ipynb":
        notebook.cells.append(nbformat.v4.new_code_cell("wb.widgets.sweep_explorer(res, x, y)"))
    for cell in notebook.cells:
        cell.metadata.setdefault("tags", [])
    notebook.metadata["papermill"] = {}
    nbformat.write(parameterize_notebook(notebook, SMALL[name]), folder / name)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _figures(page) -> list[int]:
    """How many bokeh figures the page holds, and how many have drawn a canvas."""
    return page.evaluate(f"() => {{ {FIGURES} return [figures.length, figures.filter({DRAWN}).length]; }}")


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_jupyterlab_runs_the_notebooks_offline_with_every_plot_drawn(tmp_path) -> None:
    for name in PLOTTING:
        _parameterized(name, tmp_path)
    port = _free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / ".config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / ".run")}
    command = [
        *(sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1"),
        *(f"--ServerApp.port={port}", f"--ServerApp.root_dir={tmp_path}", "--IdentityProvider.token="),
        *("--ServerApp.password=", "--ServerApp.disable_check_xsrf=True", "--LabApp.expose_app_in_browser=True"),
        *(f"--LabApp.workspaces_dir={tmp_path / '.workspaces'}", f"--LabApp.user_settings_dir={tmp_path / '.user'}"),
    ]
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "JupyterLab did not start"
                time.sleep(0.2)
        with offline_browser() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            outside, console = [], []
            page.on("request", lambda r: None if r.url.startswith(LOCAL) else outside.append(r.url))
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            for name, plots in PLOTTING.items():
                page.goto(f"http://127.0.0.1:{port}/lab/tree/{name}")
                page.wait_for_function(f"() => {CURRENT}?.context?.path === '{name}' && {IDLE}", timeout=60_000)
                page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
                page.wait_for_function(
                    f"() => {IDLE} && {CURRENT}.content.widgets.filter((c) => c.model.type === 'code')"
                    ".every((c) => c.model.executionCount !== null && !c.promptNode.textContent.includes('*'))",
                    timeout=120_000,
                    polling=500,
                )
                page.wait_for_function(f"() => {{ {FIGURES} return figures.filter({DRAWN}).length >= {plots}; }}")
                assert _figures(page) == [plots, plots], name
                assert page.evaluate(ERRORS) == [], name
            # the sweep explorer: one step of the first slider re-runs that set and redraws curve and heatmap
            page.evaluate(f"() => {{ {FIGURES} figures.forEach((f) => f.dataset.seen = '1'); }}")
            handle = page.locator(".widget-slider .noUi-handle").first
            handle.scroll_into_view_if_needed()
            summary = page.locator(".widget-html-content").first
            page.wait_for_function("(e) => e.textContent.includes('fast=')", arg=summary.element_handle())
            before = summary.inner_text()
            handle.focus()
            handle.press("ArrowLeft")
            page.wait_for_function(
                f"() => {{ {FIGURES} return figures.filter((f) => !f.dataset.seen).filter({DRAWN}).length >= 2; }}",
                timeout=30_000,
            )
            assert summary.inner_text() != before and "fast=" in summary.inner_text()
            assert page.evaluate(ERRORS) == []
        assert outside == [] and console == []
    finally:
        server.terminate()
        server.wait(timeout=20)

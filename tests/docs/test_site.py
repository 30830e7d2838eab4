"""The documentation site (docs/) builds in strict mode, its generated reference covers the code, and it loads
nothing from the network: one test, because the build (the tutorial notebooks execute) is the slow part.

Strict: ``sphinx-build -W --keep-going -n`` turns every warning into a failure (a broken link or reference, a
docstring that does not parse, a notebook cell that raises). Offline: every page is opened in Debian's headless
Chromium, served from loopback with every other host unresolvable, and each request that leaves loopback, each
failed request and each console error is collected.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from docutils.nodes import make_id

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CHROMIUM = Path("/usr/bin/chromium")
TUTORIALS_WITH_PLOTS = ("research_sweep", "universe_research")


def _build(out: Path, tmp_path: Path) -> None:
    env = {**os.environ, "WORKBENCH_HOME": str(tmp_path / "home"), "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-E", "-q", "-j", "2", "-b", "html",
               "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stderr[-8000:]}"


def _check_reference(out: Path) -> None:
    """Every command, setting, route and public name of the code is on its reference page."""
    import typer.main

    import workbench as wb
    from workbench.cli import app
    from workbench.config import ENV_PREFIX, Settings

    cli = (out / "reference" / "cli.html").read_text()
    commands = {}

    def walk(command, path):
        commands[path] = command
        for name, sub in getattr(command, "commands", {}).items():
            if not sub.hidden:
                walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "workbench")
    assert len(commands) > 40
    for path, command in commands.items():
        anchor = f'id="cli-{path.replace(" ", "-")}"'
        assert anchor in cli, f"{path} missing from the CLI reference"
        section = cli.split(anchor, 1)[1].split("<section", 1)[0]
        for param in command.params:
            for spelling in param.opts:
                assert spelling in section or not spelling.startswith("-"), f"{path} {spelling} missing"

    settings = (out / "reference" / "settings.html").read_text()
    absent = [n for n in Settings.model_fields if f"{ENV_PREFIX}{n.upper()}" not in settings]
    assert not absent, f"settings missing from the settings reference: {absent}"

    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        from openapi_reference import openapi_schema
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    rest = (out / "reference" / "rest-api.html").read_text()
    routes = [f"{m.upper()} {p}" for p, ops in openapi_schema()["paths"].items() for m in ops]
    assert len(routes) > 20
    missing = [r for r in routes if f'id="{make_id("api-" + r)}"' not in rest]
    assert not missing, f"routes missing from the REST reference: {missing}"

    api = (out / "reference" / "python-api.html").read_text()
    names = [n for n in wb.__all__ if callable(getattr(wb, n)) and not n.startswith("_")]
    assert not [n for n in names if f'id="workbench.{n}"' not in api], "public names missing from the API reference"

    metrics = (out / "reference" / "metrics.html").read_text()
    assert metrics.count("<math") >= 8, "the metric formulas are not rendered as MathML"


# True once at least ``n`` canvases wider than 100 px are drawn (Bokeh draws inside shadow roots).
_PLOTS_DRAWN = """n => {
    let drawn = 0;
    const walk = root => root.querySelectorAll("*").forEach(el => {
        if (el.tagName === "CANVAS" && el.getBoundingClientRect().width > 100) drawn += 1;
        if (el.shadowRoot) walk(el.shadowRoot);
    });
    walk(document);
    return drawn >= n;
}"""


@contextmanager
def _serve(directory: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _check_offline(out: Path) -> None:
    """Open every page with the network cut off; nothing may be asked of another host, nothing may fail."""
    sync_api = pytest.importorskip("playwright.sync_api")
    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html") if "_static" not in p.parts)
    assert len(pages) > 25
    outside, failed, errors = [], [], []
    with _serve(out) as base, sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"],
        )
        context = browser.new_context()

        def route(r):
            if urlsplit(r.request.url).hostname == "127.0.0.1" or r.request.url.startswith(("data:", "blob:")):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
        page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
        for name in pages:
            page.goto(base + name, wait_until="load")
            if Path(name).stem in TUTORIALS_WITH_PLOTS:  # the inlined Bokeh draws the plots with no CDN
                page.wait_for_function(_PLOTS_DRAWN, arg=2, timeout=30_000)
        browser.close()
    assert not outside, f"pages asked the network for: {sorted(set(outside))[:20]}"
    assert not failed, f"requests failed: {failed[:20]}"
    assert not errors, f"console errors: {errors[:20]}"


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_docs_site_builds_strictly_covers_the_code_and_loads_nothing_from_the_network(tmp_path) -> None:
    out = tmp_path / "html"
    _build(out, tmp_path)
    for page in ("getting-started", "tutorials/research_sweep", "tutorials/research_to_live",
                 "tutorials/universe_research", "explanation/architecture", "how-to/write-a-strategy"):  # fmt: skip
        assert (out / f"{page}.html").exists(), page
    assert re.search(r"overridden", (out / "tutorials" / "research_to_live.html").read_text())
    _check_reference(out)
    _check_offline(out)

"""Open pages in Debian's headless Chromium with the network blocked (only loopback resolves) and report what
a user would miss: requests that tried to leave the machine, console errors, and plots drawn on a canvas."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"
LOCAL = ("file:", "data:", "blob:", "about:", "http://127.0.0.1", "ws://127.0.0.1", "http://localhost")


@dataclass
class PageCheck:
    """What one page did: requests to anywhere but this machine, console errors, and bokeh plots with canvases."""

    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    plots: int = 0
    canvases: int = 0


@contextmanager
def offline_browser() -> Iterator[object]:
    """A headless Chromium (Playwright driving /usr/bin/chromium) that cannot resolve any host but loopback."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[OFFLINE])
        try:
            yield browser
        finally:
            browser.close()


def check_page(browser: object, url: str, plots: int, timeout: float = 30.0) -> PageCheck:
    """Open ``url`` and wait until ``plots`` Bokeh plots each hold a canvas (or ``timeout`` s pass)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    result = PageCheck()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("request", lambda r: None if r.url.startswith(LOCAL) else result.outside.append(r.url))
    page.on("console", lambda m: result.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: result.errors.append(str(e)))
    try:
        page.goto(url, wait_until="load")
        count = (
            "() => { const all = (root) => [...root.querySelectorAll('*')].flatMap("
            " (el) => el.shadowRoot ? [el, ...all(el.shadowRoot)] : [el]);"
            " const figures = all(document).filter((el) => el.classList.contains('bk-Figure'));"
            " const drawn = figures.filter((f) => all(f.shadowRoot || f).some((el) => el.tagName === 'CANVAS'"
            " && el.width > 0));"
            " return [figures.length, drawn.length]; }"
        )
        with suppress(PlaywrightTimeout):  # the counts below say what was missing
            page.wait_for_function(f"() => ({count})()[1] >= {plots}", timeout=timeout * 1000)
        result.plots, result.canvases = page.evaluate(count)
    finally:
        page.close()
    return result

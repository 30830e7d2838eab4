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


#: A function of the page counting its Bokeh figures (through shadow roots) and those that drew a canvas.
COUNT = (
    "() => { const all = (root) => [...root.querySelectorAll('*')].flatMap("
    " (el) => el.shadowRoot ? [el, ...all(el.shadowRoot)] : [el]);"
    " const figures = all(document).filter((el) => el.classList.contains('bk-Figure'));"
    " const drawn = figures.filter((f) => all(f.shadowRoot || f).some((el) => el.tagName === 'CANVAS'"
    " && el.width > 0));"
    " return [figures.length, drawn.length]; }"
)


def watch(page: object, result: PageCheck) -> None:
    """Record in ``result`` every request of ``page`` that leaves the machine and every console error."""
    page.on("request", lambda r: None if r.url.startswith(LOCAL) else result.outside.append(r.url))
    page.on("console", lambda m: result.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: result.errors.append(str(e)))


def wait_for_figures(page: object, plots: int, timeout: float = 30.0) -> tuple[int, int]:
    """Wait until ``plots`` Bokeh figures of ``page`` each hold a canvas (or ``timeout`` s pass); returns how many
    figures the page holds and how many drew."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with suppress(PlaywrightTimeout):  # the counts returned say what was missing
        page.wait_for_function(f"() => ({COUNT})()[1] >= {plots}", timeout=timeout * 1000)
    return tuple(page.evaluate(COUNT))


def check_page(browser: object, url: str, plots: int, timeout: float = 30.0) -> PageCheck:
    """Open ``url`` and wait until ``plots`` Bokeh plots each hold a canvas (or ``timeout`` s pass)."""
    result = PageCheck()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watch(page, result)
    try:
        page.goto(url, wait_until="load")
        result.plots, result.canvases = wait_for_figures(page, plots, timeout)
    finally:
        page.close()
    return result

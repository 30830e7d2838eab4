"""The dashboard served for real (``workbench dashboard`` in its own process) and driven in headless Chromium
with the network blocked (only loopback resolves): a trader logs in, sees the seeded positions and orders, sees a
new fill arrive without a reload, switches a strategy off and halts trading (with its confirmation), each change
landing in the store and the audit log; a wrong password grants nothing; a viewer's controls are disabled and a
forged change is refused by the server; every tab draws what it shows (its plots with a canvas) offline, with no
request leaving the machine and no console error.

Screenshots of every step are saved under each test's ``tmp_path``. Needs Playwright's Python package and the
Debian ``chromium`` (no browser download).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser_support import OFFLINE, PageCheck, wait_for_figures, watch
from ui_support import PASSWORD, Seeded, add_users, seed

import workbench as wb
from workbench.provenance.saved import save_run
from workbench.store import Store
from workbench.store.models_admin import AuditRow

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (Debian package chromium)", allow_module_level=True)
expect = playwright.expect
pytestmark = pytest.mark.slow

#: Seconds between the server's reads of the store (and each tab's refresh).
POLL = 0.5
#: Generous waits for a loaded 2-core machine (milliseconds, as Playwright takes them).
PAGE, SHORT = 60_000, 15_000


@dataclass
class Site:
    """The served dashboard: its address, its store (shared with the server process) and the seeded accounts."""

    url: str
    store: Store
    seeded: Seeded

    def switches(self) -> dict[str, tuple[bool, bool]]:
        with self.store.unit_of_work(readonly=True) as uow:
            return {row.name: (row.enabled, row.halted) for row in uow.strategies.find()}

    def audit(self, action: str, actor: str) -> list[AuditRow]:
        with self.store.unit_of_work(readonly=True) as uow:
            return uow.audit.find(action=action, actor=actor)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> float:
    """Poll ``condition`` until it holds; returns the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{folder / 'workbench.db'}"
    store = Store.open(url)
    add_users(store)
    seeded = seed(store)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env.update(WORKBENCH_HOME=str(folder), WORKBENCH_DB_URL=url)
    command = "import sys; from workbench.cli import main; sys.exit(main(sys.argv[1:]))"
    args = ["dashboard", "--port", str(port), "--poll", str(POLL), "--reports", str(folder / "reports")]
    log = folder / "dashboard.log"  # a file, not a pipe nobody reads: a full pipe would stall the server
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-c", command, *args], cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT
        )

    def listening() -> bool:
        if server.poll() is not None:
            raise AssertionError(f"the dashboard exited with {server.returncode}: {log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    try:
        _wait_until(listening, "the dashboard listens", timeout=90)
        yield Site(f"http://127.0.0.1:{port}/", store, seeded)
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop
        try:
            assert server.wait(timeout=30) == 0, log.read_text()
        finally:
            if server.poll() is None:
                server.kill()
            store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[OFFLINE])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(SHORT)
    yield context.new_page()
    context.close()


def _log_in(page: object, site: Site, username: str, password: str = PASSWORD) -> None:
    page.goto(site.url, timeout=PAGE)
    expect(page.locator("#login-submit")).to_be_visible(timeout=PAGE)  # sent to the login page first
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit", timeout=PAGE)  # the page after login loads slowly on a loaded machine


def _tab(page: object, name: str) -> None:
    page.locator(".bk-tab").filter(has_text=re.compile(f"^{re.escape(name)}$")).click()


def _row(page: object, table: str, text: str) -> object:
    """The row of table ``table`` (its CSS class) that shows ``text``."""
    return page.locator(f".{table} .tabulator-row").filter(has_text=text)


def test_a_trader_watches_and_controls_the_live_strategies(site: Site, page: object, tmp_path: Path) -> None:
    _log_in(page, site, "tom")
    expect(page.locator("#wb-user")).to_have_text("Logged in as tom (trader)", timeout=PAGE)
    expect(page.locator("#wb-state")).to_contain_text("running: rsi_reversion, sma_cross")
    expect(page.locator("#wb-equity")).to_contain_text("29,900.00")
    page.screenshot(path=tmp_path / "1-overview.png")

    _tab(page, "Positions")
    spy, qqq = _row(page, "wb-positions", "SPY"), _row(page, "wb-positions", "QQQ")
    for row, texts in ((spy, ("sma_cross", "510.00", "5,100.00", "100.00")), (qqq, ("rsi_reversion", "-200.00"))):
        for text in texts:
            expect(row.get_by_text(text, exact=True)).to_be_visible()
    page.screenshot(path=tmp_path / "2-positions.png")

    _tab(page, "Orders & fills")
    working = _row(page, "wb-orders", site.seeded.working.id)
    expect(working.get_by_text("accepted", exact=True)).to_be_visible()
    expect(working.get_by_text("450.00", exact=True)).to_be_visible()
    site.seeded.qqq.move(395.0)
    site.seeded.qqq.trade("sell", 5)  # a live session fills an order: written to the store by another process
    fill_id = site.seeded.qqq.om.fills[-1].fill_id
    arrived = time.monotonic()
    _row(page, "wb-fills", fill_id).wait_for(state="visible", timeout=SHORT)  # checked every frame, not backed off
    latency = time.monotonic() - arrived
    print(f"new fill visible {latency:.2f} s after it was stored (poll period {POLL} s)")
    assert latency < 2.0 + 2 * POLL + 1.0  # the requirement is 2 s; one poll and one refresh period, plus slack
    expect(_row(page, "wb-fills", fill_id).get_by_text("395.00", exact=True)).to_be_visible()
    page.screenshot(path=tmp_path / "3-new-fill.png")

    _tab(page, "Strategies")
    switch = page.locator(".wb-switch-sma_cross")
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    _wait_until(lambda: site.switches()["sma_cross"] == (False, False), "sma_cross switched off in the store")
    expect(page.get_by_text("sma_cross switched off", exact=True)).to_be_visible()
    [entry] = site.audit("strategy.disable", "tom")
    assert entry.details["outcome"] == "success" and entry.details["source"] == "127.0.0.1"
    page.screenshot(path=tmp_path / "4-switched-off.png")

    _tab(page, "Risk")
    page.get_by_role("button", name="Halt trading").click()
    expect(page.get_by_text("Halt every enabled strategy?")).to_be_visible()
    page.screenshot(path=tmp_path / "5-confirm-halt.png")
    assert site.switches()["rsi_reversion"] == (True, False)  # asked, not yet done
    page.get_by_role("button", name="Confirm halt").click()
    _wait_until(lambda: site.switches()["rsi_reversion"] == (True, True), "rsi_reversion halted in the store")
    assert site.switches()["sma_cross"] == (False, False)  # switched off: not among the enabled ones halted
    expect(page.get_by_text("halted: rsi_reversion (kill switch)", exact=True)).to_be_visible()
    [entry] = site.audit("trading.halt", "tom")
    assert entry.details["strategies"] == ["rsi_reversion"]
    _tab(page, "Overview")
    expect(page.locator("#wb-state")).to_contain_text("HALTED: rsi_reversion")
    page.screenshot(path=tmp_path / "6-halted.png")


def test_a_wrong_password_shows_an_error_and_grants_nothing(site: Site, page: object, tmp_path: Path) -> None:
    _log_in(page, site, "vic", "not the password")
    expect(page.locator("#login-error")).to_have_text("invalid credentials")
    page.screenshot(path=tmp_path / "wrong-password.png")
    assert "/login" in page.url
    assert not [c for c in page.context.cookies() if c["name"] == "workbench_session"]
    page.goto(site.url)
    expect(page.locator("#login-submit")).to_be_visible()  # still sent to the login page
    entry = site.audit("auth.login", "vic")[0]
    assert (entry.details["outcome"], entry.details["reason"]) == ("failure", "bad_password")


_FORGE = """name => {
  const doc = Bokeh.documents[0];
  const model = [...doc.all_models].find(m => (m.css_classes || []).includes(`wb-switch-${name}`));
  model.active = false;  // what the page would send if the switch were not disabled
}"""


def test_a_viewer_cannot_switch_anything(site: Site, page: object, tmp_path: Path) -> None:
    _log_in(page, site, "vic")
    expect(page.locator("#wb-user")).to_have_text("Logged in as vic (viewer)", timeout=PAGE)
    _tab(page, "Strategies")
    switch = page.locator(".wb-switch-rsi_reversion")
    expect(switch).to_have_class(re.compile(r"\bbk-disabled\b"))  # drawn disabled
    before = site.switches()
    assert before["rsi_reversion"][0] is True
    page.evaluate(_FORGE, "rsi_reversion")  # a forged request: the change sent over the websocket anyway
    expect(page.get_by_text("vic is a viewer: strategy.disable needs the trader role")).to_be_visible()
    expect(switch).to_have_attribute("aria-checked", "true")  # the server put it back
    page.screenshot(path=tmp_path / "viewer-refused.png")
    assert site.switches() == before
    entry = site.audit("strategy.disable", "vic")[0]
    assert (entry.details["outcome"], entry.details["reason"], entry.details["role"]) == (
        "failure",
        "forbidden",
        "viewer",
    )
    _tab(page, "Risk")
    for button in ("Halt trading", "Resume trading"):
        expect(page.get_by_role("button", name=button)).to_be_disabled()


#: What each tab shows once drawn (besides the research tab's plots).
SHOWN = {
    "Positions": ".wb-positions .tabulator-row",
    "Orders & fills": ".wb-fills .tabulator-row",
    "Strategies": ".wb-strategy",
    "Risk": ".wb-risk-events .tabulator-row",
    "Runs & reports": ".wb-runs .tabulator-row",
}


def test_every_tab_draws_offline_with_no_request_leaving_and_no_console_error(
    site: Site, page: object, tmp_path: Path
) -> None:
    bars = wb.load("SPY", start="2018-01-01", end="2019-12-31")
    res = wb.sweep("sma_cross", bars, fast=[5, 10], slow=[50, 100], fees=0.001, progress=False)
    run_id = save_run(res, site.store)
    seen = PageCheck()
    watch(page, seen)
    _log_in(page, site, "vic")
    expect(page.locator("#wb-user")).to_have_text("Logged in as vic (viewer)", timeout=PAGE)
    assert wait_for_figures(page, 1) == (1, 1)  # the overview's equity curves
    for name, shown in SHOWN.items():
        _tab(page, name)
        expect(page.locator(shown).first).to_be_visible()
        page.screenshot(path=tmp_path / f"offline-{name.split()[0].lower()}.png")
    _tab(page, "Research")
    choice = page.locator("select").filter(has=page.locator("option", has_text=f"#{run_id} sma_cross"))
    expect(choice).to_have_count(1)  # the saved sweep is offered once the poller read it
    choice.select_option(label=choice.locator("option", has_text=f"#{run_id} ").inner_text())
    page.get_by_role("button", name="Load sweep").click()
    expect(page.get_by_text(f"sweep #{run_id} loaded: 4 parameter sets")).to_be_visible(timeout=PAGE)
    assert wait_for_figures(page, 3) == (3, 3)  # and the sweep's heatmap and its best set's equity
    page.screenshot(path=tmp_path / "offline-research.png")
    _tab(page, "Overview")
    expect(page.locator("#wb-equity")).to_be_visible()
    assert (seen.outside, seen.errors) == ([], [])

"""The dashboard's speed as a user sees it: first paint after login, and each tab switch, in headless Chromium.

    python benchmarks/bench_dashboard.py [--repeat 3]

The store is the dashboard tests' seeded account (``tests/ui_support.seed``: two live runs with positions, filled
and working orders, marks and a risk event); ``workbench dashboard`` serves it in its own process (``--poll 1``)
and Debian's ``/usr/bin/chromium`` (driven by Playwright) logs in as the trader.

* first paint: from the click on "Log in" to the user bar and every tab header shown (goal: under 2 s).
* tab switch: from the click on a tab's header to a thing that tab shows (a row of its table, ...) being visible
  (goal: under 0.5 s each on two cores): each tab right after first paint ("first": while the page may still be
  filling the other tabs in the background), then each again ("again").

Each number is the best and the median of ``--repeat`` page loads (the machine is shared). Timings are never
asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

#: A tab's header, and what it shows once drawn.
TABS = {
    "Positions": ".wb-positions .tabulator-row",
    "Orders & fills": ".wb-orders .tabulator-row",
    "Strategies": ".wb-strategy",
    "Risk": ".wb-limits",
    "Runs & reports": ".wb-runs",
    "Overview": "#wb-user",
}


def serve(folder: Path) -> tuple[subprocess.Popen, str]:
    """The seeded store served by ``workbench dashboard`` on a free port; returns the process and its URL."""
    from ui_support import add_users, seed

    from workbench.store import Store

    url = f"sqlite:///{folder / 'workbench.db'}"
    store = Store.open(url)
    add_users(store)
    seed(store)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env.update(WORKBENCH_HOME=str(folder), WORKBENCH_DB_URL=url)
    command = "import sys; from workbench.cli import main; sys.exit(main(sys.argv[1:]))"
    args = ["dashboard", "--port", str(port), "--poll", "1", "--reports", str(folder / "reports")]
    with (folder / "dashboard.log").open("w") as log:
        server = subprocess.Popen([sys.executable, "-c", command, *args], cwd=folder, env=env, stdout=log, stderr=log)
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"http://127.0.0.1:{port}/"
        except OSError:
            time.sleep(0.1)
    server.kill()
    sys.exit("the dashboard did not listen within 60 s")


def measure(browser, url: str) -> dict[str, float]:
    """One page load: seconds to first paint after login, then to each tab's content after its click."""
    from ui_support import PASSWORD, USERS

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(url)
    page.fill("#username", USERS["trader"])
    page.fill("#password", PASSWORD)
    began = time.perf_counter()
    page.click("#login-submit")
    page.locator("#wb-user").wait_for(state="visible")
    page.locator(".bk-tab").filter(has_text="Research").wait_for(state="visible")
    times = {"first paint": time.perf_counter() - began}
    for visit in ("first", "again"):
        for name, shown in TABS.items():
            began = time.perf_counter()
            page.locator(".bk-tab").filter(has_text=re.compile(f"^{re.escape(name)}$")).click()
            page.locator(shown).first.wait_for(state="visible")
            times[f"{name} ({visit})"] = time.perf_counter() - began
    context.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="page loads; the best of each number is shown")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="wb-dash-") as folder:
        server, url = serve(Path(folder))
        try:
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
                runs = [measure(browser, url) for _ in range(args.repeat)]
                browser.close()
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
    print(f"{'':<25} {'best':>6}   {'median':>6}")
    for name in runs[0]:
        goal = 2.0 if name == "first paint" else 0.5
        values = sorted(r[name] for r in runs)
        print(f"{name:<25} {values[0]:6.2f} s {values[len(values) // 2]:6.2f} s   (goal < {goal} s)")


if __name__ == "__main__":
    main()

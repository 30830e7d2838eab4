"""A second process for the one-process-per-run tests: it takes a run the way a session does, then waits.

python tests/run_holder.py lease DB_URL RUN_ID
    take run RUN_ID's lease (`RunLease.acquire`), print ``@held PID``, wait until stdin closes, release it
    (``stopped``); refused: print ``@refused <the error>`` and exit 3.
python tests/run_holder.py open DB_URL START
    open a new local paper run of sma_cross(5, 20) on SPY from START (`LiveSession.open`, as `workbench live`
    does), print ``@opened RUN_ID``, then wait until stdin closes (a test kills it before its first bar).
"""

from __future__ import annotations

import sys

import pandas as pd

import workbench as wb
from workbench.store import Store
from workbench.trading.build import paper_venue
from workbench.trading.live import LiveSession
from workbench.trading.run_lock import RunLease, RunLocked


def say(*words: object) -> None:
    print("@" + " ".join(str(w) for w in words), flush=True)


def main(mode: str, db_url: str, arg: str) -> int:
    store = Store.open(db_url)
    if mode == "lease":
        try:
            lease = RunLease.acquire(store, int(arg))
        except RunLocked as exc:
            say("refused", exc)
            return 3
        import os

        say("held", os.getpid())
        sys.stdin.read()
        lease.release("stopped")
        return 0
    bars = wb.load("SPY")
    venue = paper_venue(10_000.0)
    live = LiveSession.open(
        store,
        wb.strategy("sma_cross")(fast=5, slow=20),
        "SPY",
        venue.broker,
        clock=venue.clock,
        run=None,
        history=bars.loc[bars.index < pd.Timestamp(arg, tz="UTC")],
        start=arg,
        notify=False,
    )
    say("opened", live.run_id)
    sys.stdin.read()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))

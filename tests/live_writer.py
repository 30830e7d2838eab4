"""Live sessions for the crash test, forked from one warmed-up process so that each restart costs no imports.

    python tests/live_writer.py DB_URL REST_URL WS_URL RUN_ID

The process imports and compiles everything, prints ``@ready``, then takes commands on stdin, one a line:

``run SEED MODE PRICE``
    fork a live session on the recorded run (AlpacaBroker on the loopback fake, sma_cross(2, 4) on SPY, a
    seeded random walk around PRICE); the session reconciles, prints ``@reconciled PID {json}`` and waits for
    a ``go`` line, then trades until it is killed. MODE ``record`` SIGKILLs itself right after recording its
    N-th order (before sending it), ``accept`` right before recording that Alpaca accepted its N-th order (sent,
    answer not recorded), ``fill`` right before recording its N-th fill (made at the broker), ``timer`` waits for
    the test's SIGKILL, ``check`` only reconciles and exits. The parent prints ``@exited PID CODE``
    (a negative CODE: killed by that signal).

stdin is read unbuffered, so a ``go`` meant for the session is not swallowed by this process.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

import workbench as wb
from workbench.brokers.alpaca import AlpacaBroker
from workbench.data.feeds import Bar
from workbench.logs import configure_logging
from workbench.store import Store
from workbench.store.journal import OrderJournal
from workbench.testing import FrozenClock, ListFeed, make_bars
from workbench.trading.live import LiveSession
from workbench.trading.session import TradingSession

STRATEGY = wb.strategy("sma_cross")(fast=2, slow=4)
FIRST_BAR = datetime(2024, 1, 1, tzinfo=UTC)
HISTORY = 10  # warm-up bars before each session's first live bar


def readline() -> str:
    """One line of stdin, read a byte at a time (no read-ahead: the next line may be another process's)."""
    data = b""
    while not data.endswith(b"\n"):
        byte = os.read(0, 1)
        if not byte:
            break
        data += byte
    return data.decode().strip()


def say(*words: object) -> None:
    print("@" + " ".join(str(w) for w in words), flush=True)


def walk(seed: int, price: float, start: datetime) -> Iterator[Bar]:
    """An endless seeded random walk of daily SPY bars around ``price`` from ``start``."""
    rng = np.random.default_rng(seed)
    close, stamp = price, start
    while True:
        opened, close = close, close * float(np.exp(rng.normal(0.0, 0.01)))
        high, low = max(opened, close) * 1.001, min(opened, close) * 0.999
        yield Bar("SPY", stamp, opened, high, low, close, 1e6)
        stamp += timedelta(days=1)


def die_after(method: str, count: int, kind: str | None = None) -> None:
    """SIGKILL this process at the ``count``-th call of ``OrderJournal.<method>`` (for ``record_event``: of an
    event of ``kind``): after the call for ``record_order`` (recorded, not sent), before it for an event (it
    happened at the broker, it is not recorded)."""
    original = getattr(OrderJournal, method)
    calls = [0]

    def wrapped(self, *args):
        if kind is not None and args[0].kind.value != kind:
            return original(self, *args)
        calls[0] += 1
        if method == "record_event" and calls[0] == count:
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(self, *args)
        if method == "record_order" and calls[0] == count:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(OrderJournal, method, wrapped)


def session(db_url: str, rest_url: str, ws_url: str, run_id: int, seed: int, mode: str, price: float) -> None:
    """A forked child: reconcile, report, wait for the go, trade until killed."""
    store = Store.open(db_url, upgrade=False)
    last = OrderJournal.resume(store, run_id).restore().last_bar
    start = FIRST_BAR if last is None else last + timedelta(days=1)
    bars = walk(seed, price, start - timedelta(days=HISTORY))  # the warm-up bars end at the run's last bar
    warmup = [next(bars) for _ in range(HISTORY)]
    history = pd.DataFrame(
        [(b.open, b.high, b.low, b.close, b.volume) for b in warmup],
        columns=["open", "high", "low", "close", "volume"],
        index=pd.DatetimeIndex([b.timestamp for b in warmup], name="timestamp"),
    )
    broker = AlpacaBroker(
        "PKFAKEKEY0000000001",
        "FAKESECRET000000000000000000000000000001",
        url_override=rest_url,
        stream_url_override=ws_url,
        settle_timeout=2.0,
        reconnect=(0.05, 0.2),
    ).start()
    clock = FrozenClock(start - timedelta(days=1))
    live = LiveSession.open(
        store,
        STRATEGY,
        "SPY",
        broker,
        clock=clock,
        run=run_id,
        history=history,
        poll=0.05,
        override_reason="tests: the loopback Alpaca fake",
    )
    result = live.reconciliation
    report = {"differences": result.differences, "never_sent": result.never_sent, "sent": result.sent}
    say("reconciled", os.getpid(), json.dumps(report | {"events": result.events}))
    if mode == "check":
        return
    if readline() != "go":
        return
    rng = random.Random(seed)
    if mode == "record":
        die_after("record_order", rng.randint(1, 3))
    elif mode == "accept":
        die_after("record_event", rng.randint(1, 3), kind="accepted")
    elif mode == "fill":
        die_after("record_event", rng.randint(1, 4), kind=rng.choice(["partial_fill", "fill"]))
    live.run(bars)


def warm_up() -> None:
    """Compile the kernels a session uses, so every forked session starts at once."""
    bars = make_bars(40, symbol="SPY")
    TradingSession.paper(STRATEGY, "SPY", cash=10_000).run(ListFeed({"SPY": bars}))


def main(db_url: str, rest_url: str, ws_url: str, run_id: int) -> None:
    configure_logging("ERROR")
    warm_up()
    say("ready")
    while True:
        command = readline().split()
        if not command:
            return
        _, seed, mode, price = command
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                session(db_url, rest_url, ws_url, run_id, int(seed), mode, float(price))
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        say("exited", pid, -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))

"""Trading processes for the crash test, forked from one warmed-up process so that each kill costs no imports.

    python tests/journal_writer.py DB_URL RUN_ID

The process imports everything and loads the kernels a trade runs, prints ``@ready``, then reads seeds on stdin,
one a line. For each it forks a process that resumes the journaled paper run and trades in a loop until killed,
printing ``@trading PID`` once its first order is stored (so the test kills it mid-work, not mid-start); when that
process ends the parent prints ``@exited PID CODE`` (a negative CODE: killed by that signal).
"""

from __future__ import annotations

import os
import random
import sys
from datetime import UTC, datetime, timedelta

from workbench.brokers.sim import SimBroker
from workbench.orders.manager import OrderManager
from workbench.orders.model import Order
from workbench.store import Store
from workbench.store.journal import OrderJournal
from workbench.testing import FrozenClock


def say(*words: object) -> None:
    print("@" + " ".join(str(w) for w in words), flush=True)


def trade(url: str, run_id: int, seed: int) -> None:
    """A forked child: resume the run and trade random orders until killed."""
    rng = random.Random(seed)
    store = Store.open(url, upgrade=False)
    journal = OrderJournal.resume(store, run_id)
    state = journal.restore()
    clock = FrozenClock(datetime(2024, 1, 2, tzinfo=UTC) + timedelta(days=seed))
    broker = SimBroker(clock, cash=state.cash, fees=0.001)
    broker.restore(state.cash, {s: p.qty for s, p in state.positions.items()}, state.open_orders)
    om = OrderManager(broker, clock, fees=0.001, journal=journal)
    om.restore(state.positions, state.open_orders, state.client_order_ids)
    announced = False
    while True:
        clock.advance(timedelta(seconds=1))
        symbol = rng.choice(["SPY", "QQQ"])
        broker.quote(symbol, rng.uniform(90.0, 110.0))
        held = broker.positions().get(symbol, 0.0)
        side = "sell" if held > 5 and rng.random() < 0.5 else "buy"
        qty = rng.uniform(0.5, 3.0) if side == "buy" else rng.uniform(0.5, held)
        om.submit(Order(symbol=symbol, side=side, qty=round(qty, 6), created_at=clock.now()))
        if not announced:
            say("trading", os.getpid())
            announced = True


def warm() -> None:
    """Load the numba kernels a trade runs, once, before any fork."""
    clock = FrozenClock(datetime(2024, 1, 2, tzinfo=UTC))
    broker = SimBroker(clock, cash=1_000.0, fees=0.001)
    broker.quote("SPY", 100.0)
    OrderManager(broker, clock, fees=0.001).submit(Order(symbol="SPY", side="buy", qty=1.0, created_at=clock.now()))


def main(url: str, run_id: int) -> None:
    warm()
    say("ready")
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            try:
                trade(url, run_id, int(line))
            finally:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        say("exited", pid, -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))

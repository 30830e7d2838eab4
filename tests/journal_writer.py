"""A trading process for the crash test: it resumes a journaled paper run and trades in a loop until killed.

    python tests/journal_writer.py DB_URL RUN_ID SEED

It prints ``ready`` once its first order is stored, so the test kills it mid-work, not mid-import.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta

from workbench.brokers.sim import SimBroker
from workbench.orders.manager import OrderManager
from workbench.orders.model import Order
from workbench.store import Store
from workbench.store.journal import OrderJournal
from workbench.testing import FrozenClock


def main(url: str, run_id: int, seed: int) -> None:
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
            print("ready", flush=True)
            announced = True


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))

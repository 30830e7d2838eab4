"""A live session on Alpaca paper (the loopback fake) is SIGKILLed 24 times, at random moments and right in the
dangerous windows: an order recorded but not yet sent, sent but its acceptance not yet recorded, and a fill made at
the broker but not yet recorded.
After every restart the records and the broker agree, and no client_order_id ever reached the broker twice.

The sessions are forked from one warmed-up process (tests/live_writer.py), so 25 restarts cost no imports.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
from collections import Counter
from pathlib import Path

import pytest
from alpaca_fake import LoopbackServer, TradingApi
from writer_process import Writer

from workbench.orders.model import OrderStatus
from workbench.store import Store
from workbench.store.journal import OrderJournal

WRITER = Path(__file__).parents[1] / "live_writer.py"
STATUS = {"filled": OrderStatus.FILLED, "canceled": OrderStatus.CANCELED, "rejected": OrderStatus.REJECTED}


def _agree(store: Store, run_id: int, trading: TradingApi) -> None:
    """The records of the run say what the broker's account says."""
    with store.unit_of_work(readonly=True) as uow:
        orders = uow.orders.find(run_id=run_id)
        positions = uow.positions.current(run_id)
    at_broker = {o.client_order_id: o for o in trading.orders.values()}
    assert set(at_broker) <= {o.client_order_id for o in orders}  # nothing reached Alpaca unrecorded
    for order in orders:
        remote = at_broker.get(order.client_order_id)
        if remote is None:  # recorded, never sent: ended so by the reconciliation
            assert (order.status, order.filled_qty) == (OrderStatus.CANCELED, 0.0), order
            continue
        assert order.filled_qty == pytest.approx(remote.filled_qty, rel=1e-9), order
        detail = (order.qty, order.filled_qty, order.status, remote.qty, remote.filled_qty, remote.status)
        assert order.status is STATUS.get(remote.status, order.status) and order.is_open == remote.is_open, detail
    held = {s: q for s, (q, _) in trading.positions.items()}
    for symbol in {*positions, *held}:  # Alpaca keeps 9 decimals: our sums may leave 1e-12 where it has none
        mine = positions[symbol].qty if symbol in positions else 0.0
        assert mine == pytest.approx(held.get(symbol, 0.0), abs=1e-9), symbol
    assert OrderJournal.resume(store, run_id).restore().cash == pytest.approx(trading.cash, rel=1e-9, abs=1e-6)


@pytest.mark.slow
def test_sigkill_anywhere_leaves_records_and_broker_in_agreement(tmp_path) -> None:
    db_url = f"sqlite:///{tmp_path / 'workbench.db'}"
    store = Store.open(db_url)
    rng = random.Random(8)
    modes = ["record", "accept", "fill", "timer"] * 6
    rng.shuffle(modes)
    with LoopbackServer() as server:
        trading = TradingApi(server, cash=1_000_000.0, partial=(0.5, 0.5), fill_interval=0.01)
        config = {"symbol": "SPY", "broker": "alpaca-paper"}
        run_id = OrderJournal.start(
            store, "sma_cross", cash=trading.cash, params={"fast": 2, "slow": 4}, config=config
        ).run_id
        args = [db_url, server.rest_url, server.ws_url("/stream"), str(run_id)]
        writer = Writer(WRITER, args, tmp_path / "writer.log")
        try:
            writer.expect("ready")
            found = Counter()
            for seed, mode in enumerate([*modes, "check"]):
                price = round(rng.uniform(90.0, 110.0), 2)
                trading.quote("SPY", price)
                trading.wait_idle()
                writer.send(f"run {seed} {mode} {price}")
                pid, report = writer.expect("reconciled")
                result = json.loads(report)
                assert result["differences"] == [], result
                _agree(store, run_id, trading)
                found.update({"never_sent": len(result["never_sent"]), "sent": len(result["sent"])})
                found["caught_up"] += result["events"]
                if mode == "check":
                    break
                writer.send("go")
                if mode == "timer":
                    threading.Event().wait(rng.uniform(0.1, 0.6))
                    os.kill(int(pid), signal.SIGKILL)
                exited_pid, code = writer.expect("exited", timeout=30)
                assert (exited_pid, int(code)) == (pid, -signal.SIGKILL)
            writer.expect("exited")
        finally:
            writer.close()
        submitted = Counter(trading.submitted())
    assert submitted and max(submitted.values()) == 1  # no client_order_id reached Alpaca twice
    assert len(submitted) > 30 and found["caught_up"] >= 12  # fills made at Alpaca while down
    assert found["never_sent"] >= 6 and found["sent"] >= 6  # recorded then killed: before / after sending
    store.close()

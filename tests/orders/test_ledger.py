"""Positions and P&L by hand: long, add, partial close, reverse to short, close — through the ledger kernel,
through OrderManager with scripted fills, and through OrderManager + SimBroker where cash + position value
must equal initial cash + realized + unrealized after every fill (fees charged to realized)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from workbench.brokers.sim import SimBroker
from workbench.engine.ledger import position_after_fill_nb
from workbench.orders.manager import OrderManager
from workbench.orders.model import Fill, Order, OrderEvent, OrderStatus
from workbench.ports import Account
from workbench.testing import FrozenClock

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
approx = lambda x: pytest.approx(x, rel=1e-12, abs=1e-9)  # noqa: E731

# (signed qty, price, fee): long 10, add 10, sell 5, sell 25 (reverse to short 10), buy 10 (flat)
SCRIPT = [(10.0, 100.0, 1.0), (10.0, 110.0, 1.0), (-5.0, 120.0, 0.5), (-25.0, 90.0, 2.0), (10.0, 80.0, 1.0)]
# (qty, avg price, realized) after each step, by hand:
EXPECTED = [
    (10.0, 100.0, -1.0),  # open 10 @100; the fee is charged to realized: 0 - 1
    (20.0, (10 * 100 + 10 * 110) / 20, -1.0 - 1.0),  # avg 105; realized -2
    (15.0, 105.0, -2.0 + 5 * (120 - 105) - 0.5),  # +75 - 0.5 -> 72.5
    (-10.0, 90.0, 72.5 + 15 * (90 - 105) - 2.0),  # close 15 long: -225 - 2 -> -154.5; short 10 @90
    (0.0, 0.0, -154.5 + 10 * (90 - 80) - 1.0),  # cover 10 short: +100 - 1 -> -55.5; flat: avg 0
]


def test_expected_table_is_what_the_arithmetic_says():
    assert [e[2] for e in EXPECTED] == [-1.0, -2.0, 72.5, -154.5, -55.5]
    assert EXPECTED[1][1] == 105.0


def test_ledger_kernel_scripted_sequence():
    qty, avg, realized = 0.0, 0.0, 0.0
    for (fill_qty, price, fee), (e_qty, e_avg, e_realized) in zip(SCRIPT, EXPECTED, strict=True):
        qty, avg, realized = position_after_fill_nb(qty, avg, realized, fill_qty, price, fee)
        assert (qty, avg, realized) == (e_qty, approx(e_avg), approx(e_realized))


@pytest.mark.parametrize(
    "start, fill, expected",
    [
        # short 10 @50, sell 10 more @40: avg (10*50 + 10*40) / 20 = 45
        ((-10.0, 50.0, 0.0), (-10.0, 40.0, 0.0), (-20.0, 45.0, 0.0)),
        # short 20 @45, cover 5 @30: +5 x (45 - 30) = 75, avg unchanged
        ((-20.0, 45.0, 0.0), (5.0, 30.0, 0.0), (-15.0, 45.0, 75.0)),
        # short 15 @45, buy 25 @60: covers 15 at -15 x 15 = -225, opens long 10 @60; fee 3
        ((-15.0, 45.0, 75.0), (25.0, 60.0, 3.0), (10.0, 60.0, 75.0 - 225.0 - 3.0)),
        # long 10 @60, sell exactly 10 @60: flat, nothing realized but the fee
        ((10.0, 60.0, 0.0), (-10.0, 60.0, 0.25), (0.0, 0.0, -0.25)),
    ],
)
def test_ledger_kernel_short_side_and_reversals(start, fill, expected):
    got = position_after_fill_nb(*start, *fill)
    assert got == (expected[0], approx(expected[1]), approx(expected[2]))


class ScriptedBroker:
    """A Broker that fills every market order at once at a scripted (price, fee), for absolute fees."""

    def __init__(self, clock: FrozenClock, prices: list[tuple[float, float]]) -> None:
        self.clock = clock
        self.prices = list(prices)
        self._orders: dict[str, Order] = {}
        self._positions: dict[str, float] = {}
        self._handlers: list[Callable[[OrderEvent], None]] = []

    def submit(self, order: Order) -> Order:
        self._orders[order.id] = order
        price, fee = self.prices.pop(0)
        for handler in self._handlers:
            handler(order.transition(OrderStatus.ACCEPTED, self.clock.now()))
        event = order.apply_fill(Fill.for_order(order, qty=order.qty, price=price, fee=fee, timestamp=self.clock.now()))
        self._positions[order.symbol] = self._positions.get(order.symbol, 0.0) + order.signed_qty
        for handler in self._handlers:
            handler(event)
        return order

    def cancel(self, order_id: str) -> Order:
        raise NotImplementedError

    def get_order(self, order_id: str) -> Order:
        return self._orders[order_id]

    def list_orders(self, open_only: bool = False) -> list[Order]:
        return list(self._orders.values())

    def positions(self) -> dict[str, float]:
        return dict(self._positions)

    def account(self) -> Account:
        return Account(cash=0.0, equity=0.0)

    def subscribe(self, handler: Callable[[OrderEvent], None]) -> None:
        self._handlers.append(handler)


def test_order_manager_positions_with_absolute_fees():
    clock = FrozenClock(T0)
    broker = ScriptedBroker(clock, [(price, fee) for _, price, fee in SCRIPT])
    om = OrderManager(broker, clock)
    for (qty, _, _), (e_qty, e_avg, e_realized) in zip(SCRIPT, EXPECTED, strict=True):
        om.submit(Order(symbol="SPY", side="buy" if qty > 0 else "sell", qty=abs(qty), created_at=clock.now()))
        pos = om.positions["SPY"]
        assert (pos.qty, pos.avg_price, pos.realized_pnl) == (e_qty, approx(e_avg), approx(e_realized))
    assert om.positions["SPY"].fees == approx(1.0 + 1.0 + 0.5 + 2.0 + 1.0)  # 5.5
    assert om.realized_pnl() == approx(-55.5)
    assert om.unrealized_pnl({"SPY": 1e6}) == 0.0  # flat
    assert len(om.fills) == 5


# Through SimBroker: the same quantities as market orders at quote() prices, fees as a fraction of value.
STEPS = [(10.0, 100.0), (10.0, 110.0), (-5.0, 120.0), (-25.0, 90.0), (10.0, 80.0)]
MARKS = [104.0, 112.0, 101.0, 95.0, 70.0]  # a re-quote after each fill, to mark unrealized P&L away from the fill

CASES = {
    # fees, slippage -> (qty, avg, realized) after each step, by hand
    "no costs": (
        0.0,
        0.0,
        [
            (10.0, 100.0, 0.0),
            (20.0, 105.0, 0.0),
            (15.0, 105.0, 5 * (120 - 105)),  # 75
            (-10.0, 90.0, 75 + 15 * (90 - 105)),  # -150
            (0.0, 0.0, -150 + 10 * (90 - 80)),  # -50
        ],
    ),
    "fees 0.1%": (
        0.001,
        0.0,
        [
            (10.0, 100.0, -10 * 100 * 0.001),  # fee 1.0 -> -1.0
            (20.0, 105.0, -1.0 - 10 * 110 * 0.001),  # fee 1.1 -> -2.1
            (15.0, 105.0, -2.1 + 5 * (120 - 105) - 5 * 120 * 0.001),  # +75 - 0.6 -> 72.3
            (-10.0, 90.0, 72.3 + 15 * (90 - 105) - 25 * 90 * 0.001),  # -225 - 2.25 -> -154.95
            (0.0, 0.0, -154.95 + 10 * (90 - 80) - 10 * 80 * 0.001),  # +100 - 0.8 -> -55.75
        ],
    ),
    "slippage 0.2%": (
        0.0,
        0.002,
        [
            # fills: buys at price x 1.002, sells at price x 0.998
            (10.0, 100.2, 0.0),
            (20.0, (10 * 100.2 + 10 * 110.22) / 20, 0.0),  # avg 105.21
            (15.0, 105.21, 5 * (119.76 - 105.21)),  # 72.75
            (-10.0, 89.82, 72.75 + 15 * (89.82 - 105.21)),  # -230.85 -> -158.1; short 10 @89.82
            (0.0, 0.0, -158.1 + 10 * (89.82 - 80.16)),  # +96.6 -> -61.5
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_order_manager_and_sim_broker_pnl_identity_at_every_fill(case):
    fees, slippage, expected = CASES[case]
    cash0 = 10_000.0
    clock = FrozenClock(T0)
    broker = SimBroker(clock, cash=cash0, fees=fees, slippage=slippage)
    om = OrderManager(broker, clock, fees=fees, slippage=slippage)
    quote: dict[str, float] = {}
    checks: list[tuple[float, float]] = []

    def identity() -> tuple[float, float]:
        """(cash + position value at the quote, initial cash + realized + unrealized at the quote)."""
        pos = om.positions["SPY"]
        left = broker.account().cash + broker.positions().get("SPY", 0.0) * quote["SPY"]
        right = cash0 + om.realized_pnl() + om.unrealized_pnl(quote)
        assert broker.account().equity == approx(left)
        assert pos.qty == broker.positions().get("SPY", 0.0)
        return left, right

    om.subscribe(lambda event: checks.append(identity()) if event.fill is not None else None)

    for (qty, price), mark, (e_qty, e_avg, e_realized) in zip(STEPS, MARKS, expected, strict=True):
        quote["SPY"] = price
        broker.quote("SPY", price)
        order = om.submit(Order(symbol="SPY", side="buy" if qty > 0 else "sell", qty=abs(qty), created_at=clock.now()))
        assert order.status is OrderStatus.FILLED
        pos = om.positions["SPY"]
        assert (pos.qty, pos.avg_price, pos.realized_pnl) == (e_qty, approx(e_avg), approx(e_realized))
        # unrealized at the fill's quote, by hand from the expected position
        assert om.unrealized_pnl(quote) == approx(e_qty * (price - e_avg))
        # re-mark away from the fill price
        quote["SPY"] = mark
        broker.quote("SPY", mark)
        assert om.unrealized_pnl(quote) == approx(e_qty * (mark - e_avg))
        left, right = identity()
        assert left == approx(right)

    assert len(checks) == 5
    for left, right in checks:  # the identity held inside every fill handler too
        assert left == approx(right)
    assert broker.positions() == {}
    assert broker.account().cash == approx(cash0 + expected[-1][2])  # flat: cash = initial + realized
    assert om.positions["SPY"].fees == approx(sum(abs(q) * p for q, p in STEPS) * fees)


def test_hand_numbers_of_the_fee_and_slippage_cases():
    fees_case, slip_case = CASES["fees 0.1%"][2], CASES["slippage 0.2%"][2]
    assert [round(r, 9) for _, _, r in fees_case] == [-1.0, -2.1, 72.3, -154.95, -55.75]
    assert [round(r, 9) for _, _, r in slip_case] == [0.0, 0.0, 72.75, -158.1, -61.5]
    assert round(slip_case[1][1], 9) == 105.21
    # the fill prices behind the slippage case
    assert [round(p * (1.002 if q > 0 else 0.998), 9) for q, p in STEPS] == [100.2, 110.22, 119.76, 89.82, 80.16]


def test_totals_over_two_symbols():
    clock = FrozenClock(T0)
    broker = SimBroker(clock, cash=10_000.0)
    om = OrderManager(broker, clock)
    broker.quote("SPY", 100.0)
    broker.quote("QQQ", 50.0)
    for symbol, side, qty in [("SPY", "buy", 10), ("QQQ", "sell", 20)]:
        om.submit(Order(symbol=symbol, side=side, qty=qty, created_at=T0))
    broker.quote("SPY", 105.0)
    om.submit(Order(symbol="SPY", side="sell", qty=4, created_at=T0))  # realizes 4 x 5 = 20
    prices = {"SPY": 103.0, "QQQ": 45.0}
    # SPY: 6 x (103 - 100) = 18; QQQ: -20 x (45 - 50) = 100
    assert om.realized_pnl() == 20.0
    assert om.unrealized_pnl(prices) == 118.0
    broker.quote("SPY", 103.0)
    broker.quote("QQQ", 45.0)
    assert broker.account().equity == approx(10_000.0 + 20.0 + 118.0)

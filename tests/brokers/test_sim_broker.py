"""SimBroker: market fills at the quote with slippage and fees, resting limit/stop/stop-limit orders on bars
(gap handling), time in force, cancel/get/list, and the event stream. Every number is computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from workbench.brokers import BrokerError
from workbench.brokers.sim import SimBroker
from workbench.data.feeds import Bar
from workbench.orders.model import EventKind, Order, OrderEvent, OrderStatus
from workbench.ports import Account
from workbench.testing import FrozenClock

S = OrderStatus
# Far from the wall clock, so anything reading the real time would show.
DAY1 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
DAY2 = datetime(2024, 1, 3, 14, 30, tzinfo=UTC)
DAY3 = datetime(2024, 1, 4, 14, 30, tzinfo=UTC)


class Rig:
    """A SimBroker on a FrozenClock that records every event it emits."""

    def __init__(self, cash: float = 10_000.0, fees: float = 0.0, slippage: float = 0.0) -> None:
        self.clock = FrozenClock(DAY1)
        self.broker = SimBroker(self.clock, cash=cash, fees=fees, slippage=slippage)
        self.events: list[OrderEvent] = []
        self.broker.subscribe(self.events.append)

    def order(self, side: str = "buy", qty: float = 10, symbol: str = "SPY", **kw) -> Order:
        return Order(symbol=symbol, side=side, qty=qty, created_at=self.clock.now(), **kw)

    def submit(self, side: str = "buy", qty: float = 10, symbol: str = "SPY", **kw) -> Order:
        return self.broker.submit(self.order(side, qty, symbol, **kw))

    def bar(self, o: float, h: float, low: float, c: float, at: datetime | None = None, symbol: str = "SPY") -> None:
        """Move the clock to ``at`` (default: 1 minute later, same day) and process one bar there."""
        at = at if at is not None else self.clock.now() + timedelta(minutes=1)
        self.clock.set(at)
        self.broker.process_bar(Bar(symbol, at, o, h, low, c, 1_000.0))

    def kinds(self, order: Order) -> list[str]:
        return [e.kind.value for e in self.events if e.order_id == order.id]


# --- market orders ---------------------------------------------------------------------------------------------


def test_market_buy_fills_at_quote_plus_slippage_and_pays_fee():
    rig = Rig(cash=10_000.0, fees=0.001, slippage=0.002)
    rig.broker.quote("SPY", 100.0)
    order = rig.submit("buy", 10)
    fill_price = 100.0 * (1 + 0.002)  # 100.2: a buy pays up
    fee = 10 * fill_price * 0.001  # 1.002
    assert order.status is S.FILLED
    assert order.filled_qty == 10.0
    assert order.avg_fill_price == pytest.approx(100.2, rel=1e-12)
    assert order.fees == pytest.approx(1.002, rel=1e-12)
    assert fill_price == pytest.approx(100.2, rel=1e-12) and fee == pytest.approx(1.002, rel=1e-12)
    account = rig.broker.account()
    assert isinstance(account, Account)
    assert account.cash == pytest.approx(10_000.0 - 1_002.0 - 1.002, rel=1e-12)  # 8996.998
    assert rig.broker.positions() == {"SPY": 10.0}
    # equity marks the position at the last quote (no slippage in the mark)
    assert account.equity == pytest.approx(8_996.998 + 10 * 100.0, rel=1e-12)
    rig.broker.quote("SPY", 110.0)
    assert rig.broker.account().equity == pytest.approx(8_996.998 + 10 * 110.0, rel=1e-12)
    assert rig.broker.account().cash == pytest.approx(8_996.998, rel=1e-12)


def test_market_sell_receives_quote_minus_slippage_and_pays_fee():
    rig = Rig(cash=10_000.0, fees=0.001, slippage=0.002)
    rig.broker.quote("SPY", 100.0)
    rig.submit("buy", 10)  # cash 8996.998 (see above)
    rig.broker.quote("SPY", 110.0)
    order = rig.submit("sell", 4)
    fill_price = 110.0 * (1 - 0.002)  # 109.78: a sell receives less
    fee = 4 * 109.78 * 0.001  # 0.43912
    assert order.status is S.FILLED
    assert order.avg_fill_price == pytest.approx(109.78, rel=1e-12) == fill_price
    assert order.fees == pytest.approx(0.43912, rel=1e-12) == fee
    cash = 8_996.998 + 4 * 109.78 - 0.43912  # 9435.67888
    assert rig.broker.account().cash == pytest.approx(9_435.67888, rel=1e-12) == cash
    assert rig.broker.positions() == {"SPY": 6.0}
    assert rig.broker.account().equity == pytest.approx(9_435.67888 + 6 * 110.0, rel=1e-12)


def test_market_sell_from_flat_opens_a_short_and_equity_marks_it():
    rig = Rig(cash=1_000.0, fees=0.01)
    rig.broker.quote("SPY", 50.0)
    order = rig.submit("sell", 5)
    assert order.status is S.FILLED and order.avg_fill_price == 50.0
    assert rig.broker.positions() == {"SPY": -5.0}
    # proceeds 5 * 50 = 250, fee 250 * 0.01 = 2.5
    assert rig.broker.account().cash == pytest.approx(1_000.0 + 250.0 - 2.5, rel=1e-12)
    rig.broker.quote("SPY", 60.0)
    assert rig.broker.account().equity == pytest.approx(1_247.5 - 5 * 60.0, rel=1e-12)  # 947.5


def test_market_order_without_a_quote_is_rejected_with_a_reason():
    rig = Rig()
    rig.broker.quote("SPY", 100.0)
    order = rig.submit("buy", 1, symbol="QQQ")
    assert order.status is S.REJECTED
    assert order.reject_reason == "no price for QQQ"
    assert rig.kinds(order) == ["rejected"]
    assert rig.events[-1].reason == "no price for QQQ"
    assert rig.broker.account() == Account(cash=10_000.0, equity=10_000.0)
    assert rig.broker.positions() == {}
    assert rig.broker.get_order(order.id) is order


@pytest.mark.parametrize("fees, qty", [(0.0, 11), (0.001, 10)])
def test_buy_beyond_the_cash_is_rejected_and_changes_nothing(fees, qty):
    # 11 x 100 = 1100 > 1000; 10 x 100 x 1.001 = 1001 > 1000 (the fee tips it over)
    rig = Rig(cash=1_000.0, fees=fees)
    rig.broker.quote("SPY", 100.0)
    order = rig.submit("buy", qty)
    assert order.status is S.REJECTED
    assert order.reject_reason == "insufficient cash"
    assert order.filled_qty == 0.0 and order.avg_fill_price is None and order.fees == 0.0
    assert rig.kinds(order) == ["accepted", "rejected"]
    assert rig.broker.account() == Account(cash=1_000.0, equity=1_000.0)
    assert rig.broker.positions() == {}


def test_buy_of_exactly_the_cash_fills_and_leaves_zero_cash():
    rig = Rig(cash=1_000.0)
    rig.broker.quote("SPY", 100.0)
    order = rig.submit("buy", 10)
    assert order.status is S.FILLED
    assert rig.broker.account() == Account(cash=0.0, equity=1_000.0)


def test_covering_a_short_is_allowed_beyond_the_cash_but_reversing_into_a_long_is_not():
    rig = Rig(cash=1_000.0)
    rig.broker.quote("SPY", 100.0)
    rig.submit("sell", 10)  # proceeds 1000: cash 2000, short 10
    rig.broker.quote("SPY", 300.0)
    reverse = rig.submit("buy", 11)  # 11 x 300 = 3300 > 2000 and ends long 1: rejected
    assert reverse.status is S.REJECTED and reverse.reject_reason == "insufficient cash"
    assert rig.broker.positions() == {"SPY": -10.0} and rig.broker.account().cash == 2_000.0
    cover = rig.submit("buy", 10)  # 10 x 300 = 3000 > 2000, but it only closes the short
    assert cover.status is S.FILLED
    assert rig.broker.positions() == {}
    assert rig.broker.account() == Account(cash=2_000.0 - 3_000.0, equity=-1_000.0)
    more = rig.submit("buy", 1)  # a new long on negative cash is refused
    assert more.status is S.REJECTED and rig.broker.positions() == {}


def test_duplicate_client_order_id_is_refused():
    rig = Rig()
    rig.broker.quote("SPY", 100.0)
    first = rig.submit("buy", 1, client_order_id="abc-1")
    assert first.status is S.FILLED
    twin = rig.order("buy", 1, client_order_id="abc-1")
    with pytest.raises(BrokerError, match="abc-1") as info:
        rig.broker.submit(twin)
    assert info.value.transient is False
    assert twin.status is S.NEW
    assert rig.broker.list_orders() == [first]
    assert rig.broker.positions() == {"SPY": 1.0}
    assert rig.broker.account().cash == 9_900.0
    # the same order object again is a duplicate too
    with pytest.raises(BrokerError):
        rig.broker.submit(first)


# --- limit orders ----------------------------------------------------------------------------------------------


def test_limit_buy_rests_above_fills_at_the_limit_when_touched_and_at_the_open_on_a_gap():
    rig = Rig(cash=10_000.0, fees=0.001, slippage=0.01)
    rig.broker.quote("SPY", 100.0)
    order = rig.submit("buy", 10, type="limit", limit_price=95.0, time_in_force="gtc")
    assert order.status is S.ACCEPTED  # a resting limit does not fill at submit
    rig.bar(100.0, 101.0, 95.01, 97.0)  # low above the limit
    assert order.status is S.ACCEPTED and rig.broker.positions() == {}
    rig.bar(97.0, 98.0, 95.0, 96.0)  # low touches the limit exactly
    assert order.status is S.FILLED
    assert order.avg_fill_price == 95.0  # at the limit, no slippage on a limit order
    assert order.fees == pytest.approx(10 * 95.0 * 0.001, rel=1e-12)  # 0.95
    assert rig.broker.account().cash == pytest.approx(10_000.0 - 950.0 - 0.95, rel=1e-12)

    gap = rig.submit("buy", 5, type="limit", limit_price=90.0, time_in_force="gtc")
    rig.bar(88.0, 89.0, 87.0, 88.5)  # opens below the limit: fills at the open (better than the limit)
    assert gap.status is S.FILLED
    assert gap.avg_fill_price == 88.0
    assert rig.broker.positions() == {"SPY": 15.0}
    assert rig.broker.account().cash == pytest.approx(9_049.05 - 5 * 88.0 - 5 * 88.0 * 0.001, rel=1e-12)


def test_limit_sell_rests_below_fills_at_the_limit_when_touched_and_at_the_open_on_a_gap():
    rig = Rig(cash=10_000.0, slippage=0.01)
    rig.broker.quote("SPY", 100.0)
    rig.submit("buy", 10)  # at 101 (slippage): cash 10000 - 1010 = 8990
    order = rig.submit("sell", 4, type="limit", limit_price=105.0, time_in_force="gtc")
    rig.bar(100.0, 104.99, 99.0, 104.0)  # high below the limit
    assert order.status is S.ACCEPTED and rig.broker.positions() == {"SPY": 10.0}
    rig.bar(104.0, 105.0, 103.0, 104.5)  # high touches the limit
    assert order.status is S.FILLED and order.avg_fill_price == 105.0
    assert rig.broker.account().cash == pytest.approx(8_990.0 + 4 * 105.0, rel=1e-12)

    gap = rig.submit("sell", 6, type="limit", limit_price=110.0, time_in_force="gtc")
    rig.bar(112.0, 113.0, 111.0, 112.5)  # opens above the limit: fills at the open
    assert gap.status is S.FILLED and gap.avg_fill_price == 112.0
    assert rig.broker.positions() == {}
    assert rig.broker.account().cash == pytest.approx(9_410.0 + 6 * 112.0, rel=1e-12)


# --- stop and stop-limit orders --------------------------------------------------------------------------------


def test_stop_buy_triggers_at_the_stop_and_gaps_fill_at_the_open_with_slippage():
    rig = Rig(cash=10_000.0, slippage=0.01)
    rig.broker.quote("SPY", 100.0)
    stop = rig.submit("buy", 10, type="stop", stop_price=105.0, time_in_force="gtc")
    rig.bar(100.0, 104.99, 99.0, 104.0)  # high below the stop
    assert stop.status is S.ACCEPTED
    rig.bar(103.0, 106.0, 102.0, 105.5)  # crosses the stop from below: max(open 103, stop 105) = 105
    assert stop.status is S.FILLED
    assert stop.avg_fill_price == pytest.approx(105.0 * 1.01, rel=1e-12)  # 106.05: stops take liquidity
    cash = 10_000.0 - 10 * 106.05

    gap = rig.submit("buy", 5, type="stop", stop_price=110.0, time_in_force="gtc")
    rig.bar(112.0, 113.0, 111.0, 112.0)  # opens through the stop: max(open 112, stop 110) = 112
    assert gap.status is S.FILLED
    assert gap.avg_fill_price == pytest.approx(112.0 * 1.01, rel=1e-12)  # 113.12
    assert rig.broker.account().cash == pytest.approx(cash - 5 * 113.12, rel=1e-12)
    assert rig.broker.positions() == {"SPY": 15.0}


def test_stop_sell_triggers_at_the_stop_and_a_gap_down_fills_at_the_open_not_the_stop():
    rig = Rig(cash=10_000.0, slippage=0.01)
    rig.broker.quote("SPY", 100.0)
    rig.submit("buy", 10)  # at 101: cash 8990
    stop = rig.submit("sell", 4, type="stop", stop_price=95.0, time_in_force="gtc")
    rig.bar(99.0, 100.0, 95.01, 96.0)  # low above the stop
    assert stop.status is S.ACCEPTED
    rig.bar(97.0, 97.5, 94.0, 94.5)  # crosses the stop: min(open 97, stop 95) = 95
    assert stop.status is S.FILLED
    assert stop.avg_fill_price == pytest.approx(95.0 * 0.99, rel=1e-12)  # 94.05

    gap = rig.submit("sell", 6, type="stop", stop_price=90.0, time_in_force="gtc")
    rig.bar(85.0, 86.0, 84.0, 85.5)  # gaps down through the stop: min(open 85, stop 90) = 85
    assert gap.status is S.FILLED
    assert gap.avg_fill_price == pytest.approx(85.0 * 0.99, rel=1e-12)  # 84.15, not 90 x 0.99
    assert rig.broker.positions() == {}
    assert rig.broker.account().cash == pytest.approx(8_990.0 + 4 * 94.05 + 6 * 84.15, rel=1e-12)


def test_stop_limit_buy_fills_only_when_the_trigger_is_within_the_limit_and_without_slippage():
    rig = Rig(cash=10_000.0, slippage=0.01)
    rig.broker.quote("SPY", 100.0)
    ok = rig.submit("buy", 1, type="stop_limit", stop_price=105.0, limit_price=106.0, time_in_force="gtc")
    gapped = rig.submit("buy", 1, type="stop_limit", stop_price=105.0, limit_price=106.0, time_in_force="gtc")
    rig.bar(100.0, 104.0, 99.0, 103.0)  # not triggered
    assert ok.status is S.ACCEPTED and gapped.status is S.ACCEPTED
    rig.bar(104.0, 107.0, 103.0, 106.5)  # triggered at 105 <= 106: both fill at 105, no slippage
    assert ok.status is S.FILLED and ok.avg_fill_price == 105.0
    assert gapped.status is S.FILLED and gapped.avg_fill_price == 105.0

    far = rig.submit("buy", 1, type="stop_limit", stop_price=108.0, limit_price=109.0, time_in_force="gtc")
    rig.bar(110.0, 111.0, 109.5, 110.0)  # triggered at the open 110 > limit 109: no fill
    assert far.status is S.ACCEPTED
    assert rig.broker.positions() == {"SPY": 2.0}
    assert rig.broker.account().cash == pytest.approx(10_000.0 - 2 * 105.0, rel=1e-12)


def test_stop_limit_sell_fills_only_when_the_trigger_is_within_the_limit():
    rig = Rig(cash=10_000.0, slippage=0.01)
    rig.broker.quote("SPY", 100.0)
    ok = rig.submit("sell", 1, type="stop_limit", stop_price=95.0, limit_price=94.0, time_in_force="gtc")
    rig.bar(96.0, 97.0, 93.0, 93.5)  # triggered at min(96, 95) = 95 >= 94: fills at 95
    assert ok.status is S.FILLED and ok.avg_fill_price == 95.0
    far = rig.submit("sell", 1, type="stop_limit", stop_price=90.0, limit_price=89.0, time_in_force="gtc")
    rig.bar(88.0, 88.5, 87.0, 88.0)  # gaps to 88 < limit 89: no fill
    assert far.status is S.ACCEPTED
    assert rig.broker.positions() == {"SPY": -1.0}
    assert rig.broker.account().cash == pytest.approx(10_000.0 + 95.0, rel=1e-12)


def test_a_triggered_stop_limit_rests_as_a_limit_order():
    rig = Rig(cash=10_000.0)
    rig.broker.quote("SPY", 100.0)
    order = rig.submit("buy", 1, type="stop_limit", stop_price=100.0, limit_price=101.0, time_in_force="gtc")
    rig.bar(103.0, 104.0, 102.0, 103.0)  # the stop triggers (gap up), but the market stays above the limit
    assert order.status is S.ACCEPTED
    rig.bar(99.0, 99.5, 98.0, 99.0)  # now a limit buy at 101: the open 99 is through it
    assert order.status is S.FILLED
    assert order.avg_fill_price == 99.0


def test_resting_orders_ignore_bars_of_other_symbols_and_bars_quote_their_close():
    rig = Rig()
    rig.broker.quote("SPY", 100.0)
    order = rig.submit("buy", 1, type="limit", limit_price=95.0, time_in_force="gtc")
    rig.bar(90.0, 91.0, 89.0, 90.5, symbol="QQQ")
    assert order.status is S.ACCEPTED
    qqq = rig.submit("buy", 1, symbol="QQQ")  # QQQ is quoted at its bar's close now
    assert qqq.avg_fill_price == 90.5
    rig.bar(96.0, 97.0, 95.5, 96.5)
    assert rig.broker.account().equity == pytest.approx(10_000.0 - 90.5 + 90.5, rel=1e-12)
    rig.submit("buy", 1)
    assert rig.broker.list_orders()[-1].avg_fill_price == 96.5  # SPY now quoted at 96.5


def test_process_bar_matches_symbols_case_insensitively_like_quote():
    rig = Rig()
    rig.broker.quote("SPY", 100.0)
    order = rig.submit("buy", 1, type="limit", limit_price=99.0, time_in_force="gtc")
    rig.clock.set(DAY1 + timedelta(minutes=1))
    rig.broker.process_bar(Bar("spy", rig.clock.now(), 98.0, 99.0, 97.0, 98.0, 1_000.0))
    assert order.status is S.FILLED and order.avg_fill_price == 98.0


# --- time in force ---------------------------------------------------------------------------------------------


def test_day_order_expires_on_the_next_days_bar_and_gtc_stays_open():
    rig = Rig()
    rig.broker.quote("SPY", 100.0)
    day = rig.submit("buy", 1, type="limit", limit_price=90.0)  # time in force defaults to DAY
    gtc = rig.submit("buy", 1, type="limit", limit_price=90.0, time_in_force="gtc")
    rig.bar(99.0, 100.0, 95.0, 96.0)  # same day, not touched
    assert day.status is S.ACCEPTED and gtc.status is S.ACCEPTED
    rig.bar(92.0, 93.0, 91.0, 92.0, at=DAY2)  # next day, still not touched
    assert day.status is S.EXPIRED
    assert rig.kinds(day) == ["accepted", "expired"]
    expired = [e for e in rig.events if e.kind is EventKind.EXPIRED]
    assert len(expired) == 1 and expired[0].timestamp == DAY2 and expired[0].reason == "day order not filled"
    assert gtc.status is S.ACCEPTED
    rig.bar(91.0, 91.5, 89.0, 90.0, at=DAY3)  # the GTC order fills two days later
    assert gtc.status is S.FILLED and gtc.avg_fill_price == 90.0
    assert day.status is S.EXPIRED and day.filled_qty == 0.0
    assert rig.broker.positions() == {"SPY": 1.0}


def test_day_order_expires_on_the_next_day_even_if_that_bar_reaches_its_limit():
    rig = Rig()
    rig.broker.quote("SPY", 100.0)
    day = rig.submit("buy", 1, type="limit", limit_price=90.0, time_in_force="day")
    rig.bar(89.0, 91.0, 88.0, 90.0, at=DAY2)
    assert day.status is S.EXPIRED
    assert rig.broker.positions() == {}
    assert rig.broker.account().cash == 10_000.0


def test_ioc_limit_not_marketable_is_canceled_at_once():
    rig = Rig()
    rig.broker.quote("SPY", 100.0)
    order = rig.submit("buy", 1, type="limit", limit_price=99.0, time_in_force="ioc")
    assert order.status is S.CANCELED
    assert rig.kinds(order) == ["accepted", "canceled"]
    assert rig.events[-1].reason == "ioc: not marketable"
    rig.bar(98.0, 99.0, 97.0, 98.0)  # would have reached the limit: nothing rests
    assert order.status is S.CANCELED and rig.broker.positions() == {}
    assert rig.broker.list_orders(open_only=True) == []


@pytest.mark.parametrize("side, limit, qty_after", [("buy", 101.0, 1.0), ("sell", 99.0, -1.0)])
def test_ioc_limit_marketable_fills_at_the_quote(side, limit, qty_after):
    rig = Rig(slippage=0.01)
    rig.broker.quote("SPY", 100.0)
    order = rig.submit(side, 1, type="limit", limit_price=limit, time_in_force="ioc")
    assert order.status is S.FILLED
    assert order.avg_fill_price == 100.0  # the quote is better than the limit; no slippage on a limit
    assert rig.kinds(order) == ["accepted", "fill"]
    assert rig.broker.positions() == {"SPY": qty_after}


# --- cancel, get, list -----------------------------------------------------------------------------------------


def test_cancel_get_and_list_orders():
    rig = Rig()
    rig.broker.quote("SPY", 100.0)
    resting = rig.submit("buy", 1, type="limit", limit_price=90.0, time_in_force="gtc")
    other = rig.submit("sell", 1, type="limit", limit_price=110.0, time_in_force="gtc")
    filled = rig.submit("buy", 2)
    assert rig.broker.list_orders() == [resting, other, filled]
    assert rig.broker.list_orders(open_only=True) == [resting, other]

    rig.clock.advance(timedelta(minutes=5))
    canceled = rig.broker.cancel(resting.id)
    assert canceled is resting and resting.status is S.CANCELED
    assert rig.events[-1].kind is EventKind.CANCELED
    assert rig.events[-1].order_id == resting.id
    assert rig.events[-1].timestamp == DAY1 + timedelta(minutes=5)
    assert rig.events[-1].reason == "canceled by request"
    assert rig.broker.list_orders(open_only=True) == [other]
    assert rig.broker.get_order(resting.id) is resting

    rig.bar(89.0, 90.0, 88.0, 89.0)  # a canceled order does not fill
    assert resting.status is S.CANCELED and rig.broker.positions() == {"SPY": 2.0}

    n_events = len(rig.events)
    with pytest.raises(BrokerError, match="filled"):
        rig.broker.cancel(filled.id)
    with pytest.raises(BrokerError, match="canceled"):
        rig.broker.cancel(resting.id)
    with pytest.raises(BrokerError, match="unknown order nope"):
        rig.broker.get_order("nope")
    with pytest.raises(BrokerError, match="unknown order"):
        rig.broker.cancel("nope")
    assert len(rig.events) == n_events and filled.status is S.FILLED


# --- events ----------------------------------------------------------------------------------------------------


def test_subscribers_get_accepted_then_fill_with_the_fill_attached():
    rig = Rig(fees=0.001)
    second: list[OrderEvent] = []
    rig.broker.subscribe(second.append)
    rig.broker.quote("SPY", 100.0)
    order = rig.submit("buy", 3, client_order_id="cid-7")
    assert [e.kind for e in rig.events] == [EventKind.ACCEPTED, EventKind.FILL]
    assert second == rig.events  # every subscriber, same events, same order
    accepted, filled = rig.events
    assert accepted.fill is None and accepted.order_id == order.id and accepted.client_order_id == "cid-7"
    assert accepted.timestamp == DAY1
    fill = filled.fill
    assert fill is not None
    assert (fill.order_id, fill.client_order_id, fill.symbol, fill.side.value) == (order.id, "cid-7", "SPY", "buy")
    assert (fill.qty, fill.price, fill.timestamp) == (3.0, 100.0, DAY1)
    assert fill.fee == pytest.approx(3 * 100.0 * 0.001, rel=1e-12)


def test_resting_order_fill_event_carries_the_bar_time():
    rig = Rig()
    rig.broker.quote("SPY", 100.0)
    order = rig.submit("sell", 2, type="limit", limit_price=101.0, time_in_force="gtc")
    later = DAY1 + timedelta(hours=1)
    rig.bar(100.5, 101.5, 100.0, 101.0, at=later)
    assert [e.kind.value for e in rig.events] == ["accepted", "fill"]
    event = rig.events[-1]
    assert event.order_id == order.id and event.timestamp == later
    assert (event.fill.qty, event.fill.price, event.fill.side.value) == (2.0, 101.0, "sell")


# --- bracket orders: OCO legs ----------------------------------------------------------------------------------


def _legs(rig: Rig, parent: Order) -> tuple[Order, Order]:
    """The take-profit and stop-loss legs SimBroker made for ``parent`` (looked up by their parent_id)."""
    legs = [o for o in rig.broker.list_orders() if o.parent_id == parent.id]
    assert len(legs) == 2
    take, stop = legs
    return take, stop


def _reasons(rig: Rig, start: int) -> list[tuple[str, str, str | None]]:
    """(order id, event kind, reason) of the events from index ``start`` on."""
    return [(e.order_id, e.kind.value, e.reason) for e in rig.events[start:]]


@pytest.mark.parametrize("stop_loss_limit, stop_type", [(None, "stop"), (94.0, "stop_limit")])
def test_filled_bracket_entry_submits_two_accepted_gtc_legs_sharing_an_oco_group(stop_loss_limit, stop_type):
    rig = Rig()
    rig.broker.quote("SPY", 100.0)
    parent = rig.submit("buy", 10, take_profit=110.0, stop_loss=95.0, stop_loss_limit=stop_loss_limit)
    assert parent.status is S.FILLED
    take, stop = _legs(rig, parent)
    assert rig.broker.list_orders() == [parent, take, stop]
    assert [(e.order_id, e.kind.value) for e in rig.events] == [
        (parent.id, "accepted"),
        (parent.id, "fill"),
        (take.id, "accepted"),
        (stop.id, "accepted"),
    ]
    assert (take.type.value, take.side.value, take.qty, take.limit_price, take.stop_price) == (
        "limit",
        "sell",
        10.0,
        110.0,
        None,
    )
    assert (stop.type.value, stop.side.value, stop.qty, stop.stop_price, stop.limit_price) == (
        stop_type,
        "sell",
        10.0,
        95.0,
        stop_loss_limit,
    )
    for leg in (take, stop):
        assert leg.status is S.ACCEPTED and leg.time_in_force.value == "gtc"
        assert leg.parent_id == parent.id and leg.oco_group == parent.id
        assert leg.created_at == DAY1
    assert [take.id, stop.id] == [leg.id for leg in parent.bracket_legs(DAY1)]  # the model's own legs
    assert rig.broker.positions() == {"SPY": 10.0}


def test_take_profit_fill_cancels_the_stop_loss():
    rig = Rig()
    rig.broker.quote("SPY", 100.0)
    parent = rig.submit("buy", 10, take_profit=110.0, stop_loss=95.0)  # cash 9000
    take, stop = _legs(rig, parent)
    rig.bar(101.0, 109.0, 96.0, 108.0)  # reaches neither leg
    assert take.status is S.ACCEPTED and stop.status is S.ACCEPTED
    start = len(rig.events)
    rig.bar(105.0, 111.0, 104.0, 110.0)  # high reaches the take-profit: max(open 105, limit 110) = 110
    assert _reasons(rig, start) == [(take.id, "fill", None), (stop.id, "canceled", "oco: take_profit filled")]
    assert take.status is S.FILLED and take.avg_fill_price == 110.0
    assert stop.status is S.CANCELED and stop.filled_qty == 0.0
    assert rig.broker.positions() == {}
    assert rig.broker.account().cash == pytest.approx(9_000.0 + 10 * 110.0, rel=1e-12)
    rig.bar(90.0, 91.0, 80.0, 85.0)  # the canceled stop stays canceled
    assert stop.status is S.CANCELED and rig.broker.positions() == {}


def test_gap_below_the_stop_loss_fills_it_at_the_open_and_cancels_the_take_profit():
    rig = Rig(slippage=0.01)
    rig.broker.quote("SPY", 100.0)
    parent = rig.submit("buy", 10, take_profit=110.0, stop_loss=95.0)  # at 101: cash 10000 - 1010 = 8990
    take, stop = _legs(rig, parent)
    start = len(rig.events)
    rig.bar(90.0, 92.0, 88.0, 91.0)  # opens below the stop: min(open 90, stop 95) = 90, less 1% slippage
    assert _reasons(rig, start) == [(stop.id, "fill", None), (take.id, "canceled", "oco: stop_loss filled")]
    assert stop.status is S.FILLED and stop.avg_fill_price == pytest.approx(89.1, rel=1e-12)
    assert take.status is S.CANCELED
    assert rig.broker.positions() == {}
    assert rig.broker.account().cash == pytest.approx(8_990.0 + 10 * 89.1, rel=1e-12)  # 9881


def test_a_bar_reaching_both_legs_fills_the_stop_loss_only():
    rig = Rig()
    rig.broker.quote("SPY", 100.0)
    parent = rig.submit("buy", 10, take_profit=110.0, stop_loss=95.0)
    take, stop = _legs(rig, parent)  # the take-profit was registered first
    start = len(rig.events)
    rig.bar(100.0, 111.0, 94.0, 100.0)  # high 111 >= 110 and low 94 <= 95: assume the worse came first
    assert _reasons(rig, start) == [(stop.id, "fill", None), (take.id, "canceled", "oco: stop_loss filled")]
    assert stop.avg_fill_price == 95.0 and take.filled_qty == 0.0
    assert rig.broker.positions() == {}
    assert rig.broker.account().cash == pytest.approx(9_000.0 + 950.0, rel=1e-12)


@pytest.mark.parametrize("leg_name", ["take_profit", "stop_loss"])
def test_canceling_one_leg_cancels_the_other(leg_name):
    rig = Rig()
    rig.broker.quote("SPY", 100.0)
    parent = rig.submit("buy", 10, take_profit=110.0, stop_loss=95.0)
    take, stop = _legs(rig, parent)
    mine, other = (take, stop) if leg_name == "take_profit" else (stop, take)
    start = len(rig.events)
    assert rig.broker.cancel(mine.id) is mine
    assert _reasons(rig, start) == [
        (mine.id, "canceled", "canceled by request"),
        (other.id, "canceled", f"oco: {leg_name} canceled"),
    ]
    assert rig.broker.list_orders(open_only=True) == []
    rig.bar(100.0, 120.0, 80.0, 100.0)  # would reach both: nothing is left to fill
    assert rig.broker.positions() == {"SPY": 10.0} and len(rig.events) == start + 2


def test_canceling_an_unfilled_bracket_entry_creates_no_legs():
    rig = Rig()
    rig.broker.quote("SPY", 100.0)
    parent = rig.submit(
        "buy", 10, type="limit", limit_price=95.0, take_profit=110.0, stop_loss=90.0, time_in_force="gtc"
    )
    rig.broker.cancel(parent.id)
    assert rig.broker.list_orders() == [parent]
    assert rig.kinds(parent) == ["accepted", "canceled"] and len(rig.events) == 2
    rig.bar(96.0, 120.0, 80.0, 100.0)
    assert rig.broker.list_orders() == [parent] and rig.broker.positions() == {}


def test_legs_of_an_entry_filled_on_a_bar_work_from_the_next_bar():
    rig = Rig()
    rig.broker.quote("SPY", 100.0)
    parent = rig.submit(
        "buy", 10, type="limit", limit_price=95.0, take_profit=110.0, stop_loss=90.0, time_in_force="gtc"
    )
    rig.bar(96.0, 112.0, 94.0, 100.0)  # the entry fills at 95; the bar's high 112 came at an unknown time
    assert parent.status is S.FILLED and parent.avg_fill_price == 95.0
    take, stop = _legs(rig, parent)
    assert take.status is S.ACCEPTED and stop.status is S.ACCEPTED and take.created_at == rig.clock.now()
    rig.bar(100.0, 112.0, 99.0, 111.0)
    assert take.status is S.FILLED and take.avg_fill_price == 110.0 and stop.status is S.CANCELED


def test_sell_bracket_mirrors_the_buy_bracket():
    rig = Rig()
    rig.broker.quote("SPY", 100.0)
    parent = rig.submit("sell", 10, take_profit=90.0, stop_loss=105.0)  # short 10: cash 11000
    take, stop = _legs(rig, parent)
    assert (take.type.value, take.side.value, take.limit_price, take.qty) == ("limit", "buy", 90.0, 10.0)
    assert (stop.type.value, stop.side.value, stop.stop_price, stop.qty) == ("stop", "buy", 105.0, 10.0)
    start = len(rig.events)
    rig.bar(95.0, 96.0, 89.0, 90.0)  # low reaches the take-profit: min(open 95, limit 90) = 90
    assert _reasons(rig, start) == [(take.id, "fill", None), (stop.id, "canceled", "oco: take_profit filled")]
    assert rig.broker.positions() == {}
    assert rig.broker.account().cash == pytest.approx(11_000.0 - 900.0, rel=1e-12)

    parent = rig.submit("sell", 10, take_profit=90.0, stop_loss=105.0)  # at the close 90: cash 10100 + 900
    take, stop = _legs(rig, parent)
    start = len(rig.events)
    rig.bar(107.0, 108.0, 85.0, 100.0)  # gaps above the stop and also reaches the take-profit: stop at the open
    assert _reasons(rig, start) == [(stop.id, "fill", None), (take.id, "canceled", "oco: stop_loss filled")]
    assert stop.avg_fill_price == 107.0
    assert rig.broker.positions() == {}
    assert rig.broker.account().cash == pytest.approx(11_000.0 - 1_070.0, rel=1e-12)


# --- partial fills: volume-participation cap -------------------------------------------------------------------


class CappedRig(Rig):
    """A Rig whose SimBroker fills at most ``cap`` x volume per order and bar; its bars carry a volume."""

    def __init__(self, cap: float, cash: float = 10_000.0, fees: float = 0.0, slippage: float = 0.0) -> None:
        super().__init__(cash, fees, slippage)
        self.broker = SimBroker(self.clock, cash=cash, fees=fees, slippage=slippage, max_participation=cap)
        self.broker.subscribe(self.events.append)

    def vbar(self, o: float, h: float, low: float, c: float, volume: float, at: datetime | None = None) -> None:
        at = at if at is not None else self.clock.now() + timedelta(minutes=1)
        self.clock.set(at)
        self.broker.process_bar(Bar("SPY", at, o, h, low, c, volume))

    def fills(self, order: Order) -> list[tuple[float, float, float]]:
        """(qty, price, fee) of each fill of ``order``."""
        return [(e.fill.qty, e.fill.price, e.fill.fee) for e in self.events if e.order_id == order.id and e.fill]


def test_capped_market_order_fills_150_now_then_150_per_bar_at_each_open():
    rig = CappedRig(0.5, cash=200_000.0, fees=0.001)
    rig.broker.quote("SPY", 100.0, volume=300)
    order = rig.submit("buy", 1_000)
    assert order.status is S.PARTIALLY_FILLED and order.filled_qty == 150.0 and order.remaining_qty == 850.0
    assert rig.broker.positions() == {"SPY": 150.0}
    for open_ in (101.0, 102.0, 103.0, 104.0, 105.0, 106.0):
        rig.vbar(open_, open_ + 3.0, open_ - 2.0, open_ + 1.0, volume=300)  # close and range differ from the open
    fills = rig.fills(order)
    assert [(q, p) for q, p, _ in fills] == [
        (150.0, 100.0),
        (150.0, 101.0),
        (150.0, 102.0),
        (150.0, 103.0),
        (150.0, 104.0),
        (150.0, 105.0),
        (100.0, 106.0),  # the last fill takes what is left
    ]
    assert [f for _, _, f in fills] == pytest.approx([15.0, 15.15, 15.3, 15.45, 15.6, 15.75, 10.6], rel=1e-12)
    assert sum(q for q, _, _ in rig.fills(order)) == 1_000.0
    assert rig.kinds(order) == ["accepted"] + ["partial_fill"] * 6 + ["fill"]
    assert order.status is S.FILLED and order.filled_qty == 1_000.0
    # notional 150 x (100 + ... + 105) + 100 x 106 = 92250 + 10600 = 102850; fees 0.1% of it = 102.85
    assert order.avg_fill_price == pytest.approx(102.85, rel=1e-12)
    assert order.fees == pytest.approx(102.85, rel=1e-12)
    assert rig.broker.account().cash == pytest.approx(200_000.0 - 102_850.0 - 102.85, rel=1e-12)
    assert rig.broker.positions() == {"SPY": 1_000.0}
    rig.vbar(107.0, 108.0, 106.0, 107.0, volume=300)
    assert len(rig.fills(order)) == 7  # nothing more


def test_resting_order_fills_at_most_the_cap_of_each_bars_volume():
    rig = CappedRig(0.1)
    rig.broker.quote("SPY", 100.0, volume=1_000_000)
    order = rig.submit("buy", 100, type="limit", limit_price=95.0, time_in_force="gtc")
    rig.vbar(96.0, 97.0, 94.0, 95.0, volume=300)  # 30 at the limit
    rig.vbar(94.0, 95.0, 93.0, 94.0, volume=500)  # 50 at the open, below the limit
    rig.vbar(99.0, 100.0, 98.0, 99.0, volume=10_000)  # limit not reached: nothing
    rig.vbar(96.0, 96.0, 95.0, 95.5, volume=1_000)  # cap 100, only 20 left
    assert rig.fills(order) == [(30.0, 95.0, 0.0), (50.0, 94.0, 0.0), (20.0, 95.0, 0.0)]
    assert rig.kinds(order) == ["accepted", "partial_fill", "partial_fill", "fill"]
    assert rig.broker.account().cash == pytest.approx(10_000.0 - 30 * 95.0 - 50 * 94.0 - 20 * 95.0, rel=1e-12)


@pytest.mark.parametrize("cap", [0.0, -0.5, 1.5, float("nan"), True, "0.5"])
def test_max_participation_outside_zero_to_one_is_refused(cap):
    with pytest.raises(ValueError, match=r"max_participation=.* expected a fraction .* in \(0, 1\]"):
        SimBroker(FrozenClock(DAY1), max_participation=cap)


def test_max_participation_of_one_and_none_are_accepted_and_none_ignores_volume():
    assert SimBroker(FrozenClock(DAY1), max_participation=1).max_participation == 1
    rig = Rig()
    rig.broker.quote("SPY", 100.0, volume=1)
    assert rig.submit("buy", 10).status is S.FILLED


@pytest.mark.parametrize("volume", [-1.0, float("nan"), "300"])
def test_quote_volume_must_be_a_non_negative_number(volume):
    with pytest.raises(ValueError, match="volume="):
        SimBroker(FrozenClock(DAY1), max_participation=0.5).quote("SPY", 100.0, volume=volume)


def test_capped_day_order_keeps_filling_that_day_and_its_remainder_expires_the_next():
    rig = CappedRig(0.5)
    rig.broker.quote("SPY", 100.0, volume=8)
    order = rig.submit("buy", 10)  # DAY: 4 now
    rig.vbar(101.0, 102.0, 100.0, 101.0, volume=4)  # same day: 2 more at the open
    assert order.filled_qty == 6.0 and order.status is S.PARTIALLY_FILLED
    rig.vbar(102.0, 103.0, 101.0, 102.0, volume=1_000, at=DAY2)
    assert order.status is S.EXPIRED and order.filled_qty == 6.0
    assert rig.kinds(order) == ["accepted", "partial_fill", "partial_fill", "expired"]
    assert rig.events[-1].reason == "day order not filled"
    assert rig.broker.positions() == {"SPY": 6.0}
    assert rig.broker.account().cash == pytest.approx(10_000.0 - 4 * 100.0 - 2 * 101.0, rel=1e-12)


@pytest.mark.parametrize("kw", [{}, {"type": "limit", "limit_price": 101.0}])
def test_capped_ioc_order_remainder_is_canceled_at_once(kw):
    rig = CappedRig(0.5)
    rig.broker.quote("SPY", 100.0, volume=8)
    order = rig.submit("buy", 10, time_in_force="ioc", **kw)
    assert order.status is S.CANCELED and order.filled_qty == 4.0 and order.avg_fill_price == 100.0
    assert rig.kinds(order) == ["accepted", "partial_fill", "canceled"]
    assert rig.events[-1].reason == "ioc: unfilled remainder canceled"
    rig.vbar(99.0, 100.0, 98.0, 99.0, volume=1_000)
    assert order.filled_qty == 4.0 and rig.broker.positions() == {"SPY": 4.0}


def test_a_remainder_that_cash_cannot_pay_is_canceled_keeping_its_fills():
    rig = CappedRig(0.5, cash=1_000.0)
    rig.broker.quote("SPY", 100.0, volume=10)
    order = rig.submit("buy", 9, time_in_force="gtc")  # 5 at 100: cash 500
    rig.vbar(130.0, 131.0, 129.0, 130.0, volume=10)  # 4 x 130 = 520 > 500
    assert order.status is S.CANCELED and order.filled_qty == 5.0
    assert rig.kinds(order) == ["accepted", "partial_fill", "canceled"]
    assert rig.events[-1].reason == "insufficient cash"
    assert rig.broker.positions() == {"SPY": 5.0} and rig.broker.account().cash == 500.0


def test_bracket_legs_follow_a_capped_entry_and_cover_only_what_filled():
    rig = CappedRig(0.5)
    rig.broker.quote("SPY", 100.0, volume=8)
    whole = rig.submit("buy", 10, take_profit=110.0, stop_loss=95.0, time_in_force="gtc")  # 4 now
    assert [o.parent_id for o in rig.broker.list_orders()] == [None]  # no legs while it is still filling
    rig.vbar(100.0, 101.0, 99.0, 100.0, volume=12)  # the other 6: done, legs for 10
    take, stop = _legs(rig, whole)
    assert whole.status is S.FILLED and take.qty == stop.qty == 10.0

    # the bar quoted its close 100 and volume 12: 6 now
    part = rig.submit("buy", 10, take_profit=110.0, stop_loss=95.0, time_in_force="gtc")
    assert part.filled_qty == 6.0 and rig.broker.list_orders()[-1] is part
    rig.broker.cancel(part.id)  # entry canceled part-filled: its legs protect the 6 it bought
    take, stop = _legs(rig, part)
    assert take.qty == stop.qty == 6.0 and take.status is S.ACCEPTED and stop.status is S.ACCEPTED
    assert rig.broker.list_orders()[-2:] == [take, stop]


def test_a_capped_leg_that_trades_first_cancels_its_sibling_and_keeps_filling():
    rig = CappedRig(0.5)
    rig.broker.quote("SPY", 100.0, volume=20)
    parent = rig.submit("buy", 10, take_profit=110.0, stop_loss=95.0)
    take, stop = _legs(rig, parent)
    start = len(rig.events)
    rig.vbar(94.0, 111.0, 93.0, 100.0, volume=8)  # stop first: 4 at the open 94; the take-profit is canceled
    assert _reasons(rig, start) == [
        (stop.id, "partial_fill", None),
        (take.id, "canceled", "oco: stop_loss partially_filled"),
    ]
    rig.vbar(96.0, 97.0, 90.0, 92.0, volume=100)  # the rest: 6 at the stop 95
    assert rig.fills(stop) == [(4.0, 94.0, 0.0), (6.0, 95.0, 0.0)]
    assert stop.status is S.FILLED and rig.broker.positions() == {}


def test_fixed_fee_is_charged_once_per_order_even_over_partial_fills() -> None:
    from workbench.orders.model import Order

    clock = FrozenClock(datetime(2024, 1, 2, 14, 30, tzinfo=UTC))
    broker = SimBroker(clock, cash=100_000.0, fees=0.001, fixed_fee=2.0, max_participation=0.5)
    broker.quote("SPY", 100.0, volume=100.0)
    order = broker.submit(Order(symbol="SPY", side="buy", qty=80.0, created_at=clock.now()))
    assert order.filled_qty == 50.0 and order.fees == pytest.approx(50 * 100 * 0.001 + 2.0)
    clock.set(datetime(2024, 1, 2, 14, 31, tzinfo=UTC))
    broker.process_bar(Bar("SPY", clock.now(), 101.0, 101.0, 101.0, 101.0, 100.0))
    assert order.status.value == "filled"
    assert order.fees == pytest.approx(50 * 100 * 0.001 + 2.0 + 30 * 101 * 0.001)
    assert broker.account().cash == pytest.approx(100_000 - 5_000 - 3_030 - order.fees)

"""The client-side request budget (workbench.data.request_budget): a sliding window of request starts, a
Retry-After that holds every request of the key off, and the adapter alpaca-py's sessions send through. Time is a
fake clock that the budget's waits advance, so nothing here sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
from alpaca_fake import LoopbackServer, Reply

from workbench.data.request_budget import MAX_RETRY_AFTER, RequestBudget, budget_for, mount, retry_after


class FakeTime:
    """A clock the budget's sleeps move forward (and that records them)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_no_window_holds_more_requests_than_the_limit() -> None:
    time = FakeTime()
    budget = RequestBudget(limit=3, window=60.0, clock=time.clock, sleep=time.sleep)
    starts = []
    for _ in range(10):
        budget.take()
        starts.append(time.now)
        time.now += 1.0  # a request takes a second

    assert starts[:3] == [0.0, 1.0, 2.0] and starts[3] == 60.0  # the fourth waits for the first to leave
    assert max(sum(1 for t in starts if s <= t < s + 60.0) for s in starts) == 3
    assert budget.taken == 10 and budget.waited == pytest.approx(sum(time.sleeps))


def test_a_retry_after_holds_every_request_off() -> None:
    time = FakeTime()
    budget = RequestBudget(limit=100, clock=time.clock, sleep=time.sleep)
    budget.take()
    budget.hold_off(2.5)
    assert budget.wait_needed() == 2.5
    assert budget.take() == 2.5 and time.now == 2.5
    budget.hold_off(10 * MAX_RETRY_AFTER)  # a server's mistake is not obeyed for hours
    assert budget.wait_needed() == MAX_RETRY_AFTER


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3", 3.0), ("0.5", 0.5), ("-4", 0.0), ("86400", MAX_RETRY_AFTER), ("soon", None), (None, None)],
)
def test_retry_after_reads_seconds(value: str | None, seconds: float | None) -> None:
    assert retry_after({} if value is None else {"Retry-After": value}) == seconds


def test_retry_after_reads_an_http_date() -> None:
    now = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    assert retry_after({"Retry-After": format_datetime(now + timedelta(seconds=7), usegmt=True)}, now) == 7.0


def test_a_mounted_session_takes_from_the_budget_and_waits_out_a_429() -> None:
    time = FakeTime()
    budget = RequestBudget(limit=2, window=60.0, clock=time.clock, sleep=time.sleep)
    with LoopbackServer() as server:
        server.route("GET", "/v2/clock", lambda request: Reply(body={"ok": True}))
        server.fail_next("/v2/clock", 429, headers={"Retry-After": "4"})
        session = requests.Session()
        mount(session, budget)
        url = server.rest_url + "/v2/clock"

        statuses = [session.get(url, headers=server.auth_headers()).status_code for _ in range(3)]

    assert statuses == [429, 200, 200]
    assert time.sleeps == [4.0, 56.0]  # the Retry-After, then the window of two requests a minute
    assert budget.taken == 3


def test_clients_of_one_key_share_one_budget() -> None:
    first = budget_for("alpaca-trading", "PK1@http://127.0.0.1:1", 50)
    assert budget_for("alpaca-trading", "PK1@http://127.0.0.1:1", 999) is first and first.limit == 50
    assert budget_for("alpaca-data", "PK1@http://127.0.0.1:1") is not first

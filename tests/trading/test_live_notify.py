"""A LiveSession tells people what happens through the channels its settings configure: every fill and the kill
switch reach a webhook on loopback, signed, by the time the session has stopped; with no channel configured no
dispatcher is made at all."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from notify_support import WebhookServer

import workbench as wb
from workbench.brokers.sim import SimBroker
from workbench.config import load_settings
from workbench.data.feeds import ReplayFeed
from workbench.notify.channels import SIGNATURE_HEADER, verify
from workbench.notify.events import to_notice
from workbench.notify.render import Renderer
from workbench.store import Store
from workbench.testing import FrozenClock
from workbench.trading.live import LiveSession

STRATEGY = wb.strategy("sma_cross")(fast=3, slow=10)
BARS = wb.load("SPY", start="2023-01-01", end="2023-04-30")


def _open(store: Store, settings) -> LiveSession:
    clock = FrozenClock(datetime(2022, 12, 31, tzinfo=UTC))
    return LiveSession.open(store, STRATEGY, "SPY", SimBroker(clock), clock=clock, run=None, settings=settings)


def test_fills_and_the_kill_switch_reach_a_webhook(tmp_path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'notify.db'}")
    with WebhookServer() as hook:
        overrides = {"notify_webhook_url": hook.url, "notify_webhook_secret": "s3cret", "notify_coalesce_seconds": 0}
        live = _open(store, load_settings(overrides=overrides, env={}))
        bars = iter(ReplayFeed({"SPY": BARS}))
        while not live.session.broker.positions():
            live.step(next(bars))
        with store.unit_of_work() as uow:
            uow.strategies.halt(STRATEGY.name, "operator: drill")
        live.step(next(bars))  # the kill switch: flattened, told
        live.run(bars)  # the rest, then a clean stop that delivers what is queued

    om = live.session.om
    assert len(om.fills) >= 2 and live.session.broker.positions() == {}
    renderer = Renderer()
    fills = [e for e in om.events if e.fill is not None]
    expected = [renderer.render(to_notice(e, orders=om.orders, strategy="sma_cross"), window=0).subject for e in fills]
    expected.append("[critical] sma_cross: TRADING HALTED by kill_switch")
    posts = [json.loads(r.body) for r in hook.received]
    assert [p["subject"] for p in posts] == expected and len(posts) == len(om.fills) + 1
    assert expected[0].startswith("[info] sma_cross: buy ") and " SPY @ " in expected[0]
    assert all(verify("s3cret", r.body, r.headers[SIGNATURE_HEADER]) for r in hook.received)
    assert "operator: drill" in posts[-1]["text"]
    assert all(f.fill_id in p["text"] for f, p in zip(om.fills, posts, strict=False))
    assert live.metrics.registry.get_sample_value("workbench_notifications_total", {"outcome": "sent"}) == len(posts)
    store.close()


def test_no_channel_configured_makes_no_dispatcher(tmp_path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'quiet.db'}")
    live = _open(store, load_settings(env={}))
    live.run(ReplayFeed({"SPY": BARS.iloc[:30]}))
    assert live.dispatcher is None and live.summary().bars == 30
    store.close()

"""`Metrics` after a scripted paper session, scraped over HTTP from ``/metrics``: every counter equals what the
session itself recorded (its orders, fills, risk events and alerts); caches, scheduled runs and notifications."""

from __future__ import annotations

import doctest
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import workbench as wb
from workbench.cache import CachedSource, DiskCache, MemoryCache, TieredCache
from workbench.data.feeds import ReplayFeed
from workbench.data.sources import SampleSource
from workbench.monitor import metrics as metrics_module
from workbench.monitor.metrics import Metrics
from workbench.monitor.server import MonitorServer
from workbench.orders.model import Order
from workbench.schedule.notebook_run import NotebookRun
from workbench.testing import FrozenClock
from workbench.trading.session import TradingSession


def scrape(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics from a served `MonitorServer`: sample (name, sorted labels) -> value."""
    with (
        MonitorServer(metrics, {}, port=0).start() as server,
        urllib.request.urlopen(f"{server.url}/metrics") as response,
    ):
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture(scope="module")
def session_and_samples() -> tuple[TradingSession, int, dict]:
    """A year of SPY through sma_cross (drawdown halt at 3 %), then three QQQ orders refused by allowed_symbols."""
    bars = wb.load("SPY", start="2023-01-01", end="2023-12-31")
    clock = FrozenClock(datetime(2023, 1, 1, tzinfo=UTC))
    risk = {"max_drawdown": 0.03, "allowed_symbols": ["SPY"]}
    session = TradingSession.paper(
        wb.strategy("sma_cross")(fast=3, slow=10), "SPY", cash=10_000, clock=clock, risk=risk
    )
    metrics = Metrics()
    metrics.attach(session)
    session.run(ReplayFeed({"SPY": bars}))
    for _ in range(3):
        session.om.submit(Order(symbol="QQQ", side="buy", qty=1, created_at=clock.now()))
    return session, len(bars), scrape(metrics)


def test_counters_equal_what_the_session_recorded(session_and_samples: tuple[TradingSession, int, dict]) -> None:
    session, n_bars, samples = session_and_samples
    kinds = Counter(e.kind.value for e in session.om.events)
    decisions = Counter((e.decision, e.rule) for e in session.risk_manager.events)
    alerts = Counter((a.measure, a.level) for a in session.monitor.alerts)
    assert kinds["fill"] >= 4 and kinds["rejected"] == 3 and decisions[("halt", "max_drawdown")] == 1  # the script

    assert value(samples, "workbench_bars_processed_total", symbol="SPY") == n_bars
    assert value(samples, "workbench_signal_latency_seconds_count", strategy="sma_cross") == n_bars
    for kind, count in kinds.items():
        assert value(samples, "workbench_order_events_total", kind=kind) == count
    sides = Counter(f.side.value for f in session.om.fills)
    for side, count in sides.items():
        assert value(samples, "workbench_fills_total", symbol="SPY", side=side) == count
    assert value(samples, "workbench_rejections_total", symbol="QQQ") == 3
    assert value(samples, "workbench_risk_denials_total", rule="allowed_symbols") == 3
    assert value(samples, "workbench_risk_halts_total", rule="max_drawdown") == 1
    for (measure, level), count in alerts.items():
        assert value(samples, "workbench_risk_alerts_total", measure=measure, level=level) == count
    states = Counter(o.status.value for o in session.om.orders.values())
    for state in ("new", "accepted", "filled", "rejected", "canceled"):
        assert value(samples, "workbench_orders", state=state) == states.get(state, 0)
    assert value(samples, "workbench_broker_latency_seconds_count", operation="submit") == len(session.om.orders) - 3


def test_gauges_hold_the_last_bar(session_and_samples: tuple[TradingSession, int, dict]) -> None:
    session, _, samples = session_and_samples
    labels = {"strategy": "sma_cross", "symbol": "SPY"}
    assert value(samples, "workbench_pnl", **labels, kind="realized") == pytest.approx(session.om.realized_pnl())
    assert value(samples, "workbench_equity", **labels) == pytest.approx(session.broker.account().equity)
    assert value(samples, "workbench_exposure_ratio", **labels, kind="gross") == 0.0  # halted: flat
    last = datetime(2023, 12, 29, tzinfo=UTC).timestamp()
    assert value(samples, "workbench_last_bar_timestamp_seconds", symbol="SPY") == last
    assert value(samples, "workbench_feed_lag_seconds", symbol="SPY") > 0  # a replay of 2023 arrives late
    assert value(samples, "process_cpu_seconds_total") > 0


def test_cache_scheduled_runs_and_notifications(tmp_path: Path) -> None:
    cache = TieredCache([MemoryCache(), DiskCache(tmp_path / "cache")])
    source = CachedSource(SampleSource(), cache)
    for _ in range(3):
        source.history("SPY", "2020-01-01", "2020-12-31")
    metrics = Metrics(process=False)
    metrics.watch_cache(cache)
    metrics.watch_source(source)
    run = NotebookRun(Path("nb/live.ipynb"), Path("out.ipynb"), None, "failed", datetime.now(UTC), 12.5, {}, "x")
    metrics.observe_run(run)
    metrics.observe_run(NotebookRun(Path("nb/live.ipynb"), Path("o.ipynb"), None, "finished", run.started_at, 3.0, {}))

    class Stats:
        def stats(self) -> dict[str, int]:
            return {"received": 7, "sent": 2, "dead": 1, "busy": 0}

    metrics.watch_dispatcher(Stats())  # type: ignore[arg-type]
    samples = scrape(metrics)
    stats = cache.stats()
    for level in ("memory", "disk"):
        for counter in ("hits", "misses", "writes"):
            assert value(samples, f"workbench_cache_{counter}_total", level=level) == stats[level][counter]
    assert value(samples, "workbench_cache_hits_total", level="memory") == 2  # the 2nd and 3rd request
    assert value(samples, "workbench_cache_entries", level="disk") == 1
    assert value(samples, "workbench_source_fetches_total", source=source.name) == source.stats()["fetches"] == 1
    assert value(samples, "workbench_scheduled_runs_total", notebook="live.ipynb", status="failed") == 1
    assert value(samples, "workbench_scheduled_run_duration_seconds_sum", notebook="live.ipynb") == 15.5
    assert value(samples, "workbench_notifications_total", outcome="dead") == 1
    assert ("workbench_notifications_total", (("outcome", "busy"),)) not in samples


def test_registries_are_separate_and_a_broken_cache_does_not_break_the_scrape() -> None:
    class Broken:
        name = "broken"

        def stats(self) -> dict[str, int]:
            raise OSError("disk gone")

    first, second = Metrics(process=False), Metrics(process=False)
    first.bars.labels("SPY").inc(5)
    second.watch_cache(Broken())
    assert value(scrape(first), "workbench_bars_processed_total", symbol="SPY") == 5
    assert ("workbench_bars_processed_total", (("symbol", "SPY"),)) not in scrape(second)


def test_doctests() -> None:
    assert doctest.testmod(metrics_module).failed == 0

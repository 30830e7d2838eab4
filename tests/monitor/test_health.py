"""Health checks: the database (PostgreSQL behind a loopback proxy that is cut and restored), the cache levels
(Redis real and unreachable), feed freshness, broker, scheduler; the aggregate, ``/health`` and the CLI."""

from __future__ import annotations

import doctest
import importlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from cache_support import redis_url_or_skip
from sqlalchemy.engine import make_url
from tcp_proxy import TcpProxy
from typer.testing import CliRunner

from workbench.brokers.sim import SimBroker
from workbench.cache import DiskCache, MemoryCache, RedisCache, TieredCache
from workbench.cli.monitor import monitor_app
from workbench.config import load_settings
from workbench.monitor.health import (
    broker_check,
    feed_check,
    health_report,
    scheduler_check,
    standard_checks,
)
from workbench.monitor.metrics import Metrics
from workbench.monitor.server import MonitorServer
from workbench.store import Store
from workbench.testing import FrozenClock

pytest_plugins = ["store_fixtures"]
NOW = datetime(2024, 7, 1, 14, 30, tzinfo=UTC)


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def proxied_pg(pg_url: str) -> Iterator[tuple[TcpProxy, str]]:
    url = make_url(pg_url)
    proxy = TcpProxy((url.host, url.port)).start()
    yield proxy, url.set(port=proxy.port).render_as_string(hide_password=False)
    proxy.stop()


def test_health_turns_unhealthy_when_the_database_goes_and_recovers_when_it_returns(
    proxied_pg: tuple[TcpProxy, str],
) -> None:
    proxy, url = proxied_pg
    with Store.open(url, upgrade=False) as store:
        checks = standard_checks(store=store, cache=TieredCache([MemoryCache()]))
        with MonitorServer(Metrics(process=False), checks, port=0).start() as server:
            status, body = _get(f"{server.url}/health")
            assert (status, body["status"], body["checks"]["database"]["status"]) == (200, "ok", "ok")
            assert body["checks"]["database"]["detail"].startswith("postgresql: SELECT 1 in ")
            proxy.stop()
            status, body = _get(f"{server.url}/health")
            assert (status, body["status"], body["checks"]["cache"]["status"]) == (503, "down", "ok")
            assert body["checks"]["database"]["detail"].startswith("postgresql unreachable: ")
            proxy.start()
            status, body = _get(f"{server.url}/health")
            assert (status, body["status"]) == (200, "ok")


def test_cache_levels_each_probed(tmp_path: Path) -> None:
    down = RedisCache("redis://127.0.0.1:1/0", timeout=0.2)
    report = health_report(
        {
            "working": standard_checks(cache=TieredCache([MemoryCache(), DiskCache(tmp_path / "c")]))["cache"],
            "partly": standard_checks(cache=TieredCache([MemoryCache(), down]))["cache"],
            "gone": standard_checks(cache=TieredCache([RedisCache("redis://127.0.0.1:1/0", timeout=0.2)]))["cache"],
        }
    )
    found = {c.name: (c.status, c.detail) for c in report.checks}
    assert found == {
        "working": ("ok", "levels memory, disk answer"),
        "partly": ("degraded", "cache level(s) redis not answering; the others serve"),
        "gone": ("down", "no cache level answers (redis)"),
    }
    assert report.status == "down" and report.http_status == 503


def test_a_real_redis_level_answers() -> None:
    redis = RedisCache(redis_url_or_skip(), prefix="wbtest:health:")
    try:
        (result,) = health_report(standard_checks(cache=TieredCache([redis]))).checks
        assert (result.status, result.detail) == ("ok", "levels redis answer")
    finally:
        redis.close()


def test_feed_broker_and_scheduler_checks() -> None:
    last: list[datetime] = []
    feed = feed_check(lambda: last[-1] if last else None, timedelta(minutes=5), now=lambda: NOW)
    assert feed() == ("degraded", "no bar received yet")
    last.append(NOW - timedelta(minutes=2))
    assert feed() == ("ok", "last bar 2024-07-01T14:28:00+00:00, 2 min old")
    last.append(NOW - timedelta(minutes=30))
    assert feed() == ("down", "stale: last bar 2024-07-01T14:00:00+00:00 is 30 min old (max 5 min)")

    status, detail = broker_check(SimBroker(FrozenClock(NOW), cash=1_000))()
    assert status == "ok" and detail.startswith("SimBroker answered in ")
    slow = SimpleNamespace(account=lambda: time.sleep(0.05))
    assert broker_check(slow, slow=0.01)()[0] == "degraded"

    run = SimpleNamespace(notebook=Path("live.ipynb"), status="finished", started_at=NOW, duration=3.2, error=None)
    schedule = SimpleNamespace(runs=[], skipped=2, every=timedelta(minutes=5), calendar=None)
    check = scheduler_check(schedule, now=lambda: NOW + timedelta(minutes=1))
    assert check() == ("ok", "no run yet (2 skipped)")
    schedule.runs.append(run)
    assert check() == ("ok", "last run 2024-07-01T14:30:00+00:00 finished in 3.2 s")
    schedule.runs.append(SimpleNamespace(**{**vars(run), "status": "failed", "error": "KeyError: 'x'"}))
    assert check() == ("degraded", "last run of live.ipynb failed: KeyError: 'x'")
    schedule.runs.append(run)
    assert scheduler_check(schedule, now=lambda: NOW + timedelta(minutes=11))()[0] == "degraded"


def test_the_aggregate_is_the_worst_and_failures_and_hangs_are_down() -> None:
    def broken() -> tuple[str, str]:
        raise ConnectionError("refused")

    report = health_report(
        {"fine": lambda: ("ok", "yes"), "broken": broken, "hung": lambda: time.sleep(2) or ("ok", "late")},
        timeout=0.2,
    )
    assert [(c.name, c.status, c.detail) for c in report.checks] == [
        ("fine", "ok", "yes"),
        ("broken", "down", "ConnectionError: refused"),
        ("hung", "down", "no answer within 0.2 s"),
    ]
    assert report.status == "down" and report.to_dict()["checks"]["fine"]["status"] == "ok"
    assert health_report({}).status == "ok"
    assert health_report({"a": lambda: ("ok", ""), "b": lambda: ("degraded", "")}).http_status == 200


def test_unknown_path_is_404() -> None:
    with (
        MonitorServer(Metrics(process=False), {}, port=0).start() as server,
        pytest.raises(urllib.error.HTTPError, match="404"),
    ):
        urllib.request.urlopen(f"{server.url}/nope")


def _monitor_cli(settings, *args: str):
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = settings

    app.add_typer(monitor_app, name="monitor")
    return CliRunner().invoke(app, ["monitor", *args])


def test_monitor_health_command(tmp_path: Path, proxied_pg: tuple[TcpProxy, str]) -> None:
    proxy, url = proxied_pg
    settings = load_settings(overrides={"db_url": url, "cache_dir": str(tmp_path / "cache")}, env={})
    result = _monitor_cli(settings, "health")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "health: ok" and "database  ok" in result.output
    proxy.stop()
    result = _monitor_cli(settings, "health")
    assert result.exit_code == 1 and result.output.splitlines()[-1] == "health: down"


@pytest.mark.parametrize("module", ["health", "server"])
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"workbench.monitor.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_details_never_carry_credentials() -> None:
    def leaky() -> tuple[str, str]:
        raise ConnectionError("redis://admin:s3cret@cache.internal:6379/0 refused")

    (result,) = health_report({"cache": leaky}).checks
    assert result.detail == "ConnectionError: redis://***@cache.internal:6379/0 refused"

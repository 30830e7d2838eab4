"""The API's ``/metrics`` and ``/health`` from the monitor module: a scripted paper session through the API counted
exactly (orders, fills, rejections, risk denials, broker calls), and ``/health`` going 503 while PostgreSQL is cut
off and back to 200 when it returns, each check's detail in the body and nothing secret in it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from api_support import make_api, samples, value
from sqlalchemy.engine import make_url
from tcp_proxy import TcpProxy

from workbench.risk.manager import RiskRules
from workbench.store import create_store_engine

pytest_plugins = ["store_fixtures"]


def test_metrics_count_a_scripted_paper_session_through_the_api(tmp_path) -> None:
    api = make_api(tmp_path, rules=RiskRules(max_order_value=2_000, allowed_symbols=("SPY", "QQQ")))
    trader = api.key("trader")

    def order(**body: object) -> int:
        return api.client.post("/api/v1/orders", json={"side": "buy", "type": "market", **body}, headers=trader)

    assert order(symbol="SPY", qty=2).status_code == 201  # 1,000 at 500: filled
    assert order(symbol="SPY", qty=1, side="sell").status_code == 201  # filled
    resting = order(symbol="SPY", qty=1, type="limit", limit_price=450.0)
    assert resting.json()["status"] == "accepted"
    assert api.client.post(f"/api/v1/orders/{resting.json()['id']}/cancel", headers=trader).status_code == 200
    assert order(symbol="SPY", qty=5).json()["error"]["rule"] == "max_order_value"  # 2,500: refused by the desk
    assert order(symbol="NVDA", qty=1, type="limit", limit_price=100.0).json()["error"]["rule"] == "allowed_symbols"
    assert order(symbol="QQQ", qty=1).status_code == 409  # no price for QQQ: never reaches the rules or the broker

    found = samples(api)

    for kind, count in {"accepted": 3, "fill": 2, "canceled": 1, "rejected": 1}.items():
        assert value(found, "workbench_order_events_total", kind=kind) == count
    assert value(found, "workbench_fills_total", symbol="SPY", side="buy") == 1
    assert value(found, "workbench_fills_total", symbol="SPY", side="sell") == 1
    assert value(found, "workbench_rejections_total", symbol="NVDA") == 1
    assert value(found, "workbench_risk_denials_total", rule="max_order_value") == 1
    assert value(found, "workbench_risk_denials_total", rule="allowed_symbols") == 1
    for state, count in {"filled": 2, "canceled": 1, "rejected": 1, "accepted": 0, "new": 0}.items():
        assert value(found, "workbench_orders", state=state) == count
    assert value(found, "workbench_broker_latency_seconds_count", operation="submit") == 3  # NVDA never got there
    assert value(found, "workbench_broker_latency_seconds_count", operation="cancel") == 1
    assert value(found, "process_cpu_seconds_total") > 0


@pytest.fixture
def proxied_schema(pg_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A PostgreSQL schema of its own, reached through a loopback proxy the test can cut."""
    url = make_url(pg_url)
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_store_engine(pg_url)
    with admin.begin() as connection:
        connection.execute(sa.schema.CreateSchema(schema))
    proxy = TcpProxy((url.host, url.port)).start()
    try:
        proxied = url.set(port=proxy.port).render_as_string(hide_password=False)
        yield proxy, f"{proxied}?options=-csearch_path%3D{schema}"
    finally:
        proxy.stop()
        with admin.begin() as connection:
            connection.execute(sa.schema.DropSchema(schema, cascade=True))
        admin.dispose()


def test_health_is_503_while_the_database_is_unreachable_and_recovers(
    tmp_path, proxied_schema: tuple[TcpProxy, str]
) -> None:
    proxy, url = proxied_schema
    api = make_api(tmp_path, db_url=url, checks={"feed": lambda: ("degraded", "no bar received yet")})

    up = api.client.get("/health")
    assert up.status_code == 200
    body = up.json()
    assert (body["status"], body["database"], body["trading"]) == ("degraded", "ok", "attached")  # worst: the feed
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "broker": "ok",
        "feed": "degraded",
    }
    assert body["checks"]["database"]["detail"].startswith("postgresql: SELECT 1 in ")
    assert body["checks"]["broker"]["detail"].startswith("SimBroker answered in ")

    proxy.stop()
    down = api.client.get("/health")
    assert down.status_code == 503
    body = down.json()
    assert (body["status"], body["database"], body["checks"]["database"]["status"]) == ("down", "unreachable", "down")
    assert body["checks"]["database"]["detail"].startswith("postgresql unreachable: ")
    assert body["checks"]["broker"]["status"] == "ok"
    assert f"{make_url(url).username}@" not in down.text and f"port {proxy.port} failed" in down.text  # where, not who

    proxy.start()
    again = api.client.get("/health")
    assert again.status_code == 200 and again.json()["checks"]["database"]["status"] == "ok"

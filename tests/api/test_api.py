"""The REST API: authentication on every route, role and scope checks, token expiry, revocation and reuse, manual
orders through the RiskManager, the account, strategies, runs, the kill switch, error bodies, and secrets kept
out of logs."""

from __future__ import annotations

import doctest
import importlib
import io
import json
import logging
from datetime import timedelta

import pyotp
import pytest
from api_support import CHEAP, PASSWORD, T0, Api, bearer, make_api
from conftest import make_walk

import workbench as wb
from workbench.api.config import ApiConfig
from workbench.auth.policy import AuthPolicy
from workbench.brokers.sim import SimBroker
from workbench.data.feeds import ReplayFeed
from workbench.logs import configure_logging
from workbench.risk.manager import RiskRules
from workbench.store import Store
from workbench.store.journal import OrderJournal
from workbench.testing import FrozenClock
from workbench.trading.session import TradingSession

#: Routes a caller reaches without credentials: they carry their own (login, refresh) or need none (health).
OPEN = {"/health", "/api/v1/auth/login", "/api/v1/auth/refresh"}
#: A value for each path parameter that passes its pattern.
PATH_VALUES = {"name": "sma_cross", "run_id": "1", "order_id": "0123-abcd"}


@pytest.fixture
def api(tmp_path) -> Api:
    return make_api(tmp_path, rules=RiskRules(max_order_value=2_000, allowed_symbols=("SPY", "QQQ")))


def _routes(api: Api) -> list[tuple[str, str]]:
    """(method, path with parameters filled in) of every route of the app's OpenAPI document."""
    paths = api.client.app.openapi()["paths"]
    return [(method.upper(), path.format(**PATH_VALUES)) for path, item in paths.items() for method in sorted(item)]


def _order(api: Api, body: dict, role: str = "trader"):
    """POST ``body`` to /api/v1/orders with the key of ``role``."""
    return api.client.post("/api/v1/orders", json=body, headers=api.key(role))


def _error(response, status: int) -> dict:
    """The error body of ``response``, checked to have the common shape and ``status``."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status and error["code"] and error["message"]
    return error


@pytest.mark.parametrize(
    "module", ["api.app", "services.desk", "api.limits", "trading.account", "api.config", "auth.listen"]
)
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"workbench.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_every_route_without_credentials_is_401(api: Api) -> None:
    routes = [(m, p) for m, p in _routes(api) if p not in OPEN]
    assert len(routes) >= 20
    for method, path in routes:
        for headers in ({}, {"X-API-Key": "wbk_nonsense"}, bearer("wba_" + "A" * 43), {"Authorization": "Basic eDp5"}):
            response = api.client.request(method, path, headers=headers)
            _error(response, 401)
            assert response.headers["WWW-Authenticate"] == "Bearer", (method, path)
    health = api.client.get("/health").json()
    assert (health["status"], health["database"], health["trading"]) == ("ok", "ok", "attached")
    assert {name: check["status"] for name, check in health["checks"].items()} == {"database": "ok", "broker": "ok"}


def test_a_viewer_key_on_a_trader_action_is_403_and_reads_work(api: Api) -> None:
    with api.store.unit_of_work() as uow:
        uow.strategies.add("sma_cross", enabled=True)
    bodies = {
        "/halt": {"reason": "stop"},
        "/api/v1/orders": {"symbol": "SPY", "side": "buy", "qty": 1, "type": "market"},
    }
    writes = [(m, p) for m, p in _routes(api) if m == "POST" and p not in OPEN and "/auth/" not in p]
    assert len(writes) == 8
    for method, path in writes:
        body = next((b for suffix, b in bodies.items() if path.endswith(suffix)), None)
        error = _error(api.client.request(method, path, json=body, headers=api.key("viewer")), 403)
        assert "lacks scope trade" in error["message"]
    _error(api.client.get("/api/v1/audit", headers=api.key("trader")), 403)
    assert api.client.get("/api/v1/audit", headers=api.key("admin")).status_code == 200
    reads = [(m, p) for m, p in _routes(api) if m == "GET" and p not in OPEN and p != "/api/v1/audit"]
    for method, path in reads:
        status = api.client.request(method, path, headers=api.key("viewer")).status_code
        assert status in (200, 404), (method, path, status)  # 404: the run or order named is not there


def test_expired_revoked_and_tampered_tokens_are_401(api: Api) -> None:
    tokens = api.login("tom")
    access = tokens["access_token"]
    me = api.client.get("/api/v1/auth/me", headers=bearer(access)).json()
    assert (me["username"], me["role"], me["scopes"]) == ("tom", "trader", ["read", "trade"])
    assert me["credential"].startswith("session:")
    for tampered in (access[:-1] + ("A" if access[-1] != "A" else "B"), access + "A", access.upper(), access[4:]):
        _error(api.client.get("/api/v1/orders", headers=bearer(tampered)), 401)
    api.clock.advance(timedelta(minutes=15))
    _error(api.client.get("/api/v1/orders", headers=bearer(access)), 401)  # expired
    fresh = api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).json()
    assert api.client.get("/api/v1/orders", headers=bearer(fresh["access_token"])).status_code == 200
    logout = api.client.post("/api/v1/auth/logout", headers=bearer(fresh["access_token"]))
    assert logout.json() == {"revoked": 4}  # both pairs of the login
    _error(api.client.get("/api/v1/orders", headers=bearer(fresh["access_token"])), 401)  # revoked
    _error(api.client.post("/api/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]}), 401)
    _error(api.client.post("/api/v1/auth/logout", headers=api.key("trader")), 403)


def test_revoked_expired_and_tampered_keys_are_401(api: Api) -> None:
    key = api.keys["trader"]
    _error(api.client.get("/api/v1/orders", headers={"X-API-Key": key[:-1] + ("A" if key[-1] != "A" else "B")}), 401)
    assert api.client.get("/metrics", headers=bearer(key)).status_code == 200  # a key as a bearer token works too
    api.accounts.revoke_key(key[:12], actor="test")
    _error(api.client.get("/api/v1/orders", headers=api.key("trader")), 401)
    short = api.accounts.create_key("vic", expires_in=timedelta(hours=1), actor="test").key
    assert api.client.get("/api/v1/orders", headers={"X-API-Key": short}).status_code == 200
    api.clock.advance(timedelta(hours=1))
    _error(api.client.get("/api/v1/orders", headers={"X-API-Key": short}), 401)


def test_a_refresh_token_used_twice_revokes_the_session(api: Api) -> None:
    first = api.login("tom")
    refresh = {"refresh_token": first["refresh_token"]}
    second = api.client.post("/api/v1/auth/refresh", json=refresh).json()
    assert api.client.get("/api/v1/orders", headers=bearer(second["access_token"])).status_code == 200
    _error(api.client.post("/api/v1/auth/refresh", json=refresh), 401)  # the spent token, presented again
    for token in (first["access_token"], second["access_token"]):
        _error(api.client.get("/api/v1/orders", headers=bearer(token)), 401)
    _error(api.client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}), 401)
    audit = api.client.get("/api/v1/audit", params={"action": "auth.refresh"}, headers=api.key("admin")).json()
    assert [(e["details"]["outcome"], e["details"].get("reason")) for e in audit][::-1] == [
        ("success", None),
        ("failure", "reused"),
        ("failure", "revoked"),
    ]


def test_logins_need_the_code_of_a_second_factor_and_lock_out(tmp_path) -> None:
    policy = AuthPolicy(hasher=CHEAP.hasher, max_failures=2, lockout=timedelta(minutes=5))
    api = make_api(tmp_path, config=ApiConfig(policy=policy))
    uri = api.accounts.add_user("tia", PASSWORD, role="viewer", totp=True, actor="test").totp_uri
    code = pyotp.parse_uri(uri).at(T0)
    _error(api.client.post("/api/v1/auth/login", json={"username": "tia", "password": PASSWORD}), 401)
    assert api.login("tia", code=code)["token_type"] == "bearer"
    for _ in range(2):
        _error(api.client.post("/api/v1/auth/login", json={"username": "vic", "password": "wrong password"}), 401)
    locked = api.client.post("/api/v1/auth/login", json={"username": "vic", "password": PASSWORD})
    assert _error(locked, 401)["message"] == "invalid credentials"  # no hint that the user exists or is locked
    api.clock.advance(timedelta(minutes=5))
    api.login("vic")


def test_a_manual_order_passes_the_risk_manager_and_a_denial_names_the_rule(api: Api) -> None:
    filled = _order(api, {"symbol": "SPY", "side": "buy", "qty": 2, "type": "market"})
    assert filled.status_code == 201 and filled.json()["status"] == "filled"
    assert filled.json()["tags"] == {"source": "api", "user": "tom"}
    too_big = {"symbol": "SPY", "side": "buy", "qty": 5, "type": "market"}  # 2,500 over max_order_value 2,000
    error = _error(_order(api, too_big), 409)
    assert (error["code"], error["rule"]) == ("risk_denied", "max_order_value")
    assert "at most 4 allowed" in error["message"]
    other = {"symbol": "IWM", "side": "buy", "qty": 1, "type": "limit", "limit_price": 200.0}
    assert _error(_order(api, other), 409)["rule"] == ("allowed_symbols")
    events = api.paper.risk_manager.events
    assert [(e.symbol, e.decision, e.rule) for e in events if e.decision == "deny"] == [
        ("SPY", "deny", "max_order_value"),
        ("IWM", "deny", "allowed_symbols"),
    ]
    risk = api.client.get("/api/v1/risk", headers=api.key("viewer")).json()
    assert risk["rules"] == {"max_order_value": 2000, "allowed_symbols": ["QQQ", "SPY"]}
    assert [(e["decision"], e["rule"]) for e in risk["events"][:2]] == [
        ("deny", "allowed_symbols"),
        ("approve", ""),
    ]
    assert api.client.get("/api/v1/account", headers=api.key("viewer")).json() == {"cash": 9_000.0, "equity": 10_000.0}
    assert api.client.get("/api/v1/positions", headers=api.key("viewer")).json() == [
        {
            "symbol": "SPY",
            "qty": 2.0,
            "avg_price": 500.0,
            "realized_pnl": 0.0,
            "fees": 0.0,
            "price": 500.0,
            "unrealized_pnl": 0.0,
        }
    ]


def test_a_manual_order_on_a_session_meets_the_strategys_risk_manager(tmp_path, spy) -> None:
    """A recorded TradingSession plugs in as the API's trading context: a manual order goes through the very
    RiskManager its strategy's orders pass (here: SPY is the only symbol allowed), and the account's orders are read
    back from the run's records."""

    class Session(TradingSession):
        def last_price(self, symbol: str) -> float | None:
            return float(self.frame()["close"].iloc[-1]) if symbol.upper() == self.symbol else None

    bars = spy.loc["2018-01-01":"2018-06-30"]
    clock = FrozenClock(bars.index[0].to_pydatetime())
    broker = SimBroker(clock, cash=10_000.0)
    rules = {"allowed_symbols": ("SPY",)}
    store = Store.open(f"sqlite:///{tmp_path / 'api.db'}")  # the database make_api serves
    journal = OrderJournal.start(store, "sma_cross", cash=10_000.0, config={"symbol": "SPY", "broker": "sim"})
    session = Session(wb.strategy("sma_cross")(fast=5, slow=20), "SPY", broker, clock, risk=rules, journal=journal)
    session.run(ReplayFeed({"SPY": bars}))
    api = make_api(tmp_path, trading=session)
    strategy_orders = len(session.om.orders)
    assert strategy_orders > 0
    order = {"symbol": "QQQ", "side": "buy", "qty": 1, "type": "limit", "limit_price": 100.0}
    assert _error(_order(api, order), 409)["rule"] == ("allowed_symbols")
    assert session.risk_manager.events[-1].rule == "allowed_symbols"
    listed = api.client.get("/api/v1/orders", headers=api.key("viewer")).json()
    assert len(listed) == strategy_orders + 1 and listed[0]["status"] == "rejected"


def test_orders_are_listed_shown_and_canceled(api: Api) -> None:
    resting = {"symbol": "SPY", "side": "buy", "qty": 1, "type": "limit", "limit_price": 450.0, "time_in_force": "gtc"}
    placed = _order(api, resting).json()
    assert placed["status"] == "accepted"
    assert [o["id"] for o in api.client.get("/api/v1/orders?open_only=true", headers=api.key("viewer")).json()] == [
        placed["id"]
    ]
    assert api.client.get(f"/api/v1/orders/{placed['id']}", headers=api.key("viewer")).json() == placed
    canceled = api.client.post(f"/api/v1/orders/{placed['id']}/cancel", headers=api.key("trader"))
    assert canceled.json()["status"] == "canceled"
    _error(api.client.post(f"/api/v1/orders/{placed['id']}/cancel", headers=api.key("trader")), 409)
    _error(api.client.get("/api/v1/orders/nope", headers=api.key("viewer")), 404)
    _error(api.client.post("/api/v1/orders/nope/cancel", headers=api.key("trader")), 404)
    no_price = {"symbol": "QQQ", "side": "buy", "qty": 1, "type": "market"}
    assert "no price for QQQ" in _error(_order(api, no_price), 409)["message"]
    bad = {"symbol": "SPY", "side": "buy", "qty": 1, "type": "limit"}  # no limit price
    assert "limit_price" in _error(_order(api, bad), 422)["message"]


def test_strategies_are_switched_and_the_kill_switch_holds(api: Api) -> None:
    with api.store.unit_of_work() as uow:
        uow.strategies.add("sma_cross", enabled=True)
        uow.strategies.add("rsi", enabled=False)
    trader = api.key("trader")
    assert api.client.post("/api/v1/strategies/rsi/enable", headers=trader).json()["enabled"] is True
    assert api.client.post("/api/v1/strategies/rsi/disable", headers=trader).json()["enabled"] is False
    halted = api.client.post("/api/v1/strategies/sma_cross/halt", json={"reason": "drift"}, headers=trader).json()
    assert (halted["halted"], halted["halted_reason"]) == (True, "drift (tom)")
    assert api.client.post("/api/v1/strategies/sma_cross/resume", headers=trader).json()["halted"] is False
    _error(api.client.post("/api/v1/strategies/nope/enable", headers=trader), 404)
    assert api.client.post("/api/v1/risk/halt", json={"reason": "news"}, headers=trader).json() == {
        "halted": True,
        "reason": "news (tom)",
        "strategies": ["sma_cross"],
    }
    order = {"symbol": "SPY", "side": "buy", "qty": 1, "type": "market"}
    assert "trading is halted (news (tom))" in _error(_order(api, order), 409)["message"]
    listed = api.client.get("/api/v1/strategies", headers=api.key("viewer")).json()
    assert [(s["name"], s["halted"]) for s in listed] == [("rsi", False), ("sma_cross", True)]
    assert api.client.post("/api/v1/risk/resume", headers=trader).json()["strategies"] == ["sma_cross"]
    assert _order(api, order).status_code == 201
    actions = [e["action"] for e in api.client.get("/api/v1/audit", headers=api.key("admin")).json()]
    assert actions[:4] == ["order.submit", "trading.resume", "order.submit", "trading.halt"]


def test_saved_runs_are_listed_and_shown(api: Api) -> None:
    result = wb.backtest(wb.strategy("sma_cross")(fast=5, slow=20), make_walk(200), fees=0.001)
    run_id = result.save(api.store)
    listed = api.client.get("/api/v1/runs", headers=api.key("viewer")).json()
    account = (1, "live", "manual", "running")  # the API's paper account records its orders in a run of its own
    assert [(r["id"], r["kind"], r["strategy"], r["status"]) for r in listed] == [
        (run_id, "backtest", "sma_cross", "finished"),
        account,
    ]
    api.paper.close()  # the account is served no more
    assert api.client.get("/api/v1/runs/1", headers=api.key("viewer")).json()["status"] == "stopped"
    assert listed[0]["sharpe"] == pytest.approx(result.metrics["sharpe"])
    shown = api.client.get(f"/api/v1/runs/{run_id}", headers=api.key("viewer")).json()
    assert len(shown["orders"]) == len(result.orders) and len(shown["fills"]) == len(result.fills)
    assert shown["spec"]["params"] == {"fast": 5, "slow": 20} and len(shown["equity"]) > 0
    assert api.client.get("/api/v1/runs?kind=sweep", headers=api.key("viewer")).json() == []
    _error(api.client.get(f"/api/v1/runs/{run_id + 1}", headers=api.key("viewer")), 404)
    _error(api.client.get("/api/v1/runs?kind=nonsense", headers=api.key("viewer")), 422)


def test_errors_have_one_shape_and_never_echo_what_was_sent(api: Api) -> None:
    secret = "my very secret password" * 60  # over the length limit
    error = _error(api.client.post("/api/v1/auth/login", json={"username": "tom", "password": secret}), 422)
    assert error["fields"][0]["loc"] == ["body", "password"] and "secret" not in json.dumps(error)
    extra = {"symbol": "SPY", "side": "buy", "qty": 1, "leverage": 10, "type": "market"}
    assert _error(_order(api, extra), 422)["fields"][0]["loc"] == ["body", "market", "leverage"]
    for qty in (0, -1, 1e12, "x"):
        body = {"symbol": "SPY", "side": "buy", "qty": qty, "type": "market"}
        _error(_order(api, body), 422)
    _error(api.client.post("/api/v1/orders", content=b"{not json", headers=api.key("trader")), 422)
    big = b'{"symbol": "' + b"S" * 70_000 + b'"}'
    _error(api.client.post("/api/v1/orders", content=big, headers=api.key("trader")), 413)
    _error(api.client.get("/nowhere"), 404)
    _error(api.client.delete("/api/v1/orders"), 405)


def test_without_a_trading_account_trading_routes_are_503(tmp_path) -> None:
    api = make_api(tmp_path, trading=None)
    for path in ("/api/v1/orders", "/api/v1/positions", "/api/v1/account", "/api/v1/risk"):
        _error(api.client.get(path, headers=api.key("viewer")), 503)
    assert api.client.post("/api/v1/risk/halt", json={"reason": "x"}, headers=api.key("trader")).status_code == 200
    assert api.client.get("/health").json()["trading"] == "none"


def test_metrics_and_openapi(api: Api) -> None:
    metrics = api.client.get("/metrics", headers=api.key("viewer"))
    assert metrics.headers["content-type"].startswith("text/plain") and "python_info" in metrics.text
    spec = api.client.get("/openapi.json").json()
    assert set(spec["components"]["securitySchemes"]) == {"APIKeyHeader", "HTTPBearer"}
    assert {"/health", "/api/v1/orders", "/api/v1/auth/login", "/api/v1/risk/halt"} <= set(spec["paths"])
    assert "ErrorBody" in spec["components"]["schemas"]
    assert api.client.get("/docs").status_code == 200


def test_secrets_never_reach_the_logs(api: Api, caplog) -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", json=True, stream=stream)
    try:
        with caplog.at_level(logging.DEBUG):
            key = api.keys["trader"]
            tokens = api.login("tom")
            tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
            api.client.get("/api/v1/orders", headers={"X-API-Key": tampered})
            api.client.post("/api/v1/auth/login", json={"username": "tom", "password": "wrong password!"})
            api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})  # reuse
            api.client.post(
                "/api/v1/orders",
                json={"symbol": "SPY", "side": "buy", "qty": 1, "type": "market"},
                headers={"X-API-Key": key},
            )
            api.accounts.revoke_key(key[:12], actor="test")
            api.client.get("/api/v1/orders", headers={"X-API-Key": key})
    finally:
        configure_logging("INFO")
    logged = stream.getvalue() + caplog.text
    assert "credential refused" in logged and "refresh refused" in logged and "login refused" in logged
    assert key[:12] in logged  # the prefix names the key
    secrets = (key, tampered, key[13:], tokens["access_token"], tokens["refresh_token"], PASSWORD, "wrong password!")
    for secret in secrets:
        assert secret not in logged
    with api.store.unit_of_work(readonly=True) as uow:
        audited = json.dumps([(e.actor, e.target, e.details) for e in uow.audit.find(limit=None)])
    for secret in (key, tampered, tokens["refresh_token"], PASSWORD, "wrong password!"):
        assert secret not in audited


def test_a_405_names_every_method_the_path_takes(api: Api) -> None:
    """It used to name the first route's only: DELETE /api/v1/orders answered ``Allow: GET``, yet POST is taken."""
    refused = api.client.delete("/api/v1/orders", headers=api.key("trader"))
    assert refused.status_code == 405 and refused.headers["Allow"] == "GET, POST"
    assert _error(refused, 405)["code"] == "method_not_allowed"
    assert api.client.put("/api/v1/auth/login").headers["Allow"] == "POST"
    assert api.client.patch("/api/v1/orders/x", headers=api.key("trader")).headers["Allow"] == "GET"

"""The dashboard's actions and its login, without a browser: each action checks the user's role on the server and
is audited (success or refusal); the login page verifies passwords through workbench.auth and sets nothing on a
failure; the reports behind it need the login."""

from __future__ import annotations

import http.client
import logging
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from ui_support import CHEAP, PASSWORD, add_users, seed

from workbench.auth.errors import AuthError, PermissionDenied
from workbench.auth.service import AuthService
from workbench.services.desk import Desk
from workbench.store import Store
from workbench.store.models_admin import AuditRow
from workbench.ui.actions import Controls
from workbench.ui.errors import DashboardError
from workbench.ui.server import DashboardServer, serve

pytest_plugins = ["store_fixtures"]
# bokeh converts each table's frame with reset_index(inplace=True), which pandas 3.1 deprecates (its code, not ours)
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.reset_index:DeprecationWarning")


def _controls(store: Store, username: str, desk: Desk | None = None) -> Controls:
    auth = AuthService(store, CHEAP)
    return Controls(store, auth, auth.login(username, PASSWORD).access_token, source="10.0.0.7", desk=desk)


def _audit(store: Store, action: str) -> list[AuditRow]:
    with store.unit_of_work(readonly=True) as uow:
        return uow.audit.find(action=action)


def _switches(store: Store) -> dict[str, tuple[bool, bool]]:
    with store.unit_of_work(readonly=True) as uow:
        return {row.name: (row.enabled, row.halted) for row in uow.strategies.find()}


@pytest.fixture
def seeded_store(store: Store) -> Store:
    add_users(store)
    seed(store)
    return store


def test_a_trader_switches_a_strategy_off_and_it_is_audited(seeded_store: Store) -> None:
    controls = _controls(seeded_store, "tom")
    pokes: list[int] = []
    controls.on_change = lambda: pokes.append(1)
    assert controls.can_trade and controls.can_cancel  # by a request through the store: no trading account attached
    assert controls.set_enabled("sma_cross", False) == "sma_cross switched off"
    assert _switches(seeded_store)["sma_cross"] == (False, False)
    [entry] = _audit(seeded_store, "strategy.disable")
    assert (entry.actor, entry.target) == ("tom", "strategy:sma_cross")
    assert entry.details["outcome"] == "success" and entry.details["enabled"] is False
    assert entry.details["source"] == "10.0.0.7" and entry.details["credential"].startswith("session:")
    assert pokes == [1]


def test_a_viewer_is_refused_every_action_and_each_refusal_is_audited(seeded_store: Store) -> None:
    before = _switches(seeded_store)
    controls = _controls(seeded_store, "vic")
    assert not controls.can_trade
    attempts = {
        "strategy.disable": lambda: controls.set_enabled("sma_cross", False),
        "trading.halt": lambda: controls.halt("forged"),
        "trading.resume": controls.resume,
        "order.cancel_request": lambda: controls.cancel("any-order"),
    }
    for action, attempt in attempts.items():
        with pytest.raises(PermissionDenied, match=f"vic is a viewer: {action} needs the trader role"):
            attempt()
        [entry] = _audit(seeded_store, action)
        assert entry.actor == "vic" and entry.details["outcome"] == "failure"
        assert entry.details["reason"] == "forbidden" and entry.details["role"] == "viewer"
    assert _switches(seeded_store) == before


def test_without_a_login_the_dashboard_is_read_only(seeded_store: Store) -> None:
    controls = Controls(seeded_store, AuthService(seeded_store, CHEAP), None)
    assert controls.user is None and not controls.can_trade
    with pytest.raises(PermissionDenied, match="read-only"):
        controls.halt("x")
    [entry] = _audit(seeded_store, "trading.halt")
    assert (entry.actor, entry.details["reason"]) == ("anonymous", "read_only")
    assert not any(halted for _, halted in _switches(seeded_store).values())


def test_a_login_that_ended_acts_no_more(seeded_store: Store) -> None:
    controls = _controls(seeded_store, "tom")
    controls.auth.logout(controls.user)
    with pytest.raises(AuthError, match="your login has ended"):
        controls.set_enabled("sma_cross", False)
    assert _switches(seeded_store)["sma_cross"] == (True, False)


def test_the_kill_switch_halts_the_enabled_strategies_and_resume_lifts_it(seeded_store: Store) -> None:
    controls = _controls(seeded_store, "tom")
    controls.set_enabled("sma_cross", False)
    with pytest.raises(DashboardError, match="a halt needs a reason"):
        controls.halt("   ")
    assert controls.halt("  fat finger ") == "halted: rsi_reversion (fat finger)"
    assert _switches(seeded_store) == {"rsi_reversion": (True, True), "sma_cross": (False, False)}
    with seeded_store.unit_of_work(readonly=True) as uow:
        assert uow.strategies.get("rsi_reversion").halted_reason == "fat finger (tom)"
    [entry] = _audit(seeded_store, "trading.halt")
    assert entry.details["strategies"] == ["rsi_reversion"] and entry.details["reason"] == "fat finger"
    assert controls.halt("again") == "no enabled strategy to halt"
    assert controls.resume() == "resumed: rsi_reversion"
    assert _switches(seeded_store)["rsi_reversion"] == (True, False)


def test_an_unknown_strategy_is_refused_and_audited(seeded_store: Store) -> None:
    controls = _controls(seeded_store, "tom")
    with pytest.raises(DashboardError, match=r"strategy 'nope' is not stored \(stored: rsi_reversion, sma_cross\)"):
        controls.set_enabled("nope", True)
    [entry] = _audit(seeded_store, "strategy.enable")
    assert entry.details["outcome"] == "failure" and "not stored" in entry.details["reason"]


def test_cancel_goes_through_the_attached_trading_account(store: Store) -> None:
    add_users(store)
    seeded = seed(store)
    order_id = seeded.working.id
    controls = _controls(store, "tom", desk=Desk(seeded.spy))
    assert controls.can_cancel
    assert controls.cancel(order_id) == f"order {order_id} canceled"
    with store.unit_of_work(readonly=True) as uow:
        assert uow.orders.get(order_id).status.value == "canceled"  # journaled by the account's OrderManager
    with pytest.raises(DashboardError, match="is canceled and cannot be canceled"):
        controls.cancel(order_id)
    with pytest.raises(DashboardError, match="was not placed on this account"):
        controls.cancel("no-such-order")
    outcomes = [e.details["outcome"] for e in _audit(store, "order.cancel")]
    assert outcomes == ["failure", "failure", "success"]  # newest first
    assert _audit(store, "order.cancel_request") == []  # canceled directly, no request written


def test_the_kill_switch_halts_the_attached_trading_account_too(store: Store) -> None:
    add_users(store)
    seeded = seed(store)
    desk = Desk(seeded.spy)
    controls = _controls(store, "tom", desk=desk)
    controls.halt("drill", strategy="sma_cross")  # one strategy: the account goes on
    assert not desk.halted
    controls.halt("drill")
    assert desk.halted and desk.halt_reason == "drill (tom)"
    controls.resume()
    assert not desk.halted and desk.halt_reason is None


# --- the login page and the reports behind it (a real server, plain HTTP) ------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[DashboardServer, Store]]:
    store = Store.open(f"sqlite:///{tmp_path / 'workbench.db'}")
    add_users(store)
    reports = tmp_path / "reports"
    (reports / "runs").mkdir(parents=True)
    (reports / "runs" / "r1.html").write_text("<html><body>report one</body></html>")
    server = serve(store, port=0, threaded=True, reports_dir=reports, period=0.5)
    yield server, store
    server.stop()
    store.close()


def _request(server: DashboardServer, method: str, path: str, form: dict | None = None, cookie: str = ""):
    host, port = urllib.parse.urlsplit(server.url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"Cookie": cookie} if cookie else {}
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    response.text = response.read().decode()
    connection.close()
    return response


def _form(server: DashboardServer, path: str, form: dict, cookie: str = ""):
    """POST ``form`` to ``path`` as a browser does: from the page of the same path, with its XSRF token and cookie."""
    page = _request(server, "GET", path, cookie=cookie)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    xsrf_cookie = re.match(r"([^;]+)", page.getheader("Set-Cookie")).group(1)
    return _request(
        server, "POST", path, {**form, "_xsrf": xsrf}, cookie="; ".join(filter(None, [cookie, xsrf_cookie]))
    )


def test_a_wrong_password_shows_an_error_and_grants_nothing(served) -> None:
    server, store = served
    response = _form(server, "/login", {"username": "tom", "password": "wrong password"})
    assert response.status == 401 and "invalid credentials" in response.text
    assert response.getheader("Set-Cookie") is None
    [entry] = _audit(store, "auth.login")
    assert entry.details["outcome"] == "failure" and entry.details["reason"] == "bad_password"
    assert _request(server, "GET", "/").status == 302  # still sent to the login page
    assert _request(server, "GET", "/reports/runs/r1.html").status == 302


def test_a_login_sets_a_safe_cookie_opens_the_reports_and_logout_ends_it(served) -> None:
    server, store = served
    form = {"username": "tom", "password": PASSWORD, "next": "//evil.example/steal"}
    response = _form(server, "/login", form)
    assert response.status == 302 and response.getheader("Location") == "/"  # no redirect off the server
    set_cookie = response.getheader("Set-Cookie")
    assert set_cookie.startswith("workbench_session=") and "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    cookie = re.match(r"([^;]+)", set_cookie).group(1)
    report = _request(server, "GET", "/reports/runs/r1.html", cookie=cookie)
    assert report.status == 200 and "report one" in report.text
    assert _request(server, "GET", "/", cookie=cookie).status == 200
    assert _request(server, "GET", "/logout", cookie=cookie).status == 200  # a button: a GET logs nobody out
    assert _request(server, "GET", "/", cookie=cookie).status == 200
    out = _form(server, "/logout", {}, cookie=cookie)
    assert out.status == 302 and out.getheader("Location") == "/login?out=1"
    assert _request(server, "GET", "/reports/runs/r1.html", cookie=cookie).status == 302  # the login was revoked
    assert [e.details["outcome"] for e in _audit(store, "auth.logout")] == ["success"]


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example", "/\\evil.example", "https://evil.example/"])
def test_after_a_login_the_browser_stays_on_this_server(served, target: str) -> None:
    """``next=/%09/evil.com`` used to answer ``Location: /\t/evil.com``, which a browser reads as //evil.com."""
    server, _ = served
    response = _form(server, "/login", {"username": "tom", "password": PASSWORD, "next": target})
    assert response.status == 302 and response.getheader("Location") == "/"
    page = _request(server, "GET", "/login?" + urllib.parse.urlencode({"next": target}))
    assert 'name="next" value="/"' in page.text


def test_the_login_and_logout_forms_need_their_xsrf_token(served) -> None:
    """Another site cannot post the login form (login CSRF) nor log a browser out (logout used to be a GET)."""
    server, store = served
    forged = _request(server, "POST", "/login", {"username": "tom", "password": PASSWORD})
    assert forged.status == 403 and forged.getheader("Set-Cookie") is None
    assert _audit(store, "auth.login") == []  # refused before the password was even tried
    login = _form(server, "/login", {"username": "tom", "password": PASSWORD})
    cookie = re.match(r"([^;]+)", login.getheader("Set-Cookie")).group(1)
    assert _request(server, "POST", "/logout", {}, cookie=cookie).status == 403
    assert _request(server, "GET", "/", cookie=cookie).status == 200  # still logged in
    assert _audit(store, "auth.logout") == []


def test_odd_requests_get_clean_answers_and_log_no_traceback(served, caplog: pytest.LogCaptureFixture) -> None:
    """``/reports/%00`` used to answer 500; every anonymous ``/autoload.js`` logged an uncaught traceback (a log
    flood anyone could cause); a 405 named no method."""
    server, _ = served
    login = _form(server, "/login", {"username": "tom", "password": PASSWORD})
    cookie = re.match(r"([^;]+)", login.getheader("Set-Cookie")).group(1)
    with caplog.at_level(logging.ERROR):
        assert _request(server, "GET", "/reports/%00", cookie=cookie).status == 404
        for _ in range(3):
            assert _request(server, "GET", "/autoload.js?bokeh-autoload-element=x").status == 403
        refused = _request(server, "PUT", "/login")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert refused.status == 405 and refused.getheader("Allow") == "GET, POST"

"""`workbench api serve`: loopback by default, no other address until a user can authenticate, and a real uvicorn
serving the app (with a local paper account) that answers over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
import typer
from api_support import CHEAP, PASSWORD
from typer.testing import CliRunner

from workbench.auth.accounts import Accounts
from workbench.auth.listen import check_bind
from workbench.cli.api import api_app
from workbench.config import load_settings
from workbench.errors import ConfigError
from workbench.store import Store

#: Runs `workbench api serve` the way `workbench.cli` registers it, settings from the WORKBENCH_* environment.
SERVER = """
import sys, typer
from workbench.cli.api import api_app
from workbench.config import load_settings
app = typer.Typer()
@app.callback()
def root(ctx: typer.Context) -> None:
    ctx.obj = load_settings()
app.add_typer(api_app, name="api")
app(sys.argv[1:])
"""


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'serve.db'}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.org"])
def test_beyond_loopback_needs_a_user_first(db_url: str, host: str) -> None:
    with Store.open(db_url) as store:
        check_bind("127.0.0.1", store)
        check_bind("::1", store)
        with pytest.raises(ConfigError, match=f"refusing to serve the API on {host}: no user can authenticate yet"):
            check_bind(host, store)
        accounts = Accounts(store, CHEAP)
        accounts.add_user("ada", PASSWORD, role="admin", actor="test")
        check_bind(host, store)
        accounts.disable_user("ada", actor="test")
        with pytest.raises(ConfigError):
            check_bind(host, store)


def test_serve_refuses_a_public_address_before_listening(db_url: str, monkeypatch) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn must not start"))
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = load_settings(overrides={"db_url": db_url}, env={})

    app.add_typer(api_app, name="api")
    result = CliRunner().invoke(app, ["api", "serve", "--host", "0.0.0.0"])
    assert isinstance(result.exception, ConfigError) and "refusing to serve the API on 0.0.0.0" in str(result.exception)


def test_serve_answers_over_http_with_a_paper_account(db_url: str, tmp_path) -> None:
    with Store.open(db_url) as store:
        Accounts(store, CHEAP).add_user("ada", PASSWORD, role="trader", actor="test")
        key = Accounts(store).create_key("ada", expires_in=None, actor="test").key
    port = _free_port()
    env = {**os.environ, "WORKBENCH_DB_URL": db_url, "WORKBENCH_HOME": str(tmp_path), "WORKBENCH_FEES": "0"}
    command = [sys.executable, "-c", SERVER, "api", "serve", "--port", str(port), "--paper", "--symbols", "SPY"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "the server did not start within 30 s"
                time.sleep(0.2)
        body = health.json()
        assert (body["status"], body["database"], body["trading"]) == ("ok", "ok", "attached")
        assert {name: check["status"] for name, check in body["checks"].items()} == {
            "database": "ok",
            "broker": "ok",
            "cache": "ok",
        }
        metrics = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {key}"})
        assert 'workbench_cache_entries{level="disk"}' in metrics.text
        assert httpx.get(f"{base}/api/v1/account").status_code == 401
        order = {"symbol": "SPY", "side": "buy", "qty": 1, "type": "market"}
        placed = httpx.post(f"{base}/api/v1/orders", json=order, headers={"X-API-Key": key})
        assert placed.status_code == 201 and placed.json()["status"] == "filled"
        account = httpx.get(f"{base}/api/v1/account", headers={"X-API-Key": key}).json()
        assert account["cash"] < 10_000.0 and account["equity"] == pytest.approx(10_000.0)
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert key not in output  # uvicorn's access lines and the workbench's logs name no key

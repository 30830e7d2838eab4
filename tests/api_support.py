"""Helpers of the auth and API tests: a cheap password hasher, users and keys of every role, and an API over a
paper account on a frozen clock."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from workbench.api.app import create_app
from workbench.api.config import ApiConfig
from workbench.auth.accounts import Accounts
from workbench.auth.policy import AuthPolicy
from workbench.auth.vault import Vault
from workbench.config import load_settings
from workbench.risk.manager import RiskRules
from workbench.store import Store
from workbench.testing import FrozenClock
from workbench.trading.account import PaperAccount
from workbench.trading.build import api_account

#: argon2id at its cheapest: the tests hash and verify many passwords (the defaults take 0.2 s a hash).
CHEAP = AuthPolicy(hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
T0 = datetime(2024, 7, 1, 14, 30, tzinfo=UTC)
PASSWORD = "correct horse battery"
#: A user of each role, by role.
USERS = {"admin": "ada", "trader": "tom", "viewer": "vic"}
REDIS = ("127.0.0.1", 6379)


@dataclass
class Api:
    """A test client of the API, its store, clock and paper account, and an API key of each role."""

    client: TestClient
    store: Store
    clock: FrozenClock
    paper: PaperAccount
    accounts: Accounts
    keys: dict[str, str]

    def key(self, role: str) -> dict[str, str]:
        """Headers carrying the API key of the user with ``role``."""
        return {"X-API-Key": self.keys[role]}

    def login(self, username: str = "tom", **extra: str) -> dict[str, str]:
        """Log ``username`` in; returns the token pair."""
        response = self.client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD, **extra})
        assert response.status_code == 200, response.text
        return response.json()


def bearer(token: str) -> dict[str, str]:
    """Headers carrying a bearer token."""
    return {"Authorization": f"Bearer {token}"}


def make_api(
    tmp_path: Path,
    *,
    config: ApiConfig | None = None,
    rules: RiskRules | None = None,
    db_url: str | None = None,
    trading: object = "paper",
    **options: object,
) -> Api:
    """An API over a fresh database (a SQLite file unless ``db_url``) with a user and a key of every role, and a
    paper account holding 10,000 with SPY at 500 (``trading=None``: no account; or a session's `Desk`).
    ``options`` go to `create_app` (``metrics``, ``checks``)."""
    clock = FrozenClock(T0)
    store = Store.open(db_url or f"sqlite:///{tmp_path / 'api.db'}")
    settings = load_settings(overrides={"home": str(tmp_path)}, env={})  # the TOTP key file: in tmp_path
    accounts = Accounts(store, CHEAP, clock, Vault(settings=settings))
    keys = {}
    for role, username in USERS.items():
        accounts.add_user(username, PASSWORD, role=role, actor="test")
        keys[role] = accounts.create_key(username, expires_in=None, actor="test").key
    paper = api_account(store, cash=10_000.0, rules=rules, clock=clock)
    paper.quote("SPY", 500.0)
    config = config or ApiConfig(policy=CHEAP)
    app = create_app(store, paper if trading == "paper" else trading, settings, config=config, clock=clock, **options)
    return Api(TestClient(app), store, clock, paper, accounts, keys)


def redis_or_skip() -> str:
    """The URL of the Redis of the developers' machines and CI, or skip when nothing answers there."""
    import pytest

    try:
        socket.create_connection(REDIS, timeout=2).close()
    except OSError:
        pytest.skip(f"no Redis server answers on {REDIS[0]}:{REDIS[1]}")
    return f"redis://{REDIS[0]}:{REDIS[1]}/0"


def samples(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics with a viewer's key: sample (name, sorted labels) -> value."""
    response = api.client.get("/metrics", headers=api.key("viewer"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]

"""Rate limits: per key and per address, the N+1th request in the window refused with 429 and Retry-After, other
keys unaffected; in memory and in the real Redis (counters shared by every server on it)."""

from __future__ import annotations

import uuid

import pytest
from api_support import CHEAP, Api, make_api, redis_or_skip
from fastapi.testclient import TestClient

from workbench.api.app import create_app
from workbench.api.config import ApiConfig
from workbench.config import Settings


def _config(storage: str | None = None, **rates: str) -> ApiConfig:
    """Limits with ``rates``, counted in ``storage``, under a namespace of their own (Redis outlives a test)."""
    return ApiConfig(policy=CHEAP, storage_url=storage, namespace=f"test-{uuid.uuid4().hex}", **rates)


def _limited_per_key(api: Api, n: int) -> None:
    """``n`` requests with the trader's key pass, the next is refused; the viewer's key still passes."""
    for _ in range(n):
        assert api.client.get("/api/v1/orders", headers=api.key("trader")).status_code == 200
    refused = api.client.get("/api/v1/orders", headers=api.key("trader"))
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["error"]["code"] == "rate_limited"
    assert api.client.get("/api/v1/orders", headers=api.key("viewer")).status_code == 200


def test_the_n_plus_first_request_of_a_key_is_429_and_other_keys_pass(tmp_path) -> None:
    api = make_api(tmp_path, config=_config(per_key="3/minute"))
    _limited_per_key(api, 3)


def test_the_bearer_tokens_of_one_user_share_a_rate(tmp_path) -> None:
    api = make_api(tmp_path, config=_config(per_key="2/minute"))
    tokens = [api.login("tom")["access_token"] for _ in range(2)]
    statuses = [api.client.get("/api/v1/orders", headers={"Authorization": f"Bearer {t}"}).status_code for t in tokens]
    refused = api.client.get("/api/v1/orders", headers={"Authorization": f"Bearer {tokens[0]}"})
    assert statuses == [200, 200] and refused.status_code == 429


def test_an_address_is_limited_before_any_credential(tmp_path) -> None:
    api = make_api(tmp_path, config=_config(per_ip="4/minute"))
    statuses = [api.client.get("/health").status_code for _ in range(3)]
    statuses.append(api.client.get("/api/v1/orders").status_code)  # counted though it has no credential
    statuses.append(api.client.get("/api/v1/orders", headers=api.key("admin")).status_code)
    assert statuses == [200, 200, 200, 401, 429]


def test_login_attempts_are_limited_per_address(tmp_path) -> None:
    api = make_api(tmp_path, config=_config(login="2/minute"))
    body = {"username": "tom", "password": "wrong password"}
    assert [api.client.post("/api/v1/auth/login", json=body).status_code for _ in range(3)] == [401, 401, 429]


def test_limits_are_counted_in_redis_and_shared_by_servers(tmp_path) -> None:
    config = _config(redis_or_skip(), per_key="4/minute")
    api = make_api(tmp_path, config=config)
    assert type(api.client.app.state.workbench.limiter.storage).__name__ == "RedisStorage"
    twin = create_app(api.store, api.paper, config=config, clock=api.clock)  # a second server on the same Redis
    assert TestClient(twin).get("/api/v1/orders", headers=api.key("trader")).status_code == 200
    _limited_per_key(api, 3)


def test_the_settings_redis_url_is_used_when_configured(tmp_path) -> None:
    settings = Settings(redis_url=redis_or_skip())
    api = make_api(tmp_path)
    app = create_app(api.store, None, settings, config=_config())
    assert type(app.state.workbench.limiter.storage).__name__ == "RedisStorage"


def test_an_unreachable_limit_store_refuses_requests(tmp_path) -> None:
    api = make_api(tmp_path, config=_config("redis://127.0.0.1:1/0"))
    response = api.client.get("/health")
    assert response.status_code == 503
    assert response.json()["error"]["message"] == "rate limiting is unavailable; try again later"


@pytest.mark.parametrize("field", ["per_key", "per_ip", "login"])
def test_bad_rates_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match=f"ApiConfig.{field}='often' is invalid"):
        ApiConfig(**{field: "often"})

"""Logging is configured once, as console text or JSON lines (and a JSON-lines file), at the requested level, with
bound ids in every line and secrets masked."""

from __future__ import annotations

import doctest
import io
import json
import logging
from pathlib import Path

import pytest

from workbench import logs as logs_module
from workbench.config import load_settings
from workbench.logs import (
    Redactor,
    bind_context,
    bound_context,
    clear_context,
    configure_logging,
    get_logger,
    secret_values,
)


@pytest.fixture(autouse=True)
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def test_json_lines_carry_event_fields_and_stdlib_records() -> None:
    out = io.StringIO()
    configure_logging("INFO", json=True, stream=out)
    get_logger("workbench.test").info("loaded", symbol="SPY", rows=6642)
    logging.getLogger("other").warning("plain %s", "message")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["event"] == "loaded" and first["symbol"] == "SPY" and first["rows"] == 6642
    assert first["level"] == "info" and first["logger"] == "workbench.test" and first["timestamp"].endswith("Z")
    assert second["event"] == "plain message" and second["level"] == "warning"


def test_level_filters_and_console_format() -> None:
    out = io.StringIO()
    configure_logging("WARNING", stream=out)
    get_logger("x").info("hidden")
    get_logger("x").error("shown", code=3)
    text = out.getvalue()
    assert "hidden" not in text and "shown" in text and "code=3" in text


def test_reconfiguring_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", stream=first)
    configure_logging("INFO", stream=second)
    get_logger("x").info("once")
    assert first.getvalue() == "" and "once" in second.getvalue()


def test_bad_level_is_refused() -> None:
    with pytest.raises(ValueError, match="log level 'LOUD' is not one of DEBUG, INFO, WARNING, ERROR"):
        configure_logging("loud")


def test_json_lines_carry_the_traceback_as_text() -> None:
    buffer = io.StringIO()
    configure_logging("INFO", json=True, stream=buffer)
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        get_logger("workbench.test").exception("failed")
    # threads left by other tests may log into the same handler: find this test's line
    (record,) = [r for r in map(json.loads, buffer.getvalue().splitlines()) if r.get("event") == "failed"]
    assert "ZeroDivisionError: division by zero" in record["exception"]


# --- files, bound ids, secrets ----------------------------------------------------------------------------------


@pytest.fixture
def no_context():
    clear_context()
    yield
    clear_context()


def test_file_lines_are_json_with_the_bound_ids_and_no_secret(tmp_path: Path, no_context: None) -> None:
    settings = load_settings(
        env={
            "WORKBENCH_PROFILE": "paper",
            "WORKBENCH_BROKER": "alpaca-paper",
            "WORKBENCH_ALPACA_API_KEY": "PKTESTKEY123456",
            "WORKBENCH_ALPACA_SECRET_KEY": "alpaca-very-secret-987",
            "WORKBENCH_DB_URL": "postgresql://trader:db-pass-4242@127.0.0.1:5432/test",
            "WORKBENCH_NOTIFY_WEBHOOK_URL": "https://hooks.example.com/x",
            "WORKBENCH_NOTIFY_WEBHOOK_SECRET": "hook-secret-555",
        }
    )
    secrets = secret_values(settings)
    assert set(secrets) == {"PKTESTKEY123456", "alpaca-very-secret-987", "db-pass-4242", "hook-secret-555"}
    console, path = io.StringIO(), tmp_path / "logs" / "workbench.jsonl"
    configure_logging("INFO", stream=console, file=path, secrets=secrets)
    log = get_logger("workbench.session")
    bind_context(run_id=42, session_id="s-7", strategy="sma_cross")
    log.info("connected", url=settings.database_url, key_id="PKTESTKEY123456")
    with bound_context(order_id="o-1"):
        log.info("order sent", headers={"Authorization": "Bearer abc.def", "Accept": "json"})
    logging.getLogger("alpaca").warning("auth with %s failed", "alpaca-very-secret-987")
    try:
        raise PermissionError("webhook refused signature by hook-secret-555")
    except PermissionError:
        log.exception("delivery failed", api_token="t0k3n")
    bind_context(strategy=None)
    log.info("unbound")

    text = path.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["event"] for line in lines] == [
        "connected", "order sent", "auth with ********** failed", "delivery failed", "unbound",
    ]  # fmt: skip
    assert all(line["run_id"] == 42 and line["session_id"] == "s-7" for line in lines)
    assert [line.get("strategy") for line in lines] == ["sma_cross"] * 4 + [None]
    assert [line.get("order_id") for line in lines] == [None, "o-1", None, None, None]
    assert lines[0]["url"] == "postgresql://trader:**********@127.0.0.1:5432/test"
    assert lines[1]["headers"] == {"Authorization": "**********", "Accept": "json"}
    assert lines[3]["api_token"] == "**********" and "signature by **********" in lines[3]["exception"]
    for secret in [*secrets, "abc.def", "t0k3n"]:
        assert secret not in text and secret not in console.getvalue()
    assert "run_id=42" in console.getvalue() and "order_id=o-1" in console.getvalue()  # people get text


def test_short_configured_values_are_not_searched_for() -> None:
    redact = Redactor(["abc", "longer-secret"])
    assert redact(None, "info", {"event": "abc longer-secret"}) == {"event": "abc **********"}


def test_doctests() -> None:
    assert doctest.testmod(logs_module).failed == 0

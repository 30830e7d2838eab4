"""Logging is configured once, as console text or JSON lines, at the requested level."""

from __future__ import annotations

import io
import json
import logging

import pytest

from workbench.monitor.logs import configure_logging, get_logger


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
    record = json.loads(buffer.getvalue().splitlines()[-1])
    assert record["event"] == "failed" and "ZeroDivisionError: division by zero" in record["exception"]

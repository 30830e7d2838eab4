"""Fixtures of the command-line tests: an isolated workbench home, and a loopback Alpaca paper account to trade on.

A plugin module, like ``store_fixtures``: a test module loads it with ``pytest_plugins = ["cli_fixtures"]`` and
runs every test in the home with ``pytestmark = pytest.mark.usefixtures("cli_home")`` (a plugin's autouse fixture
would reach every module once loaded).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from alpaca_fake import LoopbackServer, TradingApi

from workbench.brokers.alpaca import AlpacaBroker


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``tmp_path`` as ``WORKBENCH_HOME`` and working folder, no other ``WORKBENCH_*`` variable, and the logging
    setup the CLI points at the stderr of the moment put back afterwards."""
    for name in [n for n in os.environ if n.startswith("WORKBENCH_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    yield tmp_path
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)


@pytest.fixture
def loopback_alpaca(cli_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TradingApi]:
    """A `TradingApi` holding 10,000 in cash, SPY quoted at 500, whose keys and URL the CLI's settings hold (the
    broker is still chosen by the test: ``--broker alpaca-paper`` or ``WORKBENCH_BROKER``)."""
    with LoopbackServer() as server:
        trading = TradingApi(server, cash=10_000.0)
        trading.quote("SPY", 500.0)
        for name, value in {
            "ALPACA_API_KEY": server.api_key,
            "ALPACA_SECRET_KEY": server.secret_key,
            "ALPACA_BASE_URL": server.rest_url,
            # the fake listens for websockets on a port of its own (Alpaca: beside the REST API, the default)
            "ALPACA_STREAM_URL": server.ws_url("/stream"),
        }.items():
            monkeypatch.setenv(f"WORKBENCH_{name}", value)
        made = AlpacaBroker.from_settings.__func__
        quick = {"settle_timeout": 2.0}
        monkeypatch.setattr(AlpacaBroker, "from_settings", classmethod(lambda *a, **o: made(*a, **o, **quick)))
        yield trading

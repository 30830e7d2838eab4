"""The trading switches (workbench.services.switches): each switch's store state and audit entry, halting and
resuming every strategy or one, an unknown name refused; and the CLI, the API and the dashboard all flipping them
through it, so the same scenario leaves the same audit entries whichever front end ran it."""

from __future__ import annotations

import doctest
import getpass
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from api_support import make_api
from ui_support import CHEAP, PASSWORD, add_users

from workbench.auth.service import AuthService
from workbench.cli import main
from workbench.services import switches as controls
from workbench.store import Store, StoreError
from workbench.ui.actions import Controls

pytest_plugins = ["store_fixtures", "cli_fixtures"]
T0 = datetime(2024, 7, 1, 14, 30, tzinfo=UTC)
UNKNOWN = "strategy 'nope' is not stored (stored: momentum, rsi, sma_cross)"
#: What the scenario every front end runs leaves in the audit log, oldest first: (action, target, details).
SCENARIO = [
    ("strategy.disable", "strategy:rsi", {"outcome": "success", "enabled": False}),
    ("strategy.enable", "strategy:rsi", {"outcome": "success", "enabled": True}),
    ("trading.halt", "strategy:sma_cross", {"outcome": "success", "reason": "drift", "strategies": ["sma_cross"]}),
    ("trading.resume", "strategy:sma_cross", {"outcome": "success", "strategies": ["sma_cross"]}),
    ("trading.halt", "trading", {"outcome": "success", "reason": "drill", "strategies": ["rsi", "sma_cross"]}),
    ("trading.resume", "trading", {"outcome": "success", "strategies": ["rsi", "sma_cross"]}),
]
SCENARIO_KEYS = {"outcome", "enabled", "reason", "strategies"}


def _seed(store: Store) -> Store:
    """Two strategies switched on (rsi, sma_cross), one off (momentum)."""
    with store.unit_of_work() as uow:
        uow.strategies.add("sma_cross", enabled=True, mode="paper")
        uow.strategies.add("rsi", enabled=True, mode="paper")
        uow.strategies.add("momentum")
    return store


@pytest.fixture
def seeded(store: Store) -> Store:
    return _seed(store)


def _state(store: Store) -> dict[str, tuple[bool, bool, str | None]]:
    """Each strategy's (enabled, halted, halted_reason)."""
    with store.unit_of_work(readonly=True) as uow:
        return {row.name: (row.enabled, row.halted, row.halted_reason) for row in uow.strategies.find()}


def _entries(store: Store, actor: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The audit entries of ``actor``, oldest first, as (action, target, details)."""
    with store.unit_of_work(readonly=True) as uow:
        return [(e.action, e.target, e.details) for e in reversed(uow.audit.find(actor=actor))]


def test_docstring_examples_run() -> None:
    result = doctest.testmod(controls, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_set_enabled_switches_a_strategy_and_audits_it(seeded: Store) -> None:
    with seeded.unit_of_work() as uow:
        row = controls.set_enabled(uow, "momentum", True, "cli:ada")
        assert (row.name, row.enabled) == ("momentum", True)
    assert _state(seeded)["momentum"] == (True, False, None)
    with seeded.unit_of_work() as uow:
        controls.set_enabled(uow, "sma_cross", False, "tom", now=T0, credential="key:wbk_1a2b", source="10.0.0.7")
    assert _state(seeded)["sma_cross"] == (False, False, None)
    assert _entries(seeded, "cli:ada") == [
        ("strategy.enable", "strategy:momentum", {"outcome": "success", "enabled": True})
    ]
    with seeded.unit_of_work(readonly=True) as uow:
        [entry] = uow.audit.find(actor="tom")
    assert (entry.action, entry.target, entry.timestamp) == ("strategy.disable", "strategy:sma_cross", T0)
    assert entry.details == {"outcome": "success", "enabled": False, "credential": "key:wbk_1a2b", "source": "10.0.0.7"}


def test_halt_stops_every_enabled_strategy_once(seeded: Store) -> None:
    with seeded.unit_of_work() as uow:
        assert controls.halt(uow, "drill", "tom") == ["rsi", "sma_cross"]
    assert _state(seeded) == {
        "momentum": (False, False, None),  # switched off: not among those halted
        "rsi": (True, True, "drill (tom)"),
        "sma_cross": (True, True, "drill (tom)"),
    }
    with seeded.unit_of_work() as uow:
        assert controls.halt(uow, "again", "ada") == []  # halted ones keep their reason
    assert _state(seeded)["rsi"] == (True, True, "drill (tom)")
    assert _entries(seeded, "tom") == [
        ("trading.halt", "trading", {"outcome": "success", "reason": "drill", "strategies": ["rsi", "sma_cross"]})
    ]
    assert _entries(seeded, "ada") == [
        ("trading.halt", "trading", {"outcome": "success", "reason": "again", "strategies": []})
    ]


def test_halt_of_one_strategy_touches_no_other(seeded: Store) -> None:
    with seeded.unit_of_work() as uow:
        assert controls.halt(uow, "drift", "cli:ada", "momentum") == ["momentum"]  # switched off or not
    assert _state(seeded) == {
        "momentum": (False, True, "drift (cli:ada)"),
        "rsi": (True, False, None),
        "sma_cross": (True, False, None),
    }
    assert _entries(seeded, "cli:ada") == [
        ("trading.halt", "strategy:momentum", {"outcome": "success", "reason": "drift", "strategies": ["momentum"]})
    ]


def test_resume_lifts_one_halt_or_every_one(seeded: Store) -> None:
    with seeded.unit_of_work() as uow:
        controls.halt(uow, "drill", "tom")
        controls.halt(uow, "drift", "tom", "momentum")
    with seeded.unit_of_work() as uow:
        assert controls.resume(uow, "ada", "rsi") == ["rsi"]
    assert [name for name, (_, halted, _) in _state(seeded).items() if halted] == ["momentum", "sma_cross"]
    with seeded.unit_of_work() as uow:
        assert controls.resume(uow, "ada") == ["momentum", "sma_cross"]
        assert controls.resume(uow, "ada") == []
    assert _state(seeded) == {
        "momentum": (False, False, None),
        "rsi": (True, False, None),
        "sma_cross": (True, False, None),
    }
    assert _entries(seeded, "ada") == [
        ("trading.resume", "strategy:rsi", {"outcome": "success", "strategies": ["rsi"]}),
        ("trading.resume", "trading", {"outcome": "success", "strategies": ["momentum", "sma_cross"]}),
        ("trading.resume", "trading", {"outcome": "success", "strategies": []}),
    ]


@pytest.mark.parametrize(
    "switch",
    [
        lambda uow: controls.set_enabled(uow, "nope", True, "tom"),
        lambda uow: controls.set_enabled(uow, "nope", False, "tom"),
        lambda uow: controls.halt(uow, "drill", "tom", "nope"),
        lambda uow: controls.resume(uow, "tom", "nope"),
    ],
    ids=["enable", "disable", "halt", "resume"],
)
def test_an_unknown_strategy_is_refused_and_nothing_is_written(seeded: Store, switch: Callable[[Any], Any]) -> None:
    before = _state(seeded)
    with pytest.raises(StoreError) as refused, seeded.unit_of_work() as uow:
        switch(uow)
    assert str(refused.value) == UNKNOWN
    assert _state(seeded) == before and _entries(seeded, "tom") == []  # not created, not audited


# --- every front end flips the switches through workbench.services.switches --------------------------------------


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The `workbench.services.switches` switches called, by name, in order (each still does its work)."""
    called: list[str] = []

    def spy(name: str) -> Callable[..., Any]:
        real = getattr(controls, name)

        def switch(*args: Any, **kwargs: Any) -> Any:
            called.append(name)
            return real(*args, **kwargs)

        return switch

    for name in ("set_enabled", "halt", "resume"):
        monkeypatch.setattr(controls, name, spy(name))
    return called


def _scenario(store: Store, actor: str, steps: list[Callable[[], object]], calls: list[str]) -> list[dict[str, Any]]:
    """Run the scenario's ``steps`` (disable rsi, enable it, halt sma_cross for "drift", resume it, halt everything
    for "drill", resume everything), check what they left, and return what the front end added to each entry."""
    *halting, resume_all = steps
    for step in halting:
        step()
    assert _state(store) == {
        "momentum": (False, False, None),
        "rsi": (True, True, f"drill ({actor})"),
        "sma_cross": (True, True, f"drill ({actor})"),
    }
    resume_all()
    assert _state(store) == {
        "momentum": (False, False, None),
        "rsi": (True, False, None),
        "sma_cross": (True, False, None),
    }
    assert calls == ["set_enabled", "set_enabled", "halt", "resume", "halt", "resume"]
    switches = {controls.ENABLE, controls.DISABLE, controls.HALT, controls.RESUME}
    entries = [entry for entry in _entries(store, actor) if entry[0] in switches]  # not the logins
    assert [(action, target, _only(details, SCENARIO_KEYS)) for action, target, details in entries] == SCENARIO
    return [_only(details, set(details) - SCENARIO_KEYS) for _, _, details in entries]


def _only(details: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {k: v for k, v in details.items() if k in keys}


def test_the_cli_flips_the_switches_through_controls(
    cli_home: Path, calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    store = _seed(Store.open(f"sqlite:///{cli_home / 'workbench.db'}"))
    actor = f"cli:{getpass.getuser()}"

    def run(*argv: str) -> Callable[[], None]:
        def command() -> None:
            assert main(list(argv)) == 0, capsys.readouterr().err

        return command

    steps = [
        run("strategies", "disable", "rsi"),
        run("strategies", "enable", "rsi"),
        run("halt", "--reason", "drift", "--strategy", "sma_cross"),
        run("resume", "--strategy", "sma_cross"),
        run("halt", "--reason", "drill"),
        run("resume"),
    ]
    assert _scenario(store, actor, steps, calls) == [{}] * len(SCENARIO)  # the CLI adds nothing
    assert capsys.readouterr().out.splitlines()[-2:] == ["halted: rsi, sma_cross", "resumed: rsi, sma_cross"]
    assert main(["strategies", "enable", "nope"]) == 1  # refused, not created
    assert capsys.readouterr().err == f"error: {UNKNOWN}\n"
    assert "nope" not in _state(store)


def test_the_api_flips_the_switches_through_controls(tmp_path: Path, calls: list[str]) -> None:
    api = make_api(tmp_path)
    _seed(api.store)
    trader = api.key("trader")

    def post(path: str, body: dict[str, str] | None = None) -> Callable[[], None]:
        def send() -> None:
            response = api.client.post(f"/api/v1{path}", json=body, headers=trader)
            assert response.status_code == 200, response.text

        return send

    steps = [
        post("/strategies/rsi/disable"),
        post("/strategies/rsi/enable"),
        post("/strategies/sma_cross/halt", {"reason": "drift"}),
        post("/strategies/sma_cross/resume"),
        post("/risk/halt", {"reason": "drill"}),
        post("/risk/resume"),
    ]
    extra = _scenario(api.store, "tom", steps, calls)
    assert {(e["credential"][:8], e["source"]) for e in extra} == {("key:wbk_", "testclient")}
    with api.store.unit_of_work(readonly=True) as uow:
        assert {entry.timestamp for entry in uow.audit.find(actor="tom")} == {api.clock.now()}  # the API's clock
    assert api.client.post("/api/v1/strategies/nope/enable", headers=trader).status_code == 404
    assert "nope" not in _state(api.store)
    entries = _entries(api.store, "tom")
    assert len(entries) == len(SCENARIO) + 1  # the refusal is audited, as the dashboard audits one
    action, where, details = entries[-1]
    assert (action, where, details["outcome"]) == ("strategy.enable", "strategy:nope", "failure")
    assert details["reason"] == "strategy 'nope' is not stored"


def test_the_dashboard_flips_the_switches_through_controls(store: Store, calls: list[str]) -> None:
    _seed(store)
    add_users(store)
    auth = AuthService(store, CHEAP)
    dashboard = Controls(store, auth, auth.login("tom", PASSWORD).access_token, source="10.0.0.7")
    steps = [
        lambda: dashboard.set_enabled("rsi", False),
        lambda: dashboard.set_enabled("rsi", True),
        lambda: dashboard.halt("drift", "sma_cross"),
        lambda: dashboard.resume("sma_cross"),
        lambda: dashboard.halt("drill"),
        lambda: dashboard.resume(),
    ]
    extra = _scenario(store, "tom", steps, calls)
    assert {(e["credential"].split(":")[0], e["source"]) for e in extra} == {("session", "10.0.0.7")}


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201, "line\nbreak"])
def test_a_bad_halt_reason_is_refused_alike_everywhere(seeded: Store, tmp_path: Path, reason: str) -> None:
    before = _state(seeded)
    refused = pytest.raises(ValueError, match="a halt needs a reason of 1 to 200 characters, none a control")
    with refused, seeded.unit_of_work() as uow:
        controls.halt(uow, reason, "tom")
    assert _state(seeded) == before and _entries(seeded, "tom") == []
    api = make_api(tmp_path)
    _seed(api.store)
    response = api.client.post("/api/v1/risk/halt", json={"reason": reason}, headers=api.key("trader"))
    assert response.status_code == 422 and not any(halted for _, halted, _ in _state(api.store).values())


def test_a_halt_reason_is_kept_trimmed(seeded: Store) -> None:
    with seeded.unit_of_work() as uow:
        controls.halt(uow, "  drill \t", "tom", "sma_cross")
    assert _state(seeded)["sma_cross"][2] == "drill (tom)"
    [(_, _, details)] = _entries(seeded, "tom")
    assert details["reason"] == "drill"

"""The house rules, checked on the package's own import graph (``import_graph.py``; every import counts, also inside
functions and under ``TYPE_CHECKING``): no import circles, no room importing a room of a higher layer, the API and the
dashboard both on the services layer and neither on the other, no room taking another room's private names, and no
production module importing the users' test kit. A new module or room must be given its layer here."""

from __future__ import annotations

from pathlib import Path

import pytest
from import_graph import Graph

import workbench

PACKAGE = Path(workbench.__file__).parent
#: Each room (a subpackage or top-level module of ``workbench``) and its layer: a room imports only rooms of its own
#: layer or below. See ../shared/DESIGN.md ("Layout").
LAYERS = {
    # 0: foundations, numba kernels and their drivers, bars, strategies
    "errors": 0,
    "config": 0,
    "clock": 0,
    "logs": 0,
    "engine": 0,
    "data": 0,
    "strategies": 0,
    # 1: the trading domain and its adapters
    "ports": 1,
    "orders": 1,
    "risk": 1,
    "brokers": 1,
    "cache": 1,
    # 2: persistence
    "store": 2,
    # 3: what runs on them
    "trading": 3,
    "research": 3,
    "provenance": 3,
    "ops": 3,
    "notify": 3,
    "monitor": 3,
    "auth": 3,
    "reports": 3,
    "schedule": 3,
    # 4: the one command/query surface of the faces
    "services": 4,
    # 5: the faces
    "api": 5,
    "ui": 5,
    "cli": 5,
    "widgets": 5,
}
#: The test kit users test their own strategies with: imported by no production module.
KIT = "testing"
#: Faces that must not lean on each other (the command line may start either).
SIBLINGS = {"api": "ui", "ui": "api"}


def room(module: str) -> str:
    """``workbench.trading.live`` -> ``trading``; the package itself (its lazy public names) -> ``workbench``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


@pytest.fixture(scope="module")
def graph() -> Graph:
    return Graph.of(PACKAGE, "workbench")


def production(graph: Graph) -> list:
    """The imports made by production modules (not the test kit, not the package's own public-name table)."""
    return [i for i in graph.imports if room(i.importer) not in (KIT, "workbench")]


def test_there_are_no_import_circles(graph: Graph) -> None:
    assert graph.circles() == []


def test_every_room_has_a_layer(graph: Graph) -> None:
    rooms = {room(m) for m in graph.modules} - {KIT, "workbench"}
    assert sorted(rooms - set(LAYERS)) == []


def test_no_room_imports_a_higher_layer(graph: Graph) -> None:
    breaks = [
        f"{i.importer}:{i.line} imports {i.imported} ({room(i.importer)} is layer {LAYERS[room(i.importer)]}, "
        f"{room(i.imported)} layer {LAYERS[room(i.imported)]})"
        for i in production(graph)
        if room(i.imported) in LAYERS and LAYERS[room(i.imported)] > LAYERS[room(i.importer)]
    ]
    assert breaks == []


def test_the_api_and_the_dashboard_sit_on_services_not_on_each_other(graph: Graph) -> None:
    leaning = [
        f"{i.importer}:{i.line} imports {i.imported}"
        for i in graph.imports
        if SIBLINGS.get(room(i.importer)) == room(i.imported)
    ]
    assert leaning == []


def test_no_room_takes_another_rooms_private_names(graph: Graph) -> None:
    reaching = [
        f"{i.importer}:{i.line} takes {', '.join(i.names)} from {i.imported}"
        for i in production(graph)
        if room(i.importer) != room(i.imported) and any(n.startswith("_") for n in i.names)
    ]
    assert reaching == []


def test_production_code_never_imports_the_test_kit(graph: Graph) -> None:
    assert [f"{i.importer}:{i.line}" for i in production(graph) if room(i.imported) == KIT] == []


def test_the_checks_catch_a_circle_a_break_and_a_reach_in(tmp_path: Path) -> None:
    """The graph the rules read sees what they forbid: a circle through a function-level import, a lower room
    importing a higher one under TYPE_CHECKING, and a private name taken from another room."""
    pkg = tmp_path / "demo"
    (pkg / "low").mkdir(parents=True)
    (pkg / "high").mkdir()
    for folder in (pkg, pkg / "low", pkg / "high"):
        (folder / "__init__.py").write_text("")
    (pkg / "low" / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from demo.high.b import B\n"
    )
    (pkg / "high" / "b.py").write_text("from demo.low import a\nfrom demo.low.c import _secret\nclass B: ...\n")
    (pkg / "low" / "c.py").write_text("_secret = 1\ndef f():\n    from demo.low import d\n")
    (pkg / "low" / "d.py").write_text("from .c import f\n")
    demo = Graph.of(pkg, "demo")
    assert demo.circles() == [["demo.high.b", "demo.low.a"], ["demo.low.c", "demo.low.d"]]
    taken = [(i.importer, i.names) for i in demo.imports if any(n.startswith("_") for n in i.names)]
    assert taken == [("demo.high.b", ("_secret",))]
    assert ("demo.low.a", "demo.high.b") in {(i.importer, i.imported) for i in demo.imports}

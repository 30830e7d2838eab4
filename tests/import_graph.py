"""The package's import graph, read from its source with ``ast``: every ``import`` and ``from ... import`` of the
package's own modules, wherever it stands (module level, inside a function, under ``if TYPE_CHECKING``), since each
is a dependency of one module on another. Used by ``test_architecture.py`` to keep the house in order."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Import:
    """One import of a package module by another: where it stands and what it names."""

    importer: str
    imported: str
    line: int
    names: tuple[str, ...] = ()


@dataclass
class Graph:
    """Modules of one package (dotted names) and the imports between them."""

    modules: dict[str, Path] = field(default_factory=dict)
    imports: list[Import] = field(default_factory=list)

    @classmethod
    def of(cls, root: Path, package: str) -> Graph:
        """The graph of ``package``, whose folder is ``root``."""
        graph = cls()
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join((package, *parts))
            graph.modules[name.removesuffix(".__init__")] = path
        for name, path in graph.modules.items():
            graph.imports.extend(graph._imports_of(name, path, package))
        return graph

    def edges(self) -> dict[str, set[str]]:
        """Importer -> the modules it imports (itself excluded)."""
        out: dict[str, set[str]] = {name: set() for name in self.modules}
        for item in self.imports:
            if item.imported != item.importer:
                out[item.importer].add(item.imported)
        return out

    def circles(self) -> list[list[str]]:
        """Every set of modules that import each other, directly or through others (strongly connected
        components of more than one module), each sorted."""
        edges, index, low, stack, on_stack, found = self.edges(), {}, {}, [], set(), []

        def visit(start: str) -> None:  # Tarjan's algorithm, iterative (no recursion limit)
            work = [(start, iter(sorted(edges[start])))]
            index[start] = low[start] = len(index)
            stack.append(start)
            on_stack.add(start)
            while work:
                node, children = work[-1]
                child = next(children, None)
                if child is not None:
                    if child not in index:
                        index[child] = low[child] = len(index)
                        stack.append(child)
                        on_stack.add(child)
                        work.append((child, iter(sorted(edges[child]))))
                    elif child in on_stack:
                        low[node] = min(low[node], index[child])
                    continue
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

        for name in sorted(edges):
            if name not in index:
                visit(name)
        return sorted(found)

    def _resolve(self, dotted: str) -> str | None:
        """The package module ``dotted`` names: itself, or the longest module it starts with."""
        while dotted:
            if dotted in self.modules:
                return dotted
            dotted = dotted.rpartition(".")[0]
        return None

    def _imports_of(self, name: str, path: Path, package: str) -> Iterator[Import]:
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    target = self._resolve(alias.name) if alias.name.split(".")[0] == package else None
                    if target is not None:
                        yield Import(name, target, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the importer's package
                    here = name.split(".") if is_package else name.split(".")[:-1]
                    here = here[: len(here) - node.level + 1]
                    base = ".".join([*here, base] if base else here)
                if base.split(".")[0] != package:
                    continue
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    if submodule in self.modules:  # `from package import module`
                        yield Import(name, submodule, node.lineno)
                    else:
                        target = self._resolve(base)
                        if target is not None:
                            yield Import(name, target, node.lineno, (alias.name,))

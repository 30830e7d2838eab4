"""``.. workbench-public-api::``: an autodoc entry for every name of ``workbench.__all__`` (the notebook API), so a
name added to the package appears in the reference without editing the docs."""

from __future__ import annotations

import inspect
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles


def _directive(name: str, value: Any) -> str | None:
    if inspect.isclass(value):
        return "autoexception" if issubclass(value, BaseException) else "autoclass"
    if callable(value):
        return "autofunction"
    return None  # modules (widgets) and data (__version__) have pages of their own or none


class PublicApiDirective(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        import workbench

        lines: list[str] = []
        for name in workbench.__all__:
            if name.startswith("_"):
                continue
            kind = _directive(name, getattr(workbench, name))
            if kind is None:
                continue
            lines += [f".. {kind}:: workbench.{name}", *(["   :members:"] if kind != "autofunction" else []), ""]
        # The page is Markdown: its parser reads nested text, and autodoc's output is reStructuredText.
        lines = ["```{eval-rst}", *lines, "```"]
        container = nodes.container()
        nested_parse_with_titles(self.state, StringList(lines, source="workbench.__all__"), container)
        return container.children


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("workbench-public-api", PublicApiDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

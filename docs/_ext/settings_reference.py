"""``.. workbench-settings::``: every field of ``workbench.config.Settings`` with its type, default, environment
variable, constraints and the ``#:`` comment above it in the source, read from the model itself."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from docutils import nodes
from pydantic_core import PydanticUndefined
from sphinx.application import Sphinx
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective
from tables import code, table

_CONSTRAINTS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


def _type_name(annotation: Any) -> str:
    """``Literal['a', 'b']`` -> ``'a' | 'b'``; module prefixes dropped."""
    text = repr(annotation) if not isinstance(annotation, type) else annotation.__name__
    text = re.sub(r"\b(?:typing|pathlib|pydantic\.types|workbench\.config)\.", "", text)
    text = re.sub(r"Literal\[([^\]]*)\]", lambda m: " | ".join(v.strip() for v in m.group(1).split(",")), text)
    text = re.sub(r"Union\[([^\[\]]*)\]", lambda m: " | ".join(v.strip() for v in m.group(1).split(",")), text)
    return text.replace("NoneType", "None")


def _default(field: Any) -> str:
    if field.default_factory is not None:
        return repr(field.default_factory())
    if field.default is PydanticUndefined:
        return "required"
    return str(field.default) if isinstance(field.default, Path) else repr(field.default)


def _constraints(field: Any) -> str:
    out = []
    for meta in field.metadata:
        for name, op in _CONSTRAINTS.items():
            value = getattr(meta, name, None)
            if value is not None:
                out.append(f"{op} {value}")
    return ", ".join(out)


class SettingsDirective(SphinxDirective):
    """One row per setting."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from workbench.config import ENV_PREFIX, Settings

        comments = ModuleAnalyzer.for_module("workbench.config").find_attr_docs()
        rows = []
        for name, field in Settings.model_fields.items():
            doc = " ".join(" ".join(comments.get(("Settings", name), [])).split())
            limits = _constraints(field)
            what = doc + (f" ({limits})" if limits else "")
            cell = nodes.container()
            cell += code(name)
            cell += code(f"{ENV_PREFIX}{name.upper()}")
            rows.append([cell, code(_type_name(field.annotation)), code(_default(field)), what])
        return [table(["setting / env variable", "type", "default", "what"], rows, [28, 22, 15, 35])]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("workbench-settings", SettingsDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""``.. workbench-openapi::``: the REST API from the OpenAPI schema the FastAPI app itself serves
(``create_app(...).openapi()``, built over an in-memory store): every route with its parameters, body, responses
and roles' security, then every schema with its fields."""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from tables import code, paragraph, table

_METHODS = ("get", "post", "put", "patch", "delete")


def openapi_schema() -> dict[str, Any]:
    """The schema of ``workbench.api.create_app`` over an empty in-memory SQLite store."""
    from workbench.api import create_app
    from workbench.store import Store

    return create_app(Store.open("sqlite://")).openapi()


def type_of(schema: dict[str, Any]) -> str:
    """A short spelling of a JSON schema: ``OrderOut``, ``list[RunOut]``, ``string | null``, ``'buy' | 'sell'``."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(type_of(s) for s in schema[key])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list[{type_of(schema.get('items', {}))}]"
    if kind == "object" and "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        return f"dict[str, {type_of(extra) if isinstance(extra, dict) else 'any'}]"
    return kind


def _body_types(content: dict[str, Any]) -> str:
    return ", ".join(f"{kind}: {type_of(media.get('schema', {}))}" for kind, media in content.items())


def _section(ident: str, title: str) -> nodes.section:
    section = nodes.section(ids=[nodes.make_id(ident)], names=[nodes.fully_normalize_name(ident)])
    section += nodes.title(title, "", nodes.literal(title, title))
    return section


class OpenApiDirective(SphinxDirective):
    """Routes in the order the app declares them, then the schemas by name."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        spec = openapi_schema()
        out: list[nodes.Node] = [paragraph(f"{spec['info']['title']}, version {spec['info']['version']}.")]
        for block in spec["info"].get("description", "").strip().split("\n\n"):
            out.append(paragraph(" ".join(block.split())))
        for path, operations in spec["paths"].items():
            for method in _METHODS:
                if method in operations:
                    out.append(self._operation(method, path, operations[method]))
        schemas = _section("openapi-schemas", "Schemas")
        for name, schema in sorted(spec["components"]["schemas"].items()):
            schemas += self._schema(name, schema)
        out.append(schemas)
        return out

    def _operation(self, method: str, path: str, op: dict[str, Any]) -> nodes.section:
        title = f"{method.upper()} {path}"
        section = _section("api-" + title, title)
        for block in (op.get("description") or op.get("summary") or "").split("\n\n"):
            if block.strip():
                section += paragraph(" ".join(block.split()))
        auth = "none" if not op.get("security") else " or ".join(next(iter(s)) for s in op["security"])
        section += paragraph(f"Authentication: {auth}; tags: {', '.join(op.get('tags', []))}.")
        params = op.get("parameters", [])
        if params:
            rows = [
                [
                    code(p["name"]),
                    p["in"],
                    code(type_of(p.get("schema", {}))),
                    "yes" if p.get("required") else "no",
                    p.get("description", ""),
                ]
                for p in params
            ]
            section += table(["parameter", "in", "type", "required", "what"], rows, [18, 10, 20, 10, 42])
        if "requestBody" in op:
            section += paragraph(f"Request body: `{_body_types(op['requestBody'].get('content', {}))}`.")
        rows = []
        for status, response in op.get("responses", {}).items():
            content = response.get("content", {})
            rows.append([code(status), response.get("description", ""), code(_body_types(content)) if content else ""])
        section += table(["status", "meaning", "body"], rows, [10, 50, 40])
        return section

    def _schema(self, name: str, schema: dict[str, Any]) -> nodes.section:
        section = _section("schema-" + name, name)
        if schema.get("description"):
            section += paragraph(" ".join(schema["description"].split()))
        required = set(schema.get("required", []))
        rows = [
            [
                code(field),
                code(type_of(spec)),
                "yes" if field in required else "no",
                spec.get("description", "") + (f" Default: `{spec['default']!r}`." if "default" in spec else ""),
            ]
            for field, spec in schema.get("properties", {}).items()
        ]
        if rows:
            section += table(["field", "type", "required", "what"], rows, [20, 25, 10, 45])
        return section


def setup(app: Sphinx) -> dict[str, Any]:
    # Import FastAPI before autodoc inspects any pydantic model: imported afterwards in the same process, FastAPI's
    # own models fail to build (pydantic: "The type annotation for `__pydantic_extra__` must be `dict[str, ...]`").
    import workbench.api.app  # noqa: F401

    app.add_directive("workbench-openapi", OpenApiDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""Docutils nodes the reference directives build: tables of text, paragraphs with ``code`` spans."""

from __future__ import annotations

import re
from collections.abc import Sequence

from docutils import nodes

_CODE = re.compile(r"``(.+?)``|`([^`]+)`")


def text(value: str) -> list[nodes.Node]:
    """``value`` as inline nodes: spans in backticks (single or double) become literals, the rest plain text."""
    out: list[nodes.Node] = []
    last = 0
    for match in _CODE.finditer(value):
        if match.start() > last:
            out.append(nodes.Text(value[last : match.start()]))
        code = match.group(1) or match.group(2)
        out.append(nodes.literal(code, code))
        last = match.end()
    if last < len(value):
        out.append(nodes.Text(value[last:]))
    return out


def paragraph(value: str) -> nodes.paragraph:
    return nodes.paragraph("", "", *text(value))


def table(header: Sequence[str], rows: Sequence[Sequence[str | nodes.Node]], widths: Sequence[int]) -> nodes.table:
    """A table of ``rows`` (strings become paragraphs with code spans; nodes are placed as they are)."""
    group = nodes.tgroup(cols=len(header))
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    head += _row(header)
    body = nodes.tbody()
    for row in rows:
        body += _row(row)
    group += head
    group += body
    result = nodes.table(classes=["wb-reference", "colwidths-given"])  # the widths below as percentages
    result += group
    return result


def _row(cells: Sequence[str | nodes.Node]) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        entry = nodes.entry()
        entry += cell if isinstance(cell, nodes.Node) else paragraph(cell)
        row += entry
    return row


def code(value: str) -> nodes.paragraph:
    """A paragraph holding one literal: an option's spelling, a type, a default."""
    return nodes.paragraph("", "", nodes.literal(value, value))

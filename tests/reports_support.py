"""Helpers that read a generated report back: its HTML tables and the arrays inside its Bokeh documents."""

from __future__ import annotations

import base64
import gzip
import json
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd


class _TableReader(HTMLParser):
    """Collects the rows of cell texts of one ``<table id=...>`` (tables in a report are not nested)."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.inside, self.rows, self.cell = table_id, False, [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("th", "td"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("th", "td") and self.cell is not None:
            self.rows[-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def html_table(page: str, table_id: str) -> pd.DataFrame:
    """The cells of ``<table id=table_id>`` as text, the first row as column names."""
    reader = _TableReader(table_id)
    reader.feed(page)
    assert reader.rows, f"no table with id {table_id!r}"
    return pd.DataFrame(reader.rows[1:], columns=reader.rows[0])


def shown_number(text: str) -> tuple[float, float]:
    """A displayed number and the step of its last digit: ``"81.81%"`` -> (0.8181, 0.0001)."""
    special = {"n/a": float("nan"), "no losing trade": float("inf"), "∞": float("inf"), "-∞": float("-inf")}
    if text in special:
        return special[text], 0.0
    percent = text.endswith("%")
    digits = text.rstrip("%").replace(",", "")
    decimals = len(digits.partition(".")[2])
    scale = 100.0 if percent else 1.0
    return float(digits) / scale, 10.0**-decimals / scale


def html_metrics(page: str) -> pd.DataFrame:
    """The report's metrics table: (value, display step) per metric (rows) and column."""
    table = html_table(page, "metrics")
    return table.set_index(table.columns[0]).map(shown_number)


def bokeh_arrays(page: str) -> list[np.ndarray]:
    """Every numeric array serialized in the page's Bokeh documents (base64, possibly gzip-compressed)."""
    arrays = []
    for docs in re.findall(r"const docs_json = '(.*?)';\n", page):
        _collect(json.loads(docs), arrays)
    return arrays


def _collect(node, out: list[np.ndarray]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "ndarray" and isinstance(node.get("array"), dict):
            raw = base64.b64decode(node["array"]["data"])
            raw = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
            out.append(np.frombuffer(raw, dtype=node["dtype"]).astype(np.float64))
            return
        for value in node.values():
            _collect(value, out)
    elif isinstance(node, list):
        for value in node:
            _collect(value, out)


def has_array(arrays: list[np.ndarray], expected: np.ndarray, sort: bool = False, unique: bool = False) -> bool:
    """Whether some array equals ``expected`` (to 1e-12), or, with ``sort``, holds the same finite values."""
    expected = np.asarray(expected, dtype=np.float64)

    def values(a: np.ndarray) -> np.ndarray:
        if not sort:
            return a
        a = np.sort(a[np.isfinite(a)])
        return np.unique(a) if unique else a

    want = values(expected)
    return any(
        a.shape == want.shape and np.allclose(a, want, rtol=1e-12, atol=0.0, equal_nan=True)
        for a in map(values, arrays)
    )

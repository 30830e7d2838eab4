"""Domain objects (orders, fills) as DataFrames for results and reports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from enum import StrEnum
from typing import Any

import pandas as pd


def records_frame(items: Iterable[Any]) -> pd.DataFrame:
    """Orders or fills as a DataFrame, one column per field (enums as their string values)."""
    items = list(items)
    if not items:
        return pd.DataFrame()
    names = [f.name for f in fields(items[0])]
    frame = pd.DataFrame([[getattr(item, name) for name in names] for item in items], columns=names)
    for name in names:
        if isinstance(getattr(items[0], name), StrEnum):
            frame[name] = frame[name].map(str)
    return frame

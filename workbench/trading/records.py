"""Domain objects (orders, fills) as DataFrames for results and reports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from enum import StrEnum
from functools import cached_property
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


class RecordFrames:
    """``orders`` and ``fills`` tables of a result, built from its ``order_records``/``fill_records`` on first
    use: a backtest pays for the DataFrames only when someone looks at them."""

    order_records: list[Any]
    fill_records: list[Any]

    @cached_property
    def orders(self) -> pd.DataFrame:
        """Every order sent, one row each (see ``orders.model.Order``)."""
        return records_frame(self.order_records)

    @cached_property
    def fills(self) -> pd.DataFrame:
        """Every fill, one row each (see ``orders.model.Fill``)."""
        return records_frame(self.fill_records)

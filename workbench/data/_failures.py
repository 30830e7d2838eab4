"""Build `DataValidationError`s naming the symbol, the failed rules, their counts and the first bad rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np
import pandas as pd

from workbench.errors import DataValidationError

#: How many offending rows an error message shows per rule.
SHOWN_ROWS = 5


@dataclass(frozen=True)
class Failure:
    """One failed rule: its stable name, how many rows (or columns) fail it, and the first ones described."""

    rule: str
    count: int
    detail: str
    unit: str = "row"

    def __str__(self) -> str:
        plural = "" if self.count == 1 else "s"
        return f"rule {self.rule} failed on {self.count} {self.unit}{plural}; {self.detail}"


def validation_error(symbol: str, failures: Sequence[Failure]) -> DataValidationError:
    """Return one error for all `failures` (at least one), with `symbol`, `rule`, `count` and `failures` set.

    `rule` and `count` describe the first failure; `failures` maps every failed rule to its count.
    """
    err = DataValidationError(f"{symbol}: " + "; ".join(str(f) for f in failures))
    # errors.py stays generic, so the structured fields are attached to the instance here.
    vars(err).update(
        symbol=symbol,
        rule=failures[0].rule,
        count=failures[0].count,
        failures={f.rule: f.count for f in failures},
    )
    return err


def format_timestamp(ts: pd.Timestamp) -> str:
    """Format a UTC timestamp as ``YYYY-MM-DD`` at midnight (daily bars), else ISO 8601 with ``Z``."""
    if ts == ts.normalize():
        return ts.strftime("%Y-%m-%d")
    return ts.tz_convert("UTC").tz_localize(None).isoformat() + "Z"


def first(items: Iterable[str], total: int) -> str:
    """Join the first `SHOWN_ROWS` of `items` (descriptions of `total` offenders) as ``first: a, b, ...``."""
    shown = list(islice(items, SHOWN_ROWS))
    return "first: " + ", ".join(shown) + (", ..." if total > len(shown) else "")


def first_rows(frame: pd.DataFrame, mask: np.ndarray, columns: Sequence[str]) -> str:
    """Describe the first rows of `frame` where `mask` is true as ``first: <ts> col=value ..., ...``."""
    rows = frame.loc[mask, list(columns)].head(SHOWN_ROWS)
    described = (
        " ".join([format_timestamp(ts), *(f"{col}={float(value)!r}" for col, value in row.items())])
        for ts, row in rows.iterrows()
    )
    return first(described, int(mask.sum()))

"""Exception types raised at the edges of the workbench, each naming the field, value and expectation."""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose (the CLI prints these as one line)."""


class ConfigError(WorkbenchError):
    """A setting has a bad value, names an unknown key, or a profile's preconditions are not met."""


class DataValidationError(WorkbenchError):
    """Bars violate the canonical schema (ordering, OHLC consistency, finiteness, ...)."""


class DataNotFoundError(WorkbenchError):
    """A requested symbol, file or folder does not exist in the chosen data source."""

"""Structured logging set up once per process: console lines for people, JSON lines for machines."""

from __future__ import annotations

import logging
import sys

import structlog

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


_CHATTY = ("alembic", "numba", "bokeh", "asyncio", "urllib3")


def configure_logging(level: str = "INFO", *, json: bool = False, stream=None) -> None:
    """Route structlog and stdlib logging through one handler at ``level``.

    Calling it again replaces the previous setup (the CLI calls it once per command).

    Examples
    --------
    >>> configure_logging("DEBUG", json=True)
    >>> get_logger("workbench.data").info("loaded", symbol="SPY", rows=6642)  # doctest: +SKIP
    """
    level = level.upper()
    if level not in _LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(_LEVELS)}")
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    # JSON lines carry a traceback as text; the console renderer formats exceptions itself.
    tracebacks = [structlog.processors.format_exc_info] if json else []
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tracebacks, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _CHATTY:  # libraries whose INFO lines are their own bookkeeping
        logging.getLogger(name).setLevel(level if level == "DEBUG" else "WARNING")
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (test runners and notebooks swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structured logger named after the module that uses it."""
    return structlog.get_logger(name)

"""Structured logging set up once per process: console lines for people, JSON lines for machines.

* `configure_logging` routes structlog and stdlib logging to the console (text, or JSON with ``json=True``)
  and, with ``file=``, to a JSON-lines file as well (rotated at 20 MB, 5 kept).
* `bind_context` / `bound_context` put ids (run, session, strategy, order) into every line logged from the
  current thread or task afterwards (structlog context variables: a new thread starts without them).
* Quiet by default: below DEBUG (``--verbose``), the console shows no third-party noise: no Python warnings
  raised outside ``workbench`` (nbconvert's, pandas', ...), no bookkeeping INFO lines of chatty libraries
  (papermill's "Input Notebook", ...), and no tracebacks of a browser tab that closed its websocket.
* Secrets never reach a line: values of fields named like a secret (``password``, ``token``, ``*_key``,
  ``secret``, ...) are replaced by ``**********``, and so is every occurrence of a configured secret value
  (`secret_values` of the settings) and the password of any ``scheme://user:password@host`` URL, in the
  message, in every field and in tracebacks.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import structlog

if TYPE_CHECKING:
    from workbench.config import Settings

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_CHATTY = (
    "alembic",
    "numba",
    "bokeh",
    "asyncio",
    "urllib3",
    "apprise",
    "papermill",
    "traitlets",
    "nbconvert",
    "tornado",
)
#: Exceptions that only say a browser tab went away while the server wrote to it (a dashboard tab closed).
_CLOSED_TAB = ("WebSocketClosedError", "StreamClosedError")
_PACKAGE = str(Path(__file__).resolve().parent)
MASK = "**********"
#: Field names whose values are always masked. A bare ``key`` is not among them: it names cache keys.
SECRET_FIELD = re.compile(r"secret|passw(or)?d|token|authorization|credential|api_?key|private_?key|_key$", re.I)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@", re.I)
#: Configured secrets shorter than this are not searched for in text (they would mask ordinary words).
MIN_SECRET_LEN = 6
_FILE_BYTES, _FILE_BACKUPS = 20_000_000, 5


def configure_logging(
    level: str = "INFO",
    *,
    json: bool = False,
    stream: TextIO | None = None,
    file: str | Path | None = None,
    secrets: Iterable[str] = (),
) -> None:
    """Route structlog and stdlib logging through one console handler (and a JSON file) at ``level``.

    Calling it again replaces the previous setup (the CLI calls it once per command).

    Parameters
    ----------
    level
        DEBUG, INFO, WARNING or ERROR (any case).
    json
        JSON lines on the console instead of text.
    stream
        Console stream; by default whatever ``sys.stderr`` is when a line is written.
    file
        Also append JSON lines to this file (its folder is created).
    secrets
        Values masked wherever they appear (see `secret_values`).

    Examples
    --------
    >>> configure_logging("DEBUG", json=True, file="~/.workbench/logs/workbench.jsonl")  # doctest: +SKIP
    >>> bind_context(run_id=42, strategy="sma_cross")  # doctest: +SKIP
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
    console = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    if level != "DEBUG":
        console.addFilter(ThirdPartyNoise())
    logging.captureWarnings(False)  # forget an earlier capture whose showwarning someone else has replaced since
    logging.captureWarnings(True)  # warnings become py.warnings records: filtered, redacted, in the log file too
    handlers: list[logging.Handler] = [console]
    renderers: list[Any] = [_json_renderer() if json else structlog.dev.ConsoleRenderer(colors=False)]
    if file is not None:
        path = Path(file).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(_LogFile(path, maxBytes=_FILE_BYTES, backupCount=_FILE_BACKUPS, encoding="utf-8"))
        renderers.append(_json_renderer())
    redact = Redactor(secrets)
    for handler, renderer in zip(handlers, renderers, strict=True):
        # Tracebacks become text before redaction, so a secret in an exception message is masked too.
        handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=shared,
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    redact,
                    renderer,
                ],
            )
        )
    root = logging.getLogger()
    for old in root.handlers:
        if isinstance(old, _LogFile):  # a file of the previous setup
            old.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in _CHATTY:  # libraries whose INFO lines are their own bookkeeping
        logging.getLogger(name).setLevel(level if level == "DEBUG" else "WARNING")
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


class ThirdPartyNoise(logging.Filter):
    """Drops what a user did not ask to see and cannot act on: a Python warning raised outside ``workbench``, and
    a traceback that only says a browser tab closed its websocket while the server wrote to it.

    Examples
    --------
    >>> noise = ThirdPartyNoise()
    >>> text = "/venv/nbconvert/a.py:3: UserWarning: hm"
    >>> noise.filter(logging.LogRecord("py.warnings", logging.WARNING, "", 0, text, (), None))
    False
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "py.warnings":
            return _PACKAGE in str(record.msg)
        if record.exc_info and record.exc_info[0] is not None:
            return record.exc_info[0].__name__ not in _CLOSED_TAB
        return not any(name in str(record.msg) for name in _CLOSED_TAB)


def _json_renderer() -> structlog.processors.JSONRenderer:
    return structlog.processors.JSONRenderer(default=str)  # datetimes, paths, enums as text, never an error


class Redactor:
    """A structlog processor masking secrets: fields named like one, configured values, URL passwords.

    Examples
    --------
    >>> redact = Redactor(["hunter22"])
    >>> redact(None, "info", {"event": "login with hunter22", "api_token": "abc", "url": "redis://u:pw@h:6379/0"})
    {'event': 'login with **********', 'api_token': '**********', 'url': 'redis://u:**********@h:6379/0'}
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LEN}, key=len, reverse=True)
        self._values = re.compile("|".join(map(re.escape, values))) if values else None

    def __call__(self, logger: Any, method: str, event_dict: Mapping[str, Any]) -> dict[str, Any]:
        return {k: MASK if v is not None and SECRET_FIELD.search(k) else self._scrub(v) for k, v in event_dict.items()}

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            value = _URL_PASSWORD.sub(rf"\g<head>{MASK}@", value)
            return value if self._values is None else self._values.sub(MASK, value)
        if isinstance(value, Mapping):
            return self(None, "", value)
        if isinstance(value, list | tuple):
            return type(value)(self._scrub(v) for v in value)
        return value


def secret_values(settings: Settings) -> list[str]:
    """Every secret of ``settings``: the values of its secret fields and the passwords in its URLs.

    Examples
    --------
    >>> from workbench.config import load_settings
    >>> secret_values(load_settings(env={"WORKBENCH_API_SECRET": "s3cret-value"}))
    ['s3cret-value']
    """
    from urllib.parse import unquote, urlsplit

    from pydantic import SecretStr

    found = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, str) and "://" in value:
            password = urlsplit(value).password
            if password:
                found.append(unquote(password))
    return found


def bind_context(**ids: Any) -> None:
    """Add ``ids`` (run_id, session_id, strategy, order_id, ...) to every line logged afterwards from this
    thread or asyncio task; None removes one.

    Examples
    --------
    >>> bind_context(run_id=42, strategy="sma_cross")
    >>> clear_context()
    """
    structlog.contextvars.bind_contextvars(**{k: v for k, v in ids.items() if v is not None})
    structlog.contextvars.unbind_contextvars(*(k for k, v in ids.items() if v is None))


def clear_context() -> None:
    """Remove every id `bind_context` added in this thread or task."""
    structlog.contextvars.clear_contextvars()


@contextmanager
def bound_context(**ids: Any) -> Iterator[None]:
    """Add ``ids`` to the lines logged inside the block only (an order's id while it is handled).

    Examples
    --------
    >>> with bound_context(order_id="3f2a"):
    ...     get_logger("workbench.orders").info("sent")  # doctest: +SKIP
    """
    with structlog.contextvars.bound_contextvars(**ids):
        yield


class _LogFile(logging.handlers.RotatingFileHandler):
    """The JSON-lines file of `configure_logging` (closed when a new setup replaces it)."""


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

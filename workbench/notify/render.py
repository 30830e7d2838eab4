"""`Renderer`: a `Notice` as a `Message` (subject, plain text, HTML) from jinja2 templates people can override.

Per notice kind, ``<kind>.txt`` renders the text: its first line is the subject, the rest the body (the bundled
ones extend ``base.txt``, which adds the severity and the coalescing count). ``message.html`` (or
``<kind>.html`` if there is one) renders the HTML part from the subject, the text and the notice's fields. A
folder of templates (``notify_templates_dir``) is searched before the bundled ones, so a file there with a
bundled name replaces it; a kind with no template of its own uses ``generic.txt``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2

from workbench.logs import get_logger
from workbench.notify.channels import Message
from workbench.notify.events import Notice

_log = get_logger(__name__)
_BLANK_LINES = re.compile(r"\n[ \t]*(\n[ \t]*)+\n")


def _num(value: Any) -> str:
    """Floats with at most 4 decimals and no trailing zeros (10.0 -> 10, 0.123456 -> 0.1235); others as str."""
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return str(value)


def _pct(value: Any) -> str:
    """A fraction as a percentage with two decimals (0.1234 -> 12.34%)."""
    return f"{value:.2%}" if isinstance(value, int | float) else str(value)


def _environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(num=_num, pct=_pct)
    return env


class Renderer:
    """Renders notices with the templates of ``override_dir`` (if given) before the bundled ones.

    A user template that fails to render is logged and the bundled one used instead, so a typo in a template
    never loses a halt notification.

    Examples
    --------
    >>> from workbench.notify.events import Severity
    >>> message = Renderer().render(Notice("error", Severity.ERROR, "feed", {"source": "feed", "message": "lost"}))
    >>> message.subject
    '[error] error in feed: lost'
    >>> message.text.splitlines()[0], "<h3" in message.html
    ('feed: lost', True)
    """

    def __init__(self, override_dir: str | Path | None = None) -> None:
        bundled = jinja2.PackageLoader("workbench.notify", "templates")
        self._bundled = _environment(bundled)
        self.override_dir = None if override_dir is None else Path(override_dir).expanduser()
        if self.override_dir is not None and not self.override_dir.is_dir():
            raise ValueError(f"notify_templates_dir {self.override_dir}: not a folder of templates")
        self._env = (
            self._bundled
            if self.override_dir is None
            else _environment(jinja2.ChoiceLoader([jinja2.FileSystemLoader(self.override_dir), bundled]))
        )

    def render(self, notice: Notice, **extra: Any) -> Message:
        """The message of ``notice``; ``extra`` are more template variables (the dispatcher's ``window``)."""
        try:
            return self._render(self._env, notice, extra)
        except Exception as exc:  # a syntax error, an unknown filter, a filter given the wrong type...
            if self._env is self._bundled:
                raise
            _log.error("notification template failed, bundled one used", kind=notice.kind, error=str(exc))
            return self._render(self._bundled, notice, extra)

    @staticmethod
    def _render(env: jinja2.Environment, notice: Notice, extra: dict[str, Any]) -> Message:
        context = {
            **notice.context,
            **extra,
            "kind": notice.kind,
            "severity": str(notice.severity),
            "repeats": notice.repeats,
        }
        context["fields"] = {
            k: v for k, v in notice.context.items() if v is not None and v != "" and not isinstance(v, dict)
        }
        text = env.select_template([f"{notice.kind}.txt", "generic.txt"]).render(context)
        subject, _, body = text.strip().partition("\n")
        body = _BLANK_LINES.sub("\n\n", body).strip()
        html = env.select_template([f"{notice.kind}.html", "message.html"]).render(
            {**context, "subject": subject, "text": body}
        )
        return Message(subject.strip(), body, html)

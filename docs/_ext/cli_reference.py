"""``.. workbench-cli::``: every command of the ``workbench`` typer app with its usage, help, arguments and options,
read from the app itself (the same help records ``--help`` prints), so the page cannot drift from the code."""

from __future__ import annotations

from typing import Any

import typer.main
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from tables import code, paragraph, table


def _click():
    try:  # typer >= 0.26 vendors click
        import typer._click as click
    except ImportError:  # pragma: no cover - older typer on the real click
        import click
    return click


def _commands(command: Any, ctx: Any) -> list[tuple[Any, Any]]:
    """``command`` and every subcommand below it, depth first in name order, each with its context."""
    click = _click()
    out = [(command, ctx)]
    for name in sorted(getattr(command, "commands", {})):
        sub = command.commands[name]
        if sub.hidden:
            continue
        out += _commands(sub, click.Context(sub, info_name=name, parent=ctx))
    return out


class CliDirective(SphinxDirective):
    """Renders the typer app ``workbench.cli.app``: one section per command."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from workbench.cli import app

        click = _click()
        root = typer.main.get_command(app)
        out: list[nodes.Node] = []
        for command, ctx in _commands(root, click.Context(root, info_name="workbench")):
            out.append(self._section(command, ctx))
        return out

    def _section(self, command: Any, ctx: Any) -> nodes.section:
        path = ctx.command_path
        section = nodes.section(ids=[nodes.make_id("cli-" + path)], names=[nodes.fully_normalize_name(path)])
        section += nodes.title(path, "", nodes.literal(path, path))
        usage = command.get_usage(ctx).removeprefix("Usage: ")
        section += nodes.literal_block(usage, usage)
        for block in (command.help or "").split("\n\n"):
            if block.strip():
                section += paragraph(" ".join(block.split()))
        params = [p for p in command.params if not getattr(p, "hidden", False)]
        records = [(p, p.get_help_record(ctx)) for p in params]
        records = [(p, r) for p, r in records if r]
        if records:
            rows = [[code(spelling), help_text or ""] for _, (spelling, help_text) in records]
            section += table(["argument / option", "what"], rows, [35, 65])
        subs = sorted(n for n, c in getattr(command, "commands", {}).items() if not c.hidden)
        if subs:
            section += paragraph("Commands: " + ", ".join(f"`{path} {n}`" for n in subs) + ".")
        return section


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("workbench-cli", CliDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

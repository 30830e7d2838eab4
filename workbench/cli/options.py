"""What every ``workbench`` command shares: the options spelled alike across commands, reading their values
(``--param``, ``--set``, ``--risk``, ``--symbols``, notebook parameters), the settings and database of the
invocation, who is acting, and plain tables for the terminal.

Nothing heavy is imported here: ``workbench --help`` stays fast.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workbench.config import Settings, load_settings
from workbench.errors import ConfigError

if TYPE_CHECKING:
    from workbench.risk.manager import RiskRules
    from workbench.store import Store

StartOpt = Annotated[str | None, typer.Option("--start", help="First date (inclusive).")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Last date (inclusive).")]
FeesOpt = Annotated[
    float | None, typer.Option("--fees", help="Fee as a fraction of traded value (default: setting fees).")
]
FixedFeeOpt = Annotated[float, typer.Option("--fixed-fee", help="Fee per order, in account currency.")]
SlippageOpt = Annotated[float, typer.Option("--slippage", help="Slippage as a fraction of price.")]
CashOpt = Annotated[float | None, typer.Option("--cash", help="Starting cash (default: setting initial_cash).")]
FillOpt = Annotated[str, typer.Option("--fill", help="next_open or close.")]
LeverageOpt = Annotated[
    float | None,
    typer.Option("--leverage", help="A universe strategy's most gross exposure, as a multiple of equity (default 1)."),
]
SaveOpt = Annotated[bool, typer.Option("--save", help="Save the run in the database (see `workbench runs`).")]
RiskOpt = Annotated[Path | None, typer.Option("--risk", help="TOML file of risk rules, e.g. stop_loss = 0.05.")]
ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", metavar="NAME=VALUE", help="e.g. fast=12 (repeatable).")
]
SymbolsOpt = Annotated[
    list[str] | None,
    typer.Option("--symbols", "--symbol", help="Symbol(s): comma-separated or repeated; several make a portfolio."),
]


def settings(ctx: typer.Context) -> Settings:
    """The settings the root ``workbench`` callback loaded, or `load_settings()` for a command run on its own."""
    return ctx.obj if isinstance(ctx.obj, Settings) else load_settings()


def open_store(ctx: typer.Context) -> Store:
    """The configured database (created and migrated on first use)."""
    from workbench.store import Store

    return Store.open(settings(ctx))


def actor() -> str:
    """Who acts, as the audit log records a command-line user: ``cli:<login name>``."""
    return f"cli:{getpass.getuser()}"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """Plain left-aligned columns (no terminal-width truncation, so CI logs keep every value).

    >>> print(table(["a", "bb"], [["1", "2"]]))
    a  bb
    -  --
    1  2
    """
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in [headers, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def day(ts: Any) -> str:
    """A bar time as a date when it is midnight (daily bars), else in full."""
    return ts.strftime("%Y-%m-%d") if ts.hour == 0 and ts.minute == 0 else ts.isoformat()


def parse_sets(pairs: list[str]) -> dict[str, str]:
    """Repeated ``--set key=value`` flags as an overrides dict.

    >>> parse_sets(["fees=0.001", "db-url=sqlite://"])
    {'fees': '0.001', 'db_url': 'sqlite://'}
    """
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {pair!r}")
        out[key.strip().replace("-", "_")] = value
    return out


def parse_param(text: str) -> tuple[str, str]:
    """``NAME=RANGE`` as its two parts, or ``ValueError`` naming the flag.

    >>> parse_param("fast=5:60")
    ('fast', '5:60')
    """
    name, sep, spec = text.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise ValueError(f"--param expects NAME=RANGE such as fast=5:60, got {text!r}")
    return name.strip(), spec.strip()


def single_values(param: list[str] | None, what: str = "a backtest") -> dict[str, Any]:
    """``--param NAME=VALUE`` options as parameter values, one each (a range is refused, naming ``what`` runs).

    >>> single_values(["fast=12", "z=1.5"])
    {'fast': 12, 'z': 1.5}
    """
    from workbench.engine.grid import parse_range

    values = {}
    for key, spec in (parse_param(p) for p in param or []):
        parsed = parse_range(spec)
        if len(parsed) != 1:
            raise ValueError(f"--param {key}={spec}: {what} takes one value per parameter")
        values[key] = parsed[0]
    return values


def risk_rules(path: Path | None) -> RiskRules:
    """The risk rules of a ``--risk`` TOML file (none when no file is given)."""
    from workbench.risk.manager import RiskRules

    return RiskRules() if path is None else RiskRules.from_toml(path)


def symbol_list(symbols: list[str] | None, default: str = "SPY") -> list[str]:
    """``--symbols`` (comma-separated or repeated) as upper-case names, each once; ``default`` when none given.

    >>> symbol_list(["spy,qqq", "IWM"])
    ['SPY', 'QQQ', 'IWM']
    """
    names = [s.strip().upper() for item in symbols or [default] for s in item.split(",") if s.strip()]
    repeated = sorted({s for s in names if names.count(s) > 1})
    if not names or repeated:
        raise ConfigError(f"--symbols {','.join(names)}: expected one or more symbols, each once (repeated {repeated})")
    return names


def notebook_parameters(args: list[str]) -> dict[str, Any]:
    """``-p NAME VALUE`` triples (papermill's form) as parameters: a value that reads as JSON (numbers, true,
    lists, ...) is that value, anything else the text.

    >>> notebook_parameters(["-p", "symbol", "QQQ", "-p", "steps", "5"])
    {'symbol': 'QQQ', 'steps': 5}
    """
    if len(args) % 3 or any(flag not in ("-p", "--parameter") for flag in args[::3]):
        raise ValueError(f"unexpected arguments {' '.join(args)}: notebook parameters are -p NAME VALUE")
    values = {}
    for name, text in zip(args[1::3], args[2::3], strict=True):
        try:
            values[name] = json.loads(text)
        except json.JSONDecodeError:
            values[name] = text
    return values

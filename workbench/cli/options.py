"""What every ``workbench`` command shares: the options spelled alike across commands, reading their values
(``--param``, ``--set``, ``--risk``, ``--symbols``, notebook parameters), the settings and database of the
invocation, who is acting, and plain tables for the terminal.

Nothing heavy is imported here: ``workbench --help`` stays fast.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workbench.errors import ConfigError

if TYPE_CHECKING:
    from workbench.config import Settings
    from workbench.risk.manager import RiskRules
    from workbench.store import Store

StartOpt = Annotated[str | None, typer.Option("--start", help="First date (inclusive).")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Last date (inclusive).")]
FeesOpt = Annotated[
    float | None,
    typer.Option("--fees", help="Fee as a fraction of traded value (default: setting fees, 0.001; 0 for none)."),
]
FixedFeeOpt = Annotated[float, typer.Option("--fixed-fee", help="Fee per order, in account currency.")]
SlippageOpt = Annotated[
    float | None, typer.Option("--slippage", help="Slippage as a fraction of price (default: setting slippage).")
]
CashOpt = Annotated[float | None, typer.Option("--cash", help="Starting cash (default: setting initial_cash).")]
FillOpt = Annotated[str | None, typer.Option("--fill", help="next_open or close (default: setting fill).")]
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
    from workbench.config import Settings, load_settings

    return ctx.obj if isinstance(ctx.obj, Settings) else load_settings()


@dataclass(frozen=True)
class CostChoice:
    """The costs a command runs with (and its starting cash), each from its flag or else from the settings, and
    ``text``, which names each cost and where it came from."""

    fees: float
    slippage: float
    fill: str
    fixed_fee: float
    cash: float
    text: str

    @property
    def short(self) -> str:
        """The values alone, for a table's caption: ``fees 0.001, slippage 0, fill next_open``."""
        fixed = f", fixed fee {self.fixed_fee:,g}" if self.fixed_fee else ""
        return f"fees {self.fees:g}{fixed}, slippage {self.slippage:g}, fill {self.fill}"


def _origin(settings: Settings, key: str, flag: str, given: bool) -> str:
    """Where a cost came from, in words: ``set by --fees``, ``default of setting fees``, ``setting fees from X``."""
    if given:
        return f"set by {flag}"
    source = settings.sources.get(key, "default")
    if source.startswith("env:"):
        return f"setting {key} from {source.removeprefix('env:')}"
    if source.startswith("file:"):
        return f"setting {key} from {Path(source.removeprefix('file:')).name}"
    if source == "cli":
        return f"setting {key} from --set"
    return f"default of setting {key}"


def choose_costs(
    settings: Settings,
    *,
    fees: float | None,
    slippage: float | None,
    fill: str | None,
    fixed_fee: float = 0.0,
    cash: float | None = None,
) -> CostChoice:
    """The command's costs: each flag given wins, the settings fill the rest, and ``text`` names every value with
    where it came from, so that no cost is ever silent (``fees 0 (set by --fees)``).

    >>> from workbench.config import load_settings
    >>> chosen = choose_costs(load_settings(env={}), fees=0.0, slippage=None, fill=None)
    >>> chosen.text.split(", ")[:2]
    ['fees 0 (set by --fees)', 'slippage 0 (default of setting slippage)']
    """
    chosen = {
        "fees": (settings.fees if fees is None else fees, "--fees", fees is not None),
        "slippage": (settings.slippage if slippage is None else slippage, "--slippage", slippage is not None),
        "fill": (settings.fill if fill is None else fill, "--fill", fill is not None),
        "initial_cash": (settings.initial_cash if cash is None else cash, "--cash", cash is not None),
    }
    parts = []
    for key, (value, flag, given) in list(chosen.items())[:3]:
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{key} {shown} ({_origin(settings, key, flag, given)})")
    if fixed_fee:
        parts.insert(2, f"fixed fee {fixed_fee:,g} per order (set by --fixed-fee)")
    return CostChoice(
        fees=float(chosen["fees"][0]),
        slippage=float(chosen["slippage"][0]),
        fill=str(chosen["fill"][0]),
        fixed_fee=fixed_fee,
        cash=float(chosen["initial_cash"][0]),
        text=", ".join(parts),
    )


def bars_span(frames: dict[str, Any]) -> str:
    """The bars a command ran on: symbols, first and last bar, and how many (``SPY 2005-01-03 to 2026-11-27,
    5,512 bars``); symbols with the same span share one."""
    spans: dict[tuple[str, str, int], list[str]] = {}
    for symbol, frame in frames.items():
        key = (day(frame.index[0]), day(frame.index[-1]), len(frame)) if len(frame) else ("-", "-", 0)
        spans.setdefault(key, []).append(symbol)
    return "; ".join(
        f"{', '.join(names)} {first} to {last}, {n:,} bars{' each' if len(names) > 1 else ''}"
        for (first, last, n), names in spans.items()
    )


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

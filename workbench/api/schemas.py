"""Request and response bodies of the API (pydantic): every request field bounded, unknown fields refused.

Numbers are finite and within sane bounds, strings have a pattern or a length limit, so a request is refused at
the edge (422, naming the field) rather than deep inside.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.orders.model import Order
from workbench.risk.manager import RiskEvent

SYMBOL = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,15}$"
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
Price = Annotated[float, Field(gt=0, le=1e9, allow_inf_nan=False)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class LoginIn(_Request):
    """A login: the password, and the 6-digit code of a user with a second factor."""

    username: str = Field(pattern=NAME, examples=["ada"])
    password: str = Field(min_length=1, max_length=1024)
    code: str | None = Field(None, pattern=r"^[0-9]{6}$", description="TOTP code, for users with a second factor.")


class RefreshIn(_Request):
    """A refresh token to exchange (once) for a new pair."""

    refresh_token: str = Field(min_length=1, max_length=200)


class _OrderIn(_Request):
    symbol: str = Field(pattern=SYMBOL, examples=["SPY"])
    side: Literal["buy", "sell"]
    qty: float = Field(gt=0, le=1e9, allow_inf_nan=False)
    time_in_force: Literal["day", "gtc", "ioc"] = "day"
    client_order_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:-]{1,48}$")


class MarketOrderIn(_OrderIn):
    """A market order: it fills at the current price."""

    type: Literal["market"]


class LimitOrderIn(_OrderIn):
    """A limit order: it fills at ``limit_price`` or better."""

    type: Literal["limit"]
    limit_price: Price


class StopOrderIn(_OrderIn):
    """A stop order: it becomes a market order once the price trades through ``stop_price``."""

    type: Literal["stop"]
    stop_price: Price


class StopLimitOrderIn(_OrderIn):
    """A stop-limit order: it becomes a limit order at ``limit_price`` once the price trades through ``stop_price``."""

    type: Literal["stop_limit"]
    limit_price: Price
    stop_price: Price


#: A manual order, of the ``type`` that says which prices it needs.
OrderIn = Annotated[MarketOrderIn | LimitOrderIn | StopOrderIn | StopLimitOrderIn, Field(discriminator="type")]


class HaltIn(_Request):
    """Why trading is halted (kept with the halt and in the audit log)."""

    reason: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$",
        examples=["manual stop"],
    )  # printable and not blank: controls.check_reason keeps it, trimmed


class TokenOut(BaseModel):
    """A new access token and refresh token."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    access_expires_at: datetime
    refresh_expires_at: datetime


class MeOut(BaseModel):
    """The caller as the API sees it."""

    username: str
    role: str
    scopes: list[str]
    credential: str


class RevokedOut(BaseModel):
    """How many tokens a logout revoked."""

    revoked: int


class CheckOut(BaseModel):
    """One health check: its status, what it found (no secrets: credentials in URLs are masked) and how long it
    took."""

    status: Literal["ok", "degraded", "down"]
    detail: str
    seconds: float


class HealthOut(BaseModel):
    """The server's health: each check (``database``, ``broker``, and those the server was given, such as
    ``cache`` or ``feed``) and the aggregate, the worst of them (503 when ``down``). ``database`` and ``trading``
    repeat the database check and whether a trading account is attached, for clients of the first version."""

    status: Literal["ok", "degraded", "down"]
    timestamp: datetime
    checks: dict[str, CheckOut]
    database: Literal["ok", "unreachable"]
    trading: Literal["attached", "none"]


class StrategyOut(BaseModel):
    """A strategy known to the live side, with its switches."""

    name: str
    enabled: bool
    mode: str
    halted: bool
    halted_reason: str | None
    params: dict[str, Any]
    updated_at: datetime


class RunOut(BaseModel):
    """A saved run with its headline numbers (None where they do not apply)."""

    id: int
    kind: str
    strategy: str
    name: str | None
    params: dict[str, Any]
    symbols: list[str] | None
    #: A backtest's or sweep's as saved; a live or paper run's state: running, stopped, finished, halted, crashed.
    status: str
    #: Why a live or paper run is halted, crashed or did not start (None otherwise).
    reason: str | None = None
    started_at: datetime
    total_return: float | None = None
    sharpe: float | None = None
    max_drawdown: float | None = None
    trades: float | None = None
    metric: str | None = None
    best: float | None = None


class OrderOut(BaseModel):
    """An order as it stands."""

    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: float
    type: str
    time_in_force: str
    limit_price: float | None
    stop_price: float | None
    take_profit: float | None
    stop_loss: float | None
    stop_loss_limit: float | None
    parent_id: str | None
    oco_group: str | None
    status: str
    filled_qty: float
    avg_fill_price: float | None
    fees: float
    reject_reason: str | None
    strategy: str | None
    tags: dict[str, str]
    created_at: datetime
    updated_at: datetime | None

    @classmethod
    def of(cls, order: Order) -> OrderOut:
        return cls.model_validate(order.to_dict())


class RiskEventOut(BaseModel):
    """One risk decision, with its numbers."""

    timestamp: datetime
    symbol: str
    decision: str
    rule: str
    details: dict[str, Any]

    @classmethod
    def of(cls, event: RiskEvent) -> RiskEventOut:
        return cls(
            timestamp=event.timestamp,
            symbol=event.symbol,
            decision=event.decision,
            rule=event.rule,
            details=plain(event.details),
        )


class EquityOut(BaseModel):
    """Cash and equity at one time."""

    timestamp: datetime
    cash: float | None
    equity: float | None


class RunDetailOut(RunOut):
    """Everything saved of a run."""

    spec: dict[str, Any]
    metrics: dict[str, Any] | None
    error: str | None
    orders: list[OrderOut]
    fills: list[dict[str, Any]]
    risk_events: list[RiskEventOut]
    equity: list[EquityOut]


class PositionOut(BaseModel):
    """An open position at its average cost, priced at the account's last mark, or at its last fill after it (as
    the dashboard prices it)."""

    symbol: str
    qty: float
    avg_price: float
    realized_pnl: float
    fees: float
    price: float | None
    unrealized_pnl: float | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> PositionOut:
        """A row of `services.snapshot.positions`."""
        return cls(**{name: row[name] for name in cls.model_fields})


class AccountOut(BaseModel):
    """Cash and equity of the trading account."""

    cash: float
    equity: float


class RiskOut(BaseModel):
    """The risk rules in force, the halt state and the latest decisions, newest first."""

    rules: dict[str, Any]
    halted: bool
    halt_reason: str | None
    events: list[RiskEventOut]


class HaltOut(BaseModel):
    """The kill switch's new state and the strategies it halted or resumed."""

    halted: bool
    reason: str | None
    strategies: list[str]


class AuditOut(BaseModel):
    """One audit log entry."""

    id: int
    timestamp: datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, Any]


def plain(value: Any) -> Any:
    """``value`` as JSON can carry it: tuples as lists, NaN and infinities as None (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value

"""Risk limits against their current use, and the alerts the marks raised, for the dashboard's risk view.

The limits are the `RiskRules` the live sessions trade with (the dashboard is given the same rules file as
``workbench live --risk``). Each measure is graded by the kernel the RiskMonitor uses (``alert_level_nb``:
``warning`` from ``warn_at`` x the limit, ``breach`` at it); the alerts are those a RiskMonitor watching the
combined marks raises (``path_alerts``).

>>> from datetime import datetime
>>> from workbench.services.snapshot import Snapshot
>>> table = limit_use(Snapshot(taken_at=datetime(2024, 7, 1, tzinfo=UTC)), RiskRules(max_drawdown=0.2))
>>> table[["rule", "limit", "current", "level"]].to_dict("records")
[{'rule': 'max_drawdown', 'limit': 0.2, 'current': 0.0, 'level': 'ok'}]
"""

from __future__ import annotations

from datetime import UTC

import pandas as pd

from workbench.engine.risk_measures import LEVELS, OK, alert_level_nb
from workbench.risk.manager import RiskRules
from workbench.risk.monitor import path_alerts
from workbench.services.snapshot import Snapshot
from workbench.ui.account import account_summary, equity_path

LIMIT_COLUMNS = ["rule", "limit", "current", "use", "level"]
ALERT_COLUMNS = ["timestamp", "measure", "level", "value", "limit", "rule"]


def limit_use(snapshot: Snapshot, rules: RiskRules, *, warn_at: float = 0.8) -> pd.DataFrame:
    """One row per numeric limit in force: its ``limit``, the ``current`` value, ``use`` (current / limit) and
    ``level`` (ok, warning, breach). Exposures and losses are fractions of equity; ``max_orders_per_day``
    counts the orders created on the UTC day of the snapshot."""
    current = _measures(snapshot)
    rows = []
    for rule, limit in rules.active().items():
        if rule not in current:
            continue  # per-order rules (stop_loss, ...) and session rules have no account-wide use
        value = current[rule]
        level = LEVELS[int(alert_level_nb(value, float(limit), warn_at, OK))]
        rows.append({"rule": rule, "limit": float(limit), "current": value, "use": value / limit, "level": level})
    return pd.DataFrame(rows, columns=LIMIT_COLUMNS)


def recent_alerts(snapshot: Snapshot, rules: RiskRules, *, warn_at: float = 0.8, last: int = 50) -> pd.DataFrame:
    """The ``last`` alerts a RiskMonitor watching the combined marks would have raised, newest first."""
    path = equity_path(snapshot)
    start = float(snapshot.runs["start_cash"].sum()) if len(snapshot.runs) else 0.0
    found = path_alerts(
        path.index,
        path["equity"].to_numpy(float),
        path["gross_value"].to_numpy(float),
        path["net_value"].to_numpy(float),
        start,
        rules,
        warn_at,
    )
    rows = [{c: getattr(a, c) for c in ALERT_COLUMNS} for a in found[::-1][:last]]
    return pd.DataFrame(rows, columns=ALERT_COLUMNS)


def _measures(snapshot: Snapshot) -> dict[str, float]:
    """Current values of the account-wide limits, by rule name."""
    summary = account_summary(snapshot)
    path = equity_path(snapshot)["equity"].dropna()
    peak = max(float(path.max()), summary.equity) if len(path) else summary.equity
    day_open = sum(snapshot.day_open.values())
    positions, orders = snapshot.positions, snapshot.orders
    day = snapshot.taken_at.astimezone(UTC).date()
    created = pd.to_datetime(orders["created_at"], utc=True) if len(orders) else pd.Series(dtype="datetime64[ns, UTC]")
    largest = float(positions["market_value"].abs().max()) if len(positions) else 0.0
    return {
        "max_drawdown": max(1.0 - summary.equity / peak, 0.0) if peak > 0 else 0.0,
        "daily_loss": max(1.0 - summary.equity / day_open, 0.0) if day_open > 0 else 0.0,
        "max_gross_exposure": summary.gross_exposure,
        "max_net_exposure": abs(summary.net_exposure),
        "max_exposure": largest / summary.equity if summary.equity > 0 else 0.0,
        "max_shares": float(positions["qty"].abs().max()) if len(positions) else 0.0,
        "max_orders_per_day": float((created.dt.date == day).sum()) if len(created) else 0.0,
    }

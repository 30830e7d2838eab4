"""Runners: the event-driven backtest now; live sessions and restart reconciliation arrive with #8."""

"""Risk management: rules shared with the sweep kernel (``engine.risk_rules``) and the RiskManager's events."""

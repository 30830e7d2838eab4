"""Strategies: parameter specs, the Strategy base class, the signal-kernel adapter and the name registry."""

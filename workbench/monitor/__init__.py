"""Monitoring: structured logging now; metrics and health checks arrive with issue #11."""

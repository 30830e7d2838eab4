"""Monitoring: structured logs (`logs`), Prometheus metrics (`metrics`), health checks (`health`), and a small
HTTP server for both (`server`, ``workbench monitor serve``) where the API does not run.

>>> from workbench.monitor.metrics import Metrics, metrics_text
>>> from workbench.monitor.health import health_report, standard_checks
>>> metrics = Metrics(); metrics.attach(session)              # doctest: +SKIP
>>> health_report(standard_checks(store=store)).status       # doctest: +SKIP
'ok'
"""

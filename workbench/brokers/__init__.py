"""Brokers behind the ``Broker`` port: ``SimBroker`` (backtests and local paper trading); Alpaca arrives with #8."""

from workbench.errors import WorkbenchError


class BrokerError(WorkbenchError):
    """The broker refused or failed a request; ``transient`` ones (timeouts, rate limits) may be retried."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient

"""Brokers behind the ``Broker`` port: ``SimBroker`` (backtests and local paper trading) and ``AlpacaBroker``."""

from workbench.errors import WorkbenchError


class BrokerError(WorkbenchError):
    """The broker refused or failed a request; ``transient`` ones (timeouts, rate limits) may be retried, after
    ``retry_after`` seconds when the broker said so (a 429's ``Retry-After``)."""

    def __init__(self, message: str, *, transient: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


class BrokerUnavailable(BrokerError):
    """The broker kept failing (rate limits, server or network errors) until the call's deadline: a session
    halts its strategy and tells people. ``uncertain``: an order sent meanwhile may have reached the broker (it is
    still followed, and a restart's reconciliation resolves it); otherwise the order is known not sent."""

    def __init__(self, message: str, *, uncertain: bool = False) -> None:
        super().__init__(message, transient=False)
        self.uncertain = uncertain

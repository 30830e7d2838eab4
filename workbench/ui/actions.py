"""``Controls``: the actions a dashboard session may take — switch a strategy on or off, halt and resume trading,
cancel an order — each checked and audited on the server when it is taken.

The checks do not trust the page: every action authenticates the session's credential again (a revoked or
expired login is refused) and needs the ``trade`` scope (the trader and admin roles). A refused action — a
viewer's forged request, a strategy that is not stored — is written to the audit log as a failure, like the API
and the CLI write theirs; a taken one as a success, in the same transaction as the change. The switches are the
store's strategy flags, set and audited by `workbench.services.switches` as the CLI and the API set them, which running
live sessions act on (`workbench.trading.live`). An order is canceled through the trading account
(`workbench.services.desk.Desk`) when one is attached to the dashboard, and otherwise requested through the store
(``order_requests``), which the run's live session acts on at its next check, in whatever process it runs.

>>> from workbench.auth.accounts import Accounts
>>> from workbench.auth.service import AuthService
>>> from workbench.store import Store
>>> store = Store.open("sqlite://")
>>> with store.unit_of_work() as uow:
...     _ = uow.strategies.add("sma_cross", enabled=True)
>>> _ = Accounts(store).add_user("tom", "correct horse battery", role="trader", actor="cli:root")
>>> auth = AuthService(store)
>>> controls = Controls(store, auth, auth.login("tom", "correct horse battery").access_token)
>>> controls.set_enabled("sma_cross", False)
'sma_cross switched off'
>>> controls.halt("fat finger")
'no enabled strategy to halt'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from workbench.auth.audit import ANONYMOUS, FAILURE, audit
from workbench.auth.errors import AuthError, PermissionDenied
from workbench.auth.principal import Principal, Scope
from workbench.auth.service import AuthService
from workbench.orders.model import OPEN_STATUSES
from workbench.services import switches as controls
from workbench.store.database import Store
from workbench.store.errors import StoreError
from workbench.store.models_requests import OrderRequestRow
from workbench.store.models_trading import OrderRow
from workbench.store.unit_of_work import UnitOfWork
from workbench.ui.errors import DashboardError

if TYPE_CHECKING:
    from workbench.services.desk import Desk

_ORDER_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_T = TypeVar("_T")


class Controls:
    """The actions of one dashboard session holding ``credential`` (an access token from the login page, or an
    API key in a notebook; None: read-only). ``source`` is recorded with each action (the browser's address);
    ``desk`` is the trading account orders are canceled through; ``on_change`` runs after each change (the
    poller's `poke`)."""

    def __init__(
        self,
        store: Store,
        auth: AuthService,
        credential: str | None,
        *,
        source: str = "dashboard",
        desk: Desk | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.store, self.auth, self.credential, self.source = store, auth, credential, source
        self.desk, self.on_change = desk, on_change
        self.user: Principal | None = None if credential is None else auth.authenticate(credential, source=source)

    @property
    def can_trade(self) -> bool:
        """Whether the session's user may act (what the page enables; each action checks again)."""
        return self.user is not None and self.user.allows(Scope.TRADE)

    @property
    def can_cancel(self) -> bool:
        """Whether orders can be canceled here: by a trader, directly through an attached trading account or, without
        one, by a request through the store."""
        return self.can_trade

    def set_enabled(self, name: str, enabled: bool) -> str:
        """Switch strategy ``name`` on (it trades from its next bar, unless halted) or off (no new orders)."""
        action = controls.ENABLE if enabled else controls.DISABLE
        self._act(action, controls.target(name), partial(controls.set_enabled, name=name, enabled=enabled))
        return f"{name} switched {'on' if enabled else 'off'}"

    def halt(self, reason: str, strategy: str | None = None) -> str:
        """The kill switch: halt ``strategy``, or every enabled strategy; their sessions cancel working orders,
        flatten and stay halted, across restarts, until resumed. Halting every strategy also halts the attached
        trading account (it refuses new orders), as the API's kill switch does."""
        reason = _reason(reason)
        switch = partial(controls.halt, reason=reason, strategy=strategy)
        halted = self._act(controls.HALT, controls.target(strategy), switch)
        if strategy is None and self.desk is not None and self.user is not None:
            self.desk.halt(controls.halted_reason(reason, self.user.username))
        return f"halted: {', '.join(halted)} ({reason})" if halted else "no enabled strategy to halt"

    def resume(self, strategy: str | None = None) -> str:
        """Lift the halt of ``strategy``, or of every halted strategy (a person's decision), and then of the
        attached trading account too."""
        switch = partial(controls.resume, strategy=strategy)
        resumed = self._act(controls.RESUME, controls.target(strategy), switch)
        if strategy is None and self.desk is not None:
            self.desk.resume()
        return f"resumed: {', '.join(resumed)}" if resumed else "no halted strategy to resume"

    def cancel(self, order_id: str) -> str:
        """Cancel working order ``order_id`` through the attached trading account, or, with none attached, ask its
        run's live session to cancel it (`request_cancel`)."""
        from workbench.brokers import BrokerError
        from workbench.services.desk import DeskError

        target = f"order:{order_id}"
        action = "order.cancel" if self.desk is not None else "order.cancel_request"
        who = self._trader(action, target)
        if not _ORDER_ID.match(order_id or ""):
            self._refused(who, action, target, f"order id {order_id!r} is malformed")
        if self.desk is None:
            return self.request_cancel(who, order_id)
        try:
            canceled = self.desk.cancel(order_id)
        except (DeskError, BrokerError) as exc:
            self._refused(who, "order.cancel", target, str(exc))
        self._record(who, "order.cancel", target, symbol=canceled.symbol, status=canceled.status.value)
        return f"order {order_id} {canceled.status.value}"

    def request_cancel(self, who: Principal, order_id: str) -> str:
        """Write a request for the live session of ``order_id``'s run to cancel it (the session may run in another
        process: it takes the request at its next check of the store and records the outcome), audited as
        ``order.cancel_request``. An order that is not stored, belongs to no run or is no longer working is refused
        here, since no session could cancel it."""
        action, target = "order.cancel_request", f"order:{order_id}"
        with self.store.unit_of_work(readonly=True) as uow:
            row = uow.session.get(OrderRow, order_id)
            run_id, status = (row.run_id, row.status) if row is not None else (None, None)
        if status is None:
            self._refused(who, action, target, f"order {order_id} is not stored")
        if status not in OPEN_STATUSES:
            self._refused(who, action, target, f"order {order_id} is {status} and cannot be canceled")
        if run_id is None:
            self._refused(who, action, target, f"order {order_id} belongs to no run: no session can cancel it")
        with self.store.unit_of_work() as uow:
            request = uow.order_requests.add(run_id, order_id, requested_by=who.username)
            self._audit(uow, who, action, target, run_id=run_id, request_id=request.id)
        self._changed()
        return f"cancel of order {order_id} requested; the session acts on it at its next check"

    def last_cancel_request(self, order_id: str) -> OrderRequestRow | None:
        """The newest cancel request of ``order_id`` (its ``outcome`` None until the session acts), or None."""
        with self.store.unit_of_work(readonly=True) as uow:
            return uow.order_requests.latest(order_id)

    # --- the checks and the audit log -------------------------------------------------------------------------

    def _trader(self, action: str, target: str) -> Principal:
        """The session's user, authenticated again now and holding the trade scope; else refused and audited."""
        if self.credential is None:
            with self.store.unit_of_work() as uow:
                self._audit(uow, ANONYMOUS, action, target, outcome=FAILURE, reason="read_only")
            raise PermissionDenied(f"this dashboard is read-only (no login): cannot {action}")
        try:
            who = self.auth.authenticate(self.credential, source=self.source)  # a refusal is audited by the service
        except AuthError as exc:
            raise AuthError("your login has ended (expired or logged out): log in again", reason=exc.reason) from None
        if not who.allows(Scope.TRADE):
            with self.store.unit_of_work() as uow:
                self._audit(uow, who, action, target, outcome=FAILURE, reason="forbidden", role=who.role)
            raise PermissionDenied(f"{who.username} is a {who.role}: {action} needs the trader role")
        return who

    def _act(self, action: str, target: str, switch: Callable[..., _T]) -> _T:
        """Check the user, then flip ``switch`` (a `workbench.services.switches` function, audited as ``action`` on
        ``target``), which makes the change and audits it in one transaction; a refused change is audited alone."""
        who = self._trader(action, target)
        try:
            with self.store.unit_of_work() as uow:
                done = switch(uow, actor=who.username, **self._stamp(who))
        except StoreError as exc:
            self._refused(who, action, target, str(exc))
        self._changed()
        return done

    def _record(self, who: Principal, action: str, target: str, **details: Any) -> None:
        with self.store.unit_of_work() as uow:
            self._audit(uow, who, action, target, **details)
        self._changed()

    def _refused(self, who: Principal, action: str, target: str, reason: str) -> NoReturn:
        """Audit a failed action and raise its reason as a `DashboardError`."""
        with self.store.unit_of_work() as uow:
            self._audit(uow, who, action, target, outcome=FAILURE, reason=reason)
        raise DashboardError(reason)

    def _audit(self, uow: UnitOfWork, who: Principal | str, action: str, target: str, **details: Any) -> None:
        """An audit entry of ``who`` (with its credential) from this session's source."""
        if isinstance(who, Principal):
            audit(uow, who.username, action, target, **self._stamp(who), **details)
        else:
            audit(uow, who, action, target, now=self.auth.clock.now(), source=self.source, **details)

    def _stamp(self, who: Principal) -> dict[str, Any]:
        """What each audit entry of ``who``'s action carries besides its details: when, with which credential,
        from where."""
        return {"now": self.auth.clock.now(), "credential": who.credential, "source": self.source}

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


def _reason(text: str) -> str:
    """A halt's reason as `controls.check_reason` leaves it; a bad one is the dashboard's error."""
    try:
        return controls.check_reason(text)
    except ValueError as exc:
        raise DashboardError(str(exc)) from None

"""``serve``: the dashboard as a local web server (Panel on Bokeh/Tornado) behind the workbench's login.

One process serves every tab from one `Poller`; each tab is a `Dashboard` whose `Controls` hold the login of the
browser that opened it. The reports folder is served at ``/reports`` behind the same login. The server listens
on 127.0.0.1 by default, and refuses any other address until a user exists who can log in.

Two of Panel's handlers are replaced by stricter ones (`_harden`): its autoload script refuses an anonymous request
with a 403 (Panel's awaited a session it never got, logging a traceback per request: a log flood anyone could
cause), and the reports folder answers a path the OS cannot name (``/reports/%00``) with a 404, not a 500.

First paint after login is kept short (`_lighten`, `_warm_up`): pages load no BokehJS bundle the dashboard does not
use (MathJax and WebGL: 2 of the 5.3 MB of JavaScript a page parsed), and the server builds one dashboard before it
listens, so the first login does not pay for the first imports and first uses of Panel, Bokeh and HoloViews.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import panel as pn
from panel.io.server import AuthenticatedStaticFileHandler, AutoloadJsHandler
from tornado.web import HTTPError

from workbench.auth.errors import AuthError
from workbench.auth.policy import AuthPolicy
from workbench.auth.service import AuthService
from workbench.auth.vault import Vault
from workbench.errors import ConfigError
from workbench.risk.manager import RiskRules
from workbench.store.database import Store
from workbench.ui.actions import Controls
from workbench.ui.app import TITLE, Dashboard
from workbench.ui.errors import DashboardError
from workbench.ui.login import DashboardAuth
from workbench.ui.poller import Poller

#: How long a dashboard login lasts (the access token in its cookie); logging out ends it sooner.
SESSION = timedelta(hours=8)


@dataclass
class DashboardServer:
    """A running dashboard server: its ``url``, ``poller`` and (when started with ``threaded``) its thread."""

    url: str
    poller: Poller
    server: Any
    thread: threading.Thread | None = field(default=None, repr=False)

    def stop(self) -> None:
        """Stop serving and polling (open tabs lose their connection)."""
        loop = self.server.io_loop

        def halt() -> None:
            self.server.stop()
            loop.stop()

        loop.add_callback(halt)
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.poller.stop()

    def __enter__(self) -> DashboardServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve(
    store: Store,
    *,
    host: str = "127.0.0.1",
    port: int = 5006,
    rules: RiskRules | None = None,
    desk: Any = None,
    reports_dir: str | Path | None = "reports",
    period: float = 1.0,
    cache: Any = None,
    max_bar_age: timedelta = timedelta(minutes=5),
    cookie_secret: str | None = None,
    session: timedelta = SESSION,
    origins: list[str] | None = None,
    vault: Vault | None = None,
    threaded: bool = False,
    ready: Callable[[str], None] | None = None,
) -> DashboardServer:
    """Serve the dashboard of ``store`` at ``http://host:port/`` (``port=0``: a free one).

    ``rules``: the risk limits the live sessions trade with; ``desk``: a `workbench.services.desk.Desk` of a trading
    account in this process (orders can then be canceled; its broker joins the health checks); ``period``:
    seconds between reads of the store (and between refreshes of each tab); ``cookie_secret`` signs the session
    cookies (default: random, so logins end with the process); ``origins``: further ``host:port`` the pages may be
    opened at (behind a proxy, or by a name of a non-loopback ``host``); ``vault`` seals the users' TOTP secrets
    (default: the settings' key). With ``threaded`` the server runs on a
    thread and the call returns; otherwise it blocks until stopped (Ctrl-C), calling ``ready(url)`` first.

    Examples
    --------
    >>> import tempfile
    >>> store = Store.open(f"sqlite:///{tempfile.mkdtemp()}/workbench.db")
    >>> with serve(store, port=0, threaded=True, reports_dir=None) as server:  # doctest: +ELLIPSIS
    ...     server.url
    'http://127.0.0.1:.../'
    """
    _check_bind(host, store)
    port = port or _free_port(host)
    url = f"http://{'localhost' if host in ('0.0.0.0', '::') else host}:{port}/"
    secret = cookie_secret or secrets.token_urlsafe(32)
    policy = AuthPolicy(access_ttl=session, session_max=max(session, AuthPolicy().session_max))
    auth = AuthService(store, policy, vault=vault)
    provider = DashboardAuth(auth, secret)
    broker = None if desk is None else desk.context.om.broker
    poller = Poller(store, period=period, cache=cache, broker=broker, max_bar_age=max_bar_age).start()
    reports = None if reports_dir is None else Path(reports_dir).expanduser().absolute()
    if reports is not None:
        reports.mkdir(parents=True, exist_ok=True)  # served from the start, so reports written later open too

    def page() -> pn.viewable.Viewable:
        pn.extension("tabulator")  # the tabs are drawn when shown: the page must load the tables' code up front
        request = pn.state.curdoc.session_context.request
        source = request.remote_ip or ""
        try:
            token = provider.token(request.cookies)
            controls = Controls(store, auth, token, source=source, desk=desk, on_change=poller.poke)
        except AuthError:
            return pn.pane.HTML('<p>Your login has ended. <a href="/login">Log in again</a>.</p>')
        dashboard = Dashboard(
            poller,
            controls,
            rules=rules,
            reports_dir=reports,
            reports_url="/reports" if reports is not None else None,
            logout_url=provider.logout_url,
            period=period,
        )
        dashboard.start()
        return dashboard.template()

    options: dict[str, Any] = {
        "port": port,
        "address": host,
        "websocket_origin": sorted({f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}", *(origins or [])}),
        "show": False,
        "start": False,
        "title": TITLE,
        "auth_provider": provider,
        "cookie_secret": secret,
        "static_dirs": {"reports": str(reports)} if reports is not None else {},
    }
    _warm_up(poller, store, auth)
    if not threaded:
        server = pn.serve(page, **options, verbose=False)
        _harden(server)
        handle = DashboardServer(url, poller, server)
        server.start()
        if ready is not None:
            ready(url)
        try:
            server.io_loop.start()
        finally:
            poller.stop()
        return handle
    started = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        try:
            holder["server"] = server = pn.serve(page, **options, verbose=False)
            _harden(server)
            server.start()
        except Exception as exc:  # e.g. the port is taken: raised in the caller's thread below
            holder["error"] = exc
            return
        finally:
            started.set()
        server.io_loop.start()

    thread = threading.Thread(target=run, name="dashboard-server", daemon=True)
    thread.start()
    started.wait()
    if "error" in holder:
        poller.stop()
        raise DashboardError(f"cannot serve the dashboard on {host}:{port}: {holder['error']}") from holder["error"]
    return DashboardServer(url, poller, holder["server"], thread)


class _AutoloadJs(AutoloadJsHandler):
    """Panel's autoload script, for a logged-in browser only: anyone else gets a 403 (one access-log line)."""

    async def get(self, *args: Any, **kwargs: Any) -> None:
        if not self.current_user:
            raise HTTPError(403)
        await super().get(*args, **kwargs)


class _Reports(AuthenticatedStaticFileHandler):
    """The reports folder behind the login: a path with a NUL (no file can have one) is not found."""

    def parse_url_path(self, url_path: str) -> str:
        if "\x00" in url_path:
            raise HTTPError(404)
        return super().parse_url_path(url_path)


def _harden(server: Any) -> None:
    """Put `_AutoloadJs` and `_Reports` in place of Panel's handlers in ``server``'s routes, and `_lighten` its
    pages."""
    replaced = {AutoloadJsHandler: _AutoloadJs, AuthenticatedStaticFileHandler: _Reports}
    for rule in server._tornado.wildcard_router.rules:
        rule.target = replaced.get(rule.target, rule.target)
    _lighten(server._tornado)


#: BokehJS bundles no view of the dashboard needs: no text is LaTeX, no plot asks for WebGL.
_UNUSED_BUNDLES = ("bokeh-mathjax", "bokeh-gl")


def _lighten(application: Any) -> None:
    """Have the pages of Bokeh's Tornado ``application`` load BokehJS without `_UNUSED_BUNDLES` (Panel adds MathJax
    to any page that shows HTML, in case it holds LaTeX)."""
    full = application.resources

    def resources(absolute_url: str | bool | None = None) -> Any:
        bundle = full(absolute_url)
        bundle.components = [c for c in bundle.components if c not in _UNUSED_BUNDLES]
        return bundle

    application.resources = resources


def _warm_up(poller: Poller, store: Store, auth: AuthService) -> None:
    """Build one read-only dashboard and its page's models before serving, so that the first login does not wait
    for the first imports and first uses of Panel, Bokeh and HoloViews (a second or more on a loaded machine)."""
    pn.extension("tabulator")
    poller.tick()
    board = Dashboard(poller, Controls(store, auth, None))
    for index in range(len(board.slots)):
        board.fill(index)
    pn.Column(board.user_bar(), board.problem, board.feedback, board.tabs).get_root()


def _check_bind(host: str, store: Store) -> None:
    """Refuse a non-loopback ``host`` while no user can log in (a page open to the network that nobody set up)."""
    from workbench.auth.accounts import Accounts
    from workbench.auth.listen import is_loopback

    if not is_loopback(host) and not Accounts(store).configured():
        raise ConfigError(
            f"refusing to serve the dashboard on {host}: no user can log in yet. Add one with "
            "`workbench users add NAME --role trader`, or serve on 127.0.0.1"
        )


def _free_port(host: str) -> int:
    """A port free on ``host`` now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]

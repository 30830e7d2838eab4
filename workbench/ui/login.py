"""Logging in to the served dashboard through `workbench.auth`: a login page, a session cookie, a logout.

`DashboardAuth` is the Bokeh/Panel auth provider of the server. Its login page checks the username, password
(argon2) and, for users who enrolled one, the authenticator code with `AuthService.login` — so failures count
towards the lockout and every attempt is audited — and keeps the login's access token in a signed, HTTP-only,
same-site cookie. Every page load and websocket is let in only while that token is valid (`AuthService
.authenticate`: not expired, not revoked, user enabled); logging out revokes it. A wrong password shows
"invalid credentials" and sets nothing.

Both forms carry an XSRF token (Tornado's ``_xsrf``, checked against its cookie): another site cannot log a
browser in or out. Logging out is a POST (``GET /logout`` shows the button); after a login the browser goes on to
``next`` only if it is a path on this server, read as a browser would read it (a tab or a backslash inside it
cannot make it another site).

>>> from workbench.store import Store
>>> provider = DashboardAuth(AuthService(Store.open("sqlite://")), cookie_secret="s" * 32)
>>> provider.login_url, provider.logout_url
('/login', '/logout')
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from bokeh.server.auth_provider import AuthProvider
from tornado.web import RequestHandler, decode_signed_value

from workbench.auth.errors import AuthError
from workbench.auth.service import AuthService

#: The cookie holding a login's access token (signed with the server's cookie secret).
COOKIE = "workbench_session"
_TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)
_PAGE = _TEMPLATES.get_template("login.html")
_LOGOUT = _TEMPLATES.get_template("logout.html")


class DashboardAuth(AuthProvider):
    """The auth provider of a dashboard server: users of ``auth``'s store log in at ``/login`` and out at
    ``/logout`` (see the module docstring); ``cookie_secret`` signs the session cookie and must be the server's."""

    def __init__(self, auth: AuthService, cookie_secret: str) -> None:
        self.auth, self.cookie_secret = auth, cookie_secret
        provider = self
        self._login = type("LoginHandler", (LoginHandler,), {"provider": provider})
        self._logout = type("LogoutHandler", (LogoutHandler,), {"provider": provider})
        super().__init__()

    def token(self, cookies: Mapping[str, Any]) -> str | None:
        """The access token in a request's signed session cookie (None: absent or tampered with)."""
        raw = cookies.get(COOKIE)
        raw = getattr(raw, "value", raw)  # tornado's cookies are Morsels; a Bokeh session's are strings
        if not raw:
            return None
        value = decode_signed_value(self.cookie_secret, COOKIE, raw)
        return None if value is None else value.decode()

    @property
    def get_user(self) -> Any:
        def get_user(handler: RequestHandler) -> str | None:
            token = self.token(handler.request.cookies)
            if token is None:
                return None
            try:
                return self.auth.authenticate(token, source=handler.request.remote_ip or "").username
            except AuthError:
                return None  # expired or revoked: back to the login page (the refusal is audited)

        return get_user

    @property
    def login_url(self) -> str:
        return "/login"

    @property
    def login_handler(self) -> type[RequestHandler]:
        return self._login

    @property
    def logout_url(self) -> str:
        return "/logout"

    @property
    def logout_handler(self) -> type[RequestHandler]:
        return self._logout


class LoginHandler(RequestHandler):
    """``GET /login``: the form; ``POST /login``: check the credentials, set the session cookie, go on to
    ``next`` (a path on this server) — or show the form again with "invalid credentials" (401)."""

    provider: DashboardAuth

    def get(self) -> None:
        note = "You are logged out." if self.get_argument("out", "") else None
        self._page(note=note)

    def post(self) -> None:
        self.check_xsrf_cookie()  # 403 for a form posted from another site
        username = self.get_argument("username", "")[:64]
        code = self.get_argument("code", "").strip() or None
        try:
            pair = self.provider.auth.login(
                username, self.get_argument("password", ""), code, source=self.request.remote_ip or ""
            )
        except AuthError as exc:
            self.set_status(401)
            self._page(error=str(exc), username=username)
            return
        self.set_secure_cookie(
            COOKIE, pair.access_token, expires=pair.access_expires_at, httponly=True, samesite="Strict", path="/"
        )
        self.redirect(_local(self.get_argument("next", "/")))

    def _page(self, *, error: str | None = None, note: str | None = None, username: str = "") -> None:
        nxt = _local(self.get_argument("next", "/"))
        page = _PAGE.render(
            action=self.request.path, error=error, note=note, username=username, next=nxt, xsrf=self.xsrf_form_html()
        )
        self.write(page)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        _allow(self, status_code)
        super().write_error(status_code, **kwargs)


class LogoutHandler(RequestHandler):
    """``GET /logout``: a button to log out; ``POST /logout`` (with the XSRF token): revoke the login (every token of
    it), drop the cookie, show the login form."""

    provider: DashboardAuth

    def get(self) -> None:
        self.write(_LOGOUT.render(action=self.request.path, xsrf=self.xsrf_form_html()))

    def post(self) -> None:
        self.check_xsrf_cookie()  # another site cannot log the browser out
        token = self.provider.token(self.request.cookies)
        if token is not None:
            source = self.request.remote_ip or ""
            with contextlib.suppress(AuthError):  # already expired or revoked: nothing left to end
                self.provider.auth.logout(self.provider.auth.authenticate(token, source=source), source=source)
        self.clear_cookie(COOKIE, path="/")
        self.redirect("/login?out=1")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        _allow(self, status_code)
        super().write_error(status_code, **kwargs)


def _allow(handler: RequestHandler, status_code: int) -> None:
    """A 405 says which methods the path takes (RFC 9110: ``Allow``)."""
    if status_code == 405:
        handler.set_header("Allow", "GET, POST")


def _local(url: str) -> str:
    r"""``url`` if it is a path on this server, else ``/`` (no open redirect to another site).

    Browsers drop tabs and newlines anywhere in a URL and read ``\`` as ``/``: ``/\t/evil.com`` is ``//evil.com``
    to them. So a control character, a space or a backslash anywhere refuses it, as does a scheme or a host.

    >>> _local("/runs?tab=2"), _local("/\t/evil.com"), _local("//evil.com"), _local("/\\evil.com")
    ('/runs?tab=2', '/', '/', '/')
    """
    if any(ord(c) <= 0x20 or c in "\x7f\\" for c in url):
        return "/"
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not url.startswith("/") or url.startswith("//"):
        return "/"
    return url

"""Logging in to the served dashboard through `workbench.auth`: a login page, a session cookie, a logout.

`DashboardAuth` is the Bokeh/Panel auth provider of the server. Its login page checks the username, password
(argon2) and, for users who enrolled one, the authenticator code with `AuthService.login` — so failures count
towards the lockout and every attempt is audited — and keeps the login's access token in a signed, HTTP-only,
same-site cookie. Every page load and websocket is let in only while that token is valid (`AuthService
.authenticate`: not expired, not revoked, user enabled); logging out revokes it. A wrong password shows
"invalid credentials" and sets nothing.

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

import jinja2
from bokeh.server.auth_provider import AuthProvider
from tornado.web import RequestHandler, decode_signed_value

from workbench.auth.errors import AuthError
from workbench.auth.service import AuthService

#: The cookie holding a login's access token (signed with the server's cookie secret).
COOKIE = "workbench_session"
_PAGE = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True
).get_template("login.html")


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
        self.write(_PAGE.render(action=self.request.path, error=error, note=note, username=username, next=nxt))


class LogoutHandler(RequestHandler):
    """``GET /logout``: revoke the login (every token of it), drop the cookie, show the login form."""

    provider: DashboardAuth

    def get(self) -> None:
        token = self.provider.token(self.request.cookies)
        if token is not None:
            source = self.request.remote_ip or ""
            with contextlib.suppress(AuthError):  # already expired or revoked: nothing left to end
                self.provider.auth.logout(self.provider.auth.authenticate(token, source=source), source=source)
        self.clear_cookie(COOKIE, path="/")
        self.redirect("/login?out=1")


def _local(url: str) -> str:
    """``url`` if it is a path on this server, else ``/`` (no open redirect to another site)."""
    return url if url.startswith("/") and not url.startswith("//") and "\\" not in url else "/"

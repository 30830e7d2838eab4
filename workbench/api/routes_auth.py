"""``/api/v1/auth``: log in (password, and a TOTP code when the user has one), refresh, log out, who am I."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from workbench.api.deps import Caller, State, client_ip, limit_login
from workbench.api.errors import ERROR_RESPONSES, ApiError
from workbench.api.schemas import LoginIn, MeOut, RefreshIn, RevokedOut, TokenOut
from workbench.auth.tokens import TokenPair

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=ERROR_RESPONSES)


def _tokens(pair: TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        access_expires_at=pair.access_expires_at,
        refresh_expires_at=pair.refresh_expires_at,
    )


@router.post("/login", dependencies=[Depends(limit_login)])
def login(body: LoginIn, request: Request, state: State) -> TokenOut:
    """Exchange a username and password (and TOTP code) for an access token (short-lived, sent as
    ``Authorization: Bearer``) and a refresh token. Repeated failures lock the user out for a while."""
    return _tokens(state.auth.login(body.username, body.password, body.code, source=client_ip(request)))


@router.post("/refresh", dependencies=[Depends(limit_login)])
def refresh(body: RefreshIn, request: Request, state: State) -> TokenOut:
    """Exchange a refresh token for a new pair. Each refresh token works once: presented again, it ends the login
    (every token of it), since only a copy could be presented twice."""
    return _tokens(state.auth.refresh(body.refresh_token, source=client_ip(request)))


@router.post("/logout")
def logout(request: Request, who: Caller, state: State) -> RevokedOut:
    """End the login of the bearer token sent: every token of it stops working."""
    if who.session is None:
        raise ApiError(403, "logout ends a login session; an API key is revoked with `workbench keys revoke`")
    return RevokedOut(revoked=state.auth.logout(who, source=client_ip(request)))


@router.get("/me")
def me(who: Caller) -> MeOut:
    """The caller: user, role, the scopes of this credential, and the credential (key prefix or login)."""
    return MeOut(username=who.username, role=who.role, scopes=sorted(who.scopes), credential=who.credential)

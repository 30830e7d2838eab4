"""One error body for every failure, whatever raised it, and the handlers that turn exceptions into it.

Every error answers ``{"error": {"status": 404, "code": "not_found", "message": "...", ...}}``; validation errors
add ``fields`` (where and what, never the value sent: it may be a password), a risk denial adds ``rule``, and a
rate limit the ``Retry-After`` header. An unexpected exception is logged and answered with a bare 500.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from workbench.auth.errors import AuthError, PermissionDenied
from workbench.logs import get_logger

_log = get_logger("workbench.api")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    502: "broker_error",
    503: "unavailable",
}


class FieldError(BaseModel):
    """One invalid part of a request: where (``["body", "qty"]``), what was wrong, and the error type."""

    loc: list[str | int]
    message: str
    type: str


class ErrorDetail(BaseModel):
    """What went wrong: the HTTP status, a stable machine ``code`` and a message for people."""

    status: int
    code: str
    message: str
    fields: list[FieldError] | None = None
    rule: str | None = None


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a route that may answer these error statuses with an `ErrorBody`."""
    return {status: {"model": ErrorBody, "description": _CODES[status].replace("_", " ")} for status in statuses}


#: The error responses every route may give (unreadable body, authentication, scope, body size, validation, rate
#: limits, limiter storage down), documented on each.
ERROR_RESPONSES = documented(400, 401, 403, 413, 422, 429, 503)


class ApiError(Exception):
    """An error to answer with ``status``: raised by routes and dependencies, rendered as an `ErrorBody`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        rule: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.rule = status, message, rule
        self.code = code or _CODES.get(status, "error")
        self.headers = headers or {}


def error_response(error: ApiError, fields: list[FieldError] | None = None) -> JSONResponse:
    """The JSON response of ``error``."""
    detail = ErrorDetail(status=error.status, code=error.code, message=error.message, fields=fields, rule=error.rule)
    body = ErrorBody(error=detail).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def allowed_methods(request: Request) -> set[str]:
    """Every method some route of the app takes at ``request``'s path (what a 405's ``Allow`` lists), read from the
    app's OpenAPI paths (every route is documented there, whichever router holds it)."""
    table = getattr(request.app.state, "allowed_methods", None)
    if table is None:
        table = request.app.state.allowed_methods = [
            (compile_path(path)[0], {m.upper() for m in operations if m.upper() in _METHODS})
            for path, operations in request.app.openapi().get("paths", {}).items()
        ]
    return {m for regex, taken in table if regex.match(request.url.path) for m in taken}


def install_error_handlers(app: FastAPI) -> None:
    """Answer every exception the routes and the framework raise with an `ErrorBody`."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(AuthError)
    async def _auth_error(request: Request, exc: AuthError) -> JSONResponse:
        return error_response(ApiError(401, str(exc), headers={"WWW-Authenticate": "Bearer"}))

    @app.exception_handler(PermissionDenied)
    async def _permission_denied(request: Request, exc: PermissionDenied) -> JSONResponse:
        return error_response(ApiError(403, str(exc)))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [FieldError(loc=list(e["loc"]), message=e["msg"], type=e["type"]) for e in exc.errors()]
        where = "; ".join(f"{'.'.join(map(str, f.loc))}: {f.message}" for f in fields[:5])
        return error_response(ApiError(422, f"invalid request: {where}"), fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette names the methods of the first route of the path only
            given = {m.strip() for m in headers.get("Allow", "").split(",") if m.strip()}
            headers["Allow"] = ", ".join(sorted(given | allowed_methods(request)))
        return error_response(ApiError(exc.status_code, str(exc.detail), headers=headers))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.error("unhandled error", path=request.url.path, error=type(exc).__name__, exc_info=exc)
        return error_response(ApiError(500, "internal error"))

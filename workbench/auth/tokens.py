"""Bearer tokens of login sessions: opaque random strings, stored only as their SHA-256.

An access token (``wba_...``) is short-lived and sent with every request; a refresh token (``wbr_...``) lives
longer and is exchanged, once, for a new pair (rotation). Opaque tokens rather than signed ones: the store is the
one place that says whether a token is valid, so revoking a session takes effect at the next request.

A token is looked up by its hash, so how long the lookup takes can tell only about a hash, never about the token.

>>> token, digest = new_token("access")
>>> token_kind(token).value, token_hash(token) == digest
('access', True)
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from workbench.store.models_admin import TokenKind

_MARKS = {TokenKind.ACCESS: "wba_", TokenKind.REFRESH: "wbr_"}
_TOKEN = re.compile(r"(wba|wbr)_[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class TokenPair:
    """What a login or a refresh hands out: both tokens and when each stops working."""

    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime

    def __repr__(self) -> str:  # tokens never reach a log line through a repr
        return f"TokenPair(access_expires_at={self.access_expires_at}, refresh_expires_at={self.refresh_expires_at})"


def new_token(kind: TokenKind | str) -> tuple[str, str]:
    """A new random token of ``kind`` and its hash (the only form stored)."""
    token = _MARKS[TokenKind(kind)] + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_kind(presented: str) -> TokenKind | None:
    """The kind of a well-formed token, or None."""
    match = _TOKEN.fullmatch(presented)
    if match is None:
        return None
    return TokenKind.ACCESS if match.group(1) == "wba" else TokenKind.REFRESH


def token_hash(token: str) -> str:
    """The stored form of ``token``: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()

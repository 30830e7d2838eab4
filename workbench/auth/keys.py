"""API keys: random secrets shown once, stored as a SHA-256 hash, found again by their public prefix.

A key reads ``wbk_<8 hex>_<secret>``: ``wbk_<8 hex>`` is its prefix (stored in clear, shown in lists and logs,
used to find the row), the rest 256 random bits. A fast hash suffices: unlike a password, a 256-bit random
secret cannot be guessed, so a stolen hash does not lead back to the key.

>>> new = new_key()
>>> new.key.startswith(new.prefix + "_") and key_prefix(new.key) == new.prefix
True
>>> key_matches(new.key_hash, new.key), key_matches(new.key_hash, new.key[:-1] + "x")
(True, False)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

KEY_MARK = "wbk_"
_KEY = re.compile(r"(wbk_[0-9a-f]{8})_[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``key`` is shown to its owner once and never stored; ``prefix`` and ``key_hash`` are."""

    key: str
    prefix: str
    key_hash: str

    def __repr__(self) -> str:  # a key printed by accident (a log line, a traceback) shows its prefix only
        return f"NewKey(prefix={self.prefix!r})"


def new_key() -> NewKey:
    """A new random API key with its prefix and hash."""
    prefix = KEY_MARK + secrets.token_hex(4)
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(key, prefix, key_hash(key))


def key_prefix(presented: str) -> str | None:
    """The prefix of a well-formed key, or None (nothing of a malformed one is worth keeping)."""
    match = _KEY.fullmatch(presented)
    return match.group(1) if match else None


def key_hash(key: str) -> str:
    """The stored form of ``key``: its SHA-256, in hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_matches(stored_hash: str, presented: str) -> bool:
    """Whether ``presented`` hashes to ``stored_hash``, compared in constant time."""
    return hmac.compare_digest(stored_hash.encode(), key_hash(presented).encode())

"""Password hashing with argon2id: hash once at creation, verify in constant time, rehash when parameters change.

>>> from argon2 import PasswordHasher
>>> hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # cheap, for the example
>>> stored = hash_password("correct horse", hasher)
>>> verify_password(stored, "correct horse", hasher), verify_password(stored, "wrong", hasher)
(True, False)
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: argon2-cffi's defaults (RFC 9106's low-memory profile: argon2id, 64 MiB, 3 passes), about 0.2 s a hash.
DEFAULT_HASHER = PasswordHasher()


def hash_password(password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    """The argon2id hash of ``password`` (a random salt and the parameters are part of the text)."""
    return hasher.hash(password)


def verify_password(password_hash: str, password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> bool:
    """Whether ``password`` matches ``password_hash``; a malformed hash is a mismatch, never an exception.

    argon2 compares the derived digests in constant time, so how long this takes tells nothing about how much
    of the password was right.
    """
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):  # a mismatch is a VerificationError
        return False


def needs_rehash(password_hash: str, hasher: PasswordHasher = DEFAULT_HASHER) -> bool:
    """Whether ``password_hash`` was made with other parameters than ``hasher``'s (rehash it at the next login)."""
    return hasher.check_needs_rehash(password_hash)

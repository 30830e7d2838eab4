"""TOTP secrets encrypted at rest: whoever reads the database cannot make second factors without the key too.

A secret is stored as ``enc1:`` and a Fernet token (AES-128-CBC with HMAC-SHA256, from ``cryptography``). The key
is the setting ``totp_key`` (a Fernet key, or any passphrase, stretched with SHA-256), else a key file,
``<home>/secrets/totp.key``, made on first need and readable by its owner only. Keep the key apart from the database
(its backups above all): with it lost, users with a second factor must enrol again. A secret stored before, in
clear (``users.totp_secret``), is still read; `seal_stored` seals every such secret into ``users.totp_sealed`` (the
services do it when they start).

>>> vault = Vault(Vault.new_key())
>>> stored = vault.seal("JBSWY3DPEHPK3PXP")
>>> stored.startswith(PREFIX) and "JBSWY3DP" not in stored, vault.open(stored)
(True, 'JBSWY3DPEHPK3PXP')
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken

from workbench.auth.errors import AuthError
from workbench.errors import ConfigError
from workbench.logs import get_logger
from workbench.store.models_admin import UserRow

if TYPE_CHECKING:
    from workbench.config import Settings
    from workbench.store.database import Store

#: How a sealed secret starts (a secret stored in clear is base32: it never does).
PREFIX = "enc1:"
_log = get_logger("workbench.auth")


class Vault:
    """Seals and opens TOTP secrets with one key (see the module docstring): ``key``, else the key of ``settings``
    (`load_settings` when None): ``totp_key``, else the key file in ``home``, read (or made) when first needed, so a
    store without second factors never makes one."""

    def __init__(self, key: str | bytes | None = None, *, settings: Settings | None = None) -> None:
        self._key, self._settings = key, settings
        self._fernet: Fernet | None = None

    @staticmethod
    def new_key() -> str:
        """A new random key, as the setting ``totp_key`` or the key file holds it."""
        return Fernet.generate_key().decode()

    def seal(self, secret: str) -> str:
        """``secret`` encrypted, as stored."""
        return PREFIX + self._box().encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        """The secret ``stored`` holds (one stored in clear, before, as it is).

        Raises
        ------
        AuthError
            It was sealed with another key (the key was changed or lost).
        """
        if not stored.startswith(PREFIX):
            return stored
        try:
            return self._box().decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise AuthError(
                "invalid credentials", reason="totp_key_mismatch: the TOTP secret was sealed with another key"
            ) from None

    def _box(self) -> Fernet:
        if self._fernet is None:
            key = self._key
            if key is None:
                from workbench.config import load_settings

                settings = self._settings if self._settings is not None else load_settings()
                secret = settings.totp_key
                key = secret.get_secret_value() if secret is not None else _key_file(settings.home / "secrets/totp.key")
            self._fernet = Fernet(_fernet_key(key))
        return self._fernet


def seal_stored(store: Store, vault: Vault) -> int:
    """Encrypt every TOTP secret still stored in clear (from before secrets were sealed) with ``vault``, in one
    transaction; returns how many. Logging in keeps working: the same secret, sealed. One query (and no key read or
    made) when there is nothing to seal."""
    import sqlalchemy as sa

    clear = sa.select(UserRow).where(UserRow.totp_secret.is_not(None))
    with store.unit_of_work(readonly=True) as uow:
        if uow.session.scalars(clear.limit(1)).first() is None:
            return 0
    with store.unit_of_work() as uow:
        rows = list(uow.session.scalars(clear))
        for row in rows:
            row.totp_sealed, row.totp_secret = vault.seal(row.totp_secret), None
    _log.info("TOTP secrets stored in clear are sealed now", users=len(rows))
    return len(rows)


def _fernet_key(key: str | bytes) -> bytes:
    """``key`` as a Fernet key: as it is when it is one (32 bytes, url-safe base64), else a passphrase stretched."""
    raw = key.encode() if isinstance(key, str) else key
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return raw
    except (binascii.Error, ValueError):
        pass
    if not raw.strip():
        raise ConfigError("totp_key is empty: expected a Fernet key (44 characters) or a passphrase")
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest())


def _key_file(path: Path) -> str:
    """The key in ``path``, made there first (owner-only) if there is none; two processes making it at once agree
    (it appears whole, by a hard link: the second reads the first's)."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    handle = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w") as file:
        file.write(Vault.new_key() + "\n")
    try:
        os.link(draft, path)
        _log.info("TOTP key made", path=str(path))
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text().strip()

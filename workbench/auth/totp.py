"""The optional second factor: time-based one-time codes (RFC 6238, what authenticator apps show), via pyotp.

A code is accepted within one 30-second step of the clock either way (clock drift) and only once: the step of
the last accepted code is kept, and a code of that step or an earlier one is refused (no replay).

>>> from datetime import datetime, timezone
>>> secret = new_secret()
>>> now = datetime(2024, 7, 1, 14, 30, tzinfo=timezone.utc)
>>> step = accept_code(secret, pyotp.TOTP(secret).at(now), now, last_step=None)
>>> step is not None, accept_code(secret, pyotp.TOTP(secret).at(now), now, last_step=step)
(True, None)
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

ISSUER = "Quant Workbench"
#: Steps of clock drift tolerated either way.
DRIFT_STEPS = 1


def new_secret() -> str:
    """A new random base32 secret (160 bits), to store with the user and enrol in an authenticator app."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` URI (shown once, as text or a QR code) that enrols ``secret`` in an authenticator app."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def accept_code(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step whose code ``code`` is (within `DRIFT_STEPS` of ``now``) if it is newer than ``last_step``,
    else None. Codes are compared in constant time."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        step = current + offset
        expected = totp.at(now, counter_offset=offset)
        if (last_step is None or step > last_step) and hmac.compare_digest(expected.encode(), code.encode()):
            return step
    return None

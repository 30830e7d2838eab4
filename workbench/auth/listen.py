"""Where the API may listen: loopback always; any other address only once someone can authenticate.

Every route but ``/health`` needs a credential anyway; refusing to bind beyond loopback without a user is the
second lock, against a server exposed before anyone set up access.
"""

from __future__ import annotations

import ipaddress

from workbench.auth.accounts import Accounts
from workbench.errors import ConfigError
from workbench.store.database import Store


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``127.0.0.0/8``, ``::1``) or ``localhost``.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0"), is_loopback("example.org")
    (True, True, False, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def check_bind(host: str, store: Store) -> None:
    """Refuse to serve on a non-loopback ``host`` unless authentication is configured (an enabled user exists).

    Raises
    ------
    ConfigError
        Naming the address and how to set up access.
    """
    if not is_loopback(host) and not Accounts(store).configured():
        raise ConfigError(
            f"refusing to serve the API on {host}: no user can authenticate yet. Add one with "
            "`workbench users add NAME --role trader` (and a key with `workbench keys create NAME`), "
            "or serve on 127.0.0.1"
        )

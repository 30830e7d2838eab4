"""The REST API (optional extra ``workbench[api]``: FastAPI and uvicorn): ``create_app`` builds it, ``workbench api
serve`` runs it (on 127.0.0.1 unless told otherwise, and never beyond loopback without users to authenticate).

>>> from workbench.api import create_app  # doctest: +SKIP
>>> app = create_app(store, api_account(store, cash=10_000))  # trading.build.api_account  # doctest: +SKIP

Names load on first use, so ``import workbench.api`` does not import FastAPI.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ApiConfig": "workbench.api.config",
    "create_app": "workbench.api.app",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'workbench.api' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)

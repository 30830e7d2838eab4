"""Persistence: SQLAlchemy 2 models of every record, repositories, units of work and the bundled migrations.

>>> from workbench.store import Store
>>> store = Store.open("sqlite://")          # or a URL, Settings, or None for the configured database
>>> with store.unit_of_work() as uow:       # one transaction: all of it is committed, or none
...     uow.strategies.add("sma_cross", params={"fast": 10}, enabled=True).name
'sma_cross'

SQLite (WAL) is the default, a file in ``~/.workbench``; PostgreSQL by URL (``postgresql://...``, psycopg 3).
Names load on first use, so ``workbench db ...`` starts without importing the trading core.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Store": "workbench.store.database",
    "StoreError": "workbench.store.errors",
    "StoreIntegrityError": "workbench.store.errors",
    "StoreValidationError": "workbench.store.errors",
    "UnitOfWork": "workbench.store.unit_of_work",
    "create_store_engine": "workbench.store.engine",
    "mask_url": "workbench.store.engine",
}

__all__ = [
    "Store",
    "StoreError",
    "StoreIntegrityError",
    "StoreValidationError",
    "UnitOfWork",
    "create_store_engine",
    "mask_url",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'workbench.store' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)

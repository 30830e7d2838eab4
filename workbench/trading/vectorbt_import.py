"""Import vectorbt (for ``to_vectorbt``) without the seconds its import spends on modules it never uses.

* vectorbt imports plotly's widgets, which import nbformat and jsonschema; jsonschema, when ``rfc3987_syntax`` is
  installed (JupyterLab's ``jsonschema[format-nongpl]`` brings it), builds that package's Lark grammar at import
  to check one string format (3-8 s). vectorbt validates no such format, so the grammar is kept out while vectorbt
  loads and ``rfc3987_syntax`` stays importable afterwards.
* vectorbt imports quantstats (for ``pf.qs``), which imports yfinance (0.5-0.7 s: its cache's peewee and
  psycopg, curl_cffi, bs4) and uses it only to download returns. yfinance is put in ``sys.modules`` as a
  deferred module that runs on its first use, so ``pf.qs`` and quantstats keep every feature.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any


def import_vectorbt() -> ModuleType:
    """``import vectorbt``, skipping jsonschema's optional ``rfc3987_syntax`` check and deferring yfinance's
    import to its first use, if vectorbt is not loaded yet."""
    if "vectorbt" in sys.modules:
        return sys.modules["vectorbt"]
    blocked = "rfc3987_syntax" not in sys.modules and "jsonschema" not in sys.modules
    if blocked:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # makes its import an ImportError
    _defer("yfinance")
    try:
        import vectorbt
    finally:
        if blocked and sys.modules.get("rfc3987_syntax", 0) is None:
            del sys.modules["rfc3987_syntax"]
    return vectorbt


class _Deferred(ModuleType):
    """A module in ``sys.modules`` whose code runs on its first attribute access; ``import`` alone does not run it
    (``importlib.util.LazyLoader``'s modules run at the next ``import`` statement naming them)."""

    def __getattr__(self, attr: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)  # later lookups find the names directly
        return getattr(real, attr)


def _defer(name: str) -> None:
    """Put module ``name`` in ``sys.modules`` as a `_Deferred` module, if it is installed and not imported yet."""
    if name in sys.modules or importlib.util.find_spec(name) is None:
        return
    sys.modules[name] = _Deferred(name)

"""Import vectorbt (for ``to_vectorbt``) without the 3-8 s its import spends on an optional parser it never uses.

vectorbt imports plotly's widgets, which import nbformat and jsonschema; jsonschema, when ``rfc3987_syntax`` is
installed (JupyterLab's ``jsonschema[format-nongpl]`` brings it), builds that package's Lark grammar at import to
check one string format. vectorbt validates no such format, so the grammar is kept out while vectorbt loads and
``rfc3987_syntax`` stays importable afterwards.
"""

from __future__ import annotations

import sys
from types import ModuleType


def import_vectorbt() -> ModuleType:
    """``import vectorbt``, skipping jsonschema's optional ``rfc3987_syntax`` check if vectorbt is not loaded yet."""
    if "vectorbt" in sys.modules:
        return sys.modules["vectorbt"]
    blocked = "rfc3987_syntax" not in sys.modules and "jsonschema" not in sys.modules
    if blocked:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # makes its import an ImportError
    try:
        import vectorbt
    finally:
        if blocked and sys.modules.get("rfc3987_syntax", 0) is None:
            del sys.modules["rfc3987_syntax"]
    return vectorbt

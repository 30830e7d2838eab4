"""An executed report notebook as one self-contained HTML file, written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).with_name("templates")


def to_html(notebook: Any, show_code: bool = False) -> str:
    """``notebook`` (executed) as a standalone HTML page: code cells hidden unless ``show_code``, no CDN scripts.

    Examples
    --------
    >>> import nbformat
    >>> page = to_html(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Hello")]))
    >>> "Hello" in page and "cdnjs" not in page
    True
    """
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="offline",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(_without_empty_outputs(notebook))
    return body


def _without_empty_outputs(notebook: Any) -> Any:
    """A copy of ``notebook`` without display outputs that carry no data (HoloViews and Panel publish a few),
    which nbconvert would warn about and render as nothing."""
    import copy

    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if o.get("output_type") != "display_data" or o.get("data")]
    return notebook


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename, so ``path`` is
    either the whole new file or untouched, and no temporary file is left behind.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "report.html"
    >>> write_atomic(target, "<p>hi</p>").read_text()
    '<p>hi</p>'
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would make the report private to its writer
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path

"""A tutorial page that is a notebook of ``notebooks/``, run with small parameters, instead of a copy of it.

A ``.nblink`` file holds JSON: ``{"notebook": "notebooks/NAME.ipynb", "parameters": {...}}`` (the path from the
repository's root). myst-nb reads it through `read_nblink` (``nb_custom_formats``), which loads the notebook and
injects the parameters after its ``parameters`` cell as papermill does, so the page executes the very notebook the
repository ships, with the small parameters that keep the docs build fast (and its plots embedded, not loaded from a
CDN).
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

ROOT = Path(__file__).resolve().parents[2]


def read_nblink(text: str) -> nbformat.NotebookNode:
    """The notebook a ``.nblink`` names, with its parameters injected (no execution here: myst-nb runs it)."""
    link = json.loads(text)
    notebook = load_notebook_node(str(ROOT / link["notebook"]))  # papermill's loader: the metadata it expects
    parameters = link.get("parameters") or {}
    if parameters:
        notebook = parameterize_notebook(notebook, parameters, report_mode=False, kernel_name="python3")
    notebook.cells.insert(0, _INLINE_PLOTS)
    return notebook


# Run first, hidden from the page: HoloViews (under hvplot) loads Bokeh and Panel into the notebook from their CDN
# unless told to embed them; the site must load nothing from the network.
_INLINE_PLOTS = nbformat.v4.new_code_cell(
    "import holoviews.ipython\n\nholoviews.ipython.notebook_extension.inline = True",
    metadata={"tags": ["remove-cell"]},
)

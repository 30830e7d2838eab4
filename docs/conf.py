"""Sphinx configuration of the workbench's documentation site.

Why Sphinx, pydata-sphinx-theme and myst-nb: they are what the PyData projects our users already read ship (pandas,
Panel, hvplot, xarray), so the site looks and navigates like them; autodoc reads our numpydoc docstrings as they are;
myst-nb executes the tutorial notebooks at build time, so a tutorial whose code stops working fails the build. The
reference pages are generated from the code by the small extensions in ``_ext/``. See ``about.md``.

Offline by construction: no intersphinx, math rendered to MathML at build time (``_ext/mathml.py``), Bokeh/Panel
output of executed notebooks inlined (``BOKEH_RESOURCES=inline`` for the kernels), no widget scripts from a CDN.
``tests/docs/test_site.py`` builds the site strictly and loads it in Chromium with the network cut off.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

# Kernels started by myst-nb inherit these: Bokeh and Panel embed their JavaScript and stylesheets in the notebook's
# output instead of loading them from cdn.bokeh.org / cdn.holoviz.org (HoloViews is told so by ``_ext/nblink.py``).
os.environ["BOKEH_RESOURCES"] = "inline"
os.environ["PANEL_INLINE"] = "true"
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

project = "Quant Workbench"
author = "Quant Workbench developers"
copyright = "Quant Workbench developers"

from workbench import __version__ as release  # noqa: E402

version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "mathml",
    "cli_reference",
    "settings_reference",
    "openapi_reference",
    "public_api",
    "offline_assets",
]
exclude_patterns = ["_build", "_ext", "**.ipynb_checkpoints", "jupyter_execute"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".nblink": "myst-nb"}
html_math_renderer = "mathml"

# MyST
myst_enable_extensions = ["colon_fence", "dollarmath", "amsmath", "deflist"]
myst_heading_anchors = 3

# myst-nb: every notebook runs at every build (no cache), and a failing cell fails the build.
nb_execution_mode = "force"
nb_execution_timeout = 180
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_custom_formats = {".nblink": "nblink.read_nblink"}
nb_ipywidgets_js = {}  # no require.js / widget manager from a CDN
nb_merge_streams = True
# HoloViews also emits its Jupyter-comm bundles (holoviews_load / holoviews_exec), which only a live kernel can use;
# the static page renders the same plot from the bundle's text/html and application/javascript.
suppress_warnings = ["mystnb.unknown_mime_type"]

# autodoc: numpydoc docstrings; signatures keep their type hints.
autodoc_typehints = "signature"
autodoc_member_order = "bysource"
autodoc_default_options = {"undoc-members": False}
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True  # "Attributes" sections as fields: dataclass fields are documented by autodoc already

# `-n` (nitpicky) checks every cross-reference the pages make; type hints name classes of numpy, pandas, the standard
# library and workbench internals that have no page here (and no intersphinx: the build is offline).
nitpicky = True
nitpick_ignore_regex = [("py:class", r".*"), ("py:data", r".*"), ("py:obj", r".*"), ("py:exc", r"(?!workbench).*")]

html_theme = "pydata_sphinx_theme"
html_title = "Quant Workbench"
html_static_path = ["_static"]
html_css_files = ["workbench.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    "icon_links": [],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_context = {"default_mode": "auto"}  # light or dark as the reader's system is (unset, the theme logs an error)
html_show_sourcelink = False
html_copy_source = False

"""Plots that render offline in a notebook: BokehJS and Panel's JavaScript go inline into the cell output.

HoloViews, hvplot and Panel load their JavaScript from a CDN by default, so on a machine without network (or
in a notebook exported to HTML and opened later) every plot is blank. ``inline_notebook_resources`` makes the
notebook extension publish the libraries themselves, which also makes an exported notebook self-contained.
"""

from __future__ import annotations

import builtins


def in_kernel() -> bool:
    """Whether this code runs in an IPython session (a Jupyter kernel, papermill's or JupyterLab's)."""
    return hasattr(builtins, "__IPYTHON__")


def inline_notebook_resources() -> None:
    """From now on, HoloViews/hvplot/Panel publish their JavaScript inline, not as CDN links (a no-op
    outside IPython). If the extension already loaded from the CDN (``hvplot`` imported before
    ``workbench``), the inline libraries are published once more here so later plots render offline.

    Examples
    --------
    >>> inline_notebook_resources()  # outside a notebook: nothing to do
    """
    if not in_kernel():
        return
    import panel as pn
    from holoviews.ipython import notebook_extension
    from panel.viewable import Viewable

    pn.config.inline = True
    if _inline_stylesheets not in Viewable._preprocessing_hooks:
        Viewable._preprocessing_hooks.append(_inline_stylesheets)
    if notebook_extension.inline:
        return
    notebook_extension.inline = True  # the class default, which hvplot's extension (a subclass) reads too
    if notebook_extension._loaded:
        import holoviews as hv

        hv.extension("bokeh", logo=False)


def _inline_stylesheets(viewable: object, root: object) -> None:
    """Panel's CSS as inline stylesheets instead of CDN links, for every model of a rendered plot or layout.

    Panel does this itself for its own objects when ``pn.config.inline`` is set, but not for the layouts
    HoloViews renders plots into; run as a Panel preprocessing hook, this covers both.
    """
    from bokeh.models import UIElement
    from panel.io.notebook import patch_inline_stylesheets

    for model in root.select({"type": UIElement}):
        patch_inline_stylesheets(model)


def register_hvplot() -> None:
    """Register pandas' ``.hvplot`` accessor, once: importing ``hvplot.pandas`` again in a later notebook cell
    (hvplot drops it from ``sys.modules`` before each cell) re-runs its notebook extension, which publishes
    megabytes of inline JavaScript into that cell's output again."""
    import pandas as pd

    if not hasattr(pd.Series, "hvplot"):
        import hvplot.pandas  # noqa: F401 - registers .hvplot

"""Panel's stylesheets that executed notebooks' plots import from cdn.holoviz.org, served from the site instead.

Panel embeds its JavaScript when told to (``PANEL_INLINE``, ``BOKEH_RESOURCES=inline`` in ``conf.py``), but a plot's
document still names a few stylesheets by their CDN address (``ImportedStyleSheet``). After the build, every such
address in a page is rewritten to a copy of the same file from the installed Panel, under ``_static/panel/``. An
address with no local file is left alone (the offline test then names it).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx


def _local(match: re.Match[str], prefix: str, dist: Path, target: Path) -> str:
    """The file a CDN address names, copied under ``target``: its address relative to the page (``prefix``)."""
    source = dist / match.group(1)
    if not source.is_file():
        return match.group(0)
    (target / match.group(1)).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target / match.group(1))
    return prefix + match.group(1)


def localize_panel_assets(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    from panel.io.resources import CDN_DIST, DIST_DIR

    out = Path(app.outdir)
    target = out / "_static" / "panel"
    address = re.compile(re.escape(CDN_DIST) + r"([A-Za-z0-9_./-]+\.css)")
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if CDN_DIST not in text:
            continue
        prefix = Path(os.path.relpath(target, page.parent)).as_posix() + "/"
        page.write_text(address.sub(lambda m, p=prefix: _local(m, p, DIST_DIR, target), text), encoding="utf-8")
    if target.exists() and (DIST_DIR / "assets").is_dir():  # the spinners the stylesheets refer to
        shutil.copytree(DIST_DIR / "assets", target / "assets", dirs_exist_ok=True)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("build-finished", localize_panel_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

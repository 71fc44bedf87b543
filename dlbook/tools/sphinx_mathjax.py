"""Sphinx extension: serve MathJax 3 from the built site instead of a CDN.

The copy comes from the ``django-static-mathjax`` package on PyPI (MathJax's own
``es5`` build, no Django needed). It is copied to ``_static/mathjax/es5`` after
the build and ``mathjax_path`` points at it, so math renders offline too.
It is deliberately not placed in a ``_static`` folder of the book: Jupyter Book
would then inject every ``.js`` file in it as a script tag.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx

MATHJAX_PATH = "mathjax/es5/tex-chtml.js"


def mathjax_source() -> Path:
    """The ``es5`` folder of the installed MathJax copy."""
    import mathjax  # provided by django-static-mathjax

    src = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (src / "tex-chtml.js").is_file():
        raise FileNotFoundError(f"MathJax not found at {src}; pip install django-static-mathjax")
    return src


def _configure(app: Sphinx, config) -> None:
    config.mathjax_path = MATHJAX_PATH


def _copy(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    dest = Path(app.outdir) / "_static" / "mathjax" / "es5"
    if not (dest / "tex-chtml.js").is_file():
        shutil.copytree(mathjax_source(), dest, dirs_exist_ok=True)


def setup(app: Sphinx) -> dict:
    mathjax_source()  # fail early, with a clear message, if the copy is missing
    app.connect("config-inited", _configure, priority=900)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""Sphinx extension: the book's own CSS, so wide content scrolls instead of being cut off.

A display equation wider than the text column scrolls sideways (the theme already
lets it) and shows a scrollbar that stays visible. Without that, a reader on macOS,
iOS or Android, whose browsers hide overlay scrollbars until one scrolls, sees the
equation cut off at the column's edge with no hint that there is more. Code blocks
get the same scrollbar; notebook code itself is formatted to 79 characters
(``chapters/ruff.toml``), and its font and padding make 79 fit the column.

The stylesheet is written into the built site's ``_static`` folder after the build
(not kept in a ``_static`` folder of the book: see ``sphinx_mathjax``).
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx

CSS_FILE = "dlbook-layout.css"

#: A custom ``::-webkit-scrollbar`` is never an overlay scrollbar: Chromium and Safari
#: always draw it. Firefox does not know it and gets a thin standard one.
CSS = """\
/* dlbook: wide content scrolls sideways, with a scrollbar that stays visible. */
div.math mjx-container[display="true"] {
  overflow-x: auto;
  overflow-y: hidden;
}
div.math mjx-container[display="true"]::-webkit-scrollbar,
div.highlight pre::-webkit-scrollbar {
  height: 8px;
  width: 8px;
}
div.math mjx-container[display="true"]::-webkit-scrollbar-thumb,
div.highlight pre::-webkit-scrollbar-thumb {
  background: rgba(128, 128, 128, 0.55);
  border-radius: 4px;
}
div.math mjx-container[display="true"]::-webkit-scrollbar-track,
div.highlight pre::-webkit-scrollbar-track {
  background: rgba(128, 128, 128, 0.12);
}
/* Notebook code is formatted to 79 characters (chapters/ruff.toml): fit them,
   with room to spare, in the column of a 1280-pixel-wide window that shows both
   sidebars, also inside a folded solution (the theme's 14px font and 16px
   padding fit only 77 characters, 74 in a fold). 13px is GitHub's code size. */
div.cell_input div.highlight pre {
  font-size: 0.8125rem;
  padding-left: 0.75rem;
  padding-right: 0.75rem;
}
@supports not selector(::-webkit-scrollbar) {
  div.math mjx-container[display="true"],
  div.highlight pre {
    scrollbar-width: thin;
  }
}
"""


def _write(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    (static / CSS_FILE).write_text(CSS, encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.add_css_file(CSS_FILE)
    app.connect("build-finished", _write)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""Build the website with warnings treated as errors.

    python -m dlbook.tools.site                 # build into _build/html
    python -m dlbook.tools.site --serve         # build, then serve it on http://127.0.0.1:8000

The build never executes a notebook (outputs are stored; see ``_config.yml``).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import subprocess
import sys
from pathlib import Path

from dlbook.tools.book import ROOT


def build(output: Path | None = None, *, root: Path = ROOT) -> Path:
    """Run ``jupyter-book build -W -n --keep-going``; return the HTML folder. Raises if it fails."""
    cmd = [
        sys.executable,
        "-c",
        "from jupyter_book.cli.main import main; main()",
        "build",
        "-W",
        "-n",
        "--keep-going",
        str(root),
    ]
    if output is not None:
        cmd += ["--path-output", str(output)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"jupyter-book build failed (exit {result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
        )
    return (output or root) / "_build" / "html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", action="store_true", help="serve the built site on localhost")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    try:
        html = build()
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"Built the website: open {html / 'index.html'}")
    if args.serve:
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(html))
        with http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler) as server:
            print(f"Serving on http://127.0.0.1:{args.port}/ (Ctrl-C to stop)")
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Build the website with warnings treated as errors.

    python -m dlbook.tools.site                 # build into _build/html
    python -m dlbook.tools.site --serve         # build, then serve it on http://127.0.0.1:8000
    python -m dlbook.tools.site --student       # the student edition: no solutions, no answers

The build never executes a notebook (outputs are stored; see ``_config.yml``).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
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


#: Not copied into the student edition's sources (hidden folders such as .pytest_cache
#: would otherwise become pages outside the table of contents and fail the build).
_NOT_COPIED = (".*", "_build", "student", "tests", "dlbook", "dlbook.egg-info", "__pycache__")


def student_tree(dest: Path, *, root: Path = ROOT) -> Path:
    """The book's sources with every chapter replaced by its student version, in ``dest``.

    Solutions become ``# YOUR CODE HERE``, folded answers "*Write your answer here.*"
    (:func:`dlbook.assign.student_version`); the lesson cells before the first exercise
    keep their stored outputs, the exercise cells have none. Raises if any solution
    line is left anywhere (:func:`dlbook.assign.leaks`).
    """
    import shutil

    import nbformat

    from dlbook.assign import leaks, student_version
    from dlbook.homework import exercises
    from dlbook.tools.book import chapters

    shutil.copytree(root, dest, ignore=shutil.ignore_patterns(*_NOT_COPIED), dirs_exist_ok=True)
    for chapter in chapters(root):
        ref = chapter.read()
        student = student_version(ref, name=chapter.stem)
        student.metadata = ref.metadata  # the build reads the kernel and language from it
        first = min((ex.solution_cell for ex in exercises(ref)), default=len(ref.cells))
        for i, (r, s) in enumerate(zip(ref.cells, student.cells, strict=True)):
            if s.cell_type == "code" and i < first and r.source == s.source:
                s.outputs, s.execution_count = r.outputs, r.execution_count
        leaked = leaks(ref, student)
        if leaked:
            raise RuntimeError(
                f"{chapter.stem}: solution text in the student edition: {leaked[:3]}"
            )
        nbformat.write(student, dest / chapter.path.relative_to(root))
    config = dest / "_config.yml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        re.sub(r'^title: "(.*)"$', r'title: "\1 (student edition)"', text, count=1, flags=re.M),
        encoding="utf-8",
    )
    return dest


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m dlbook.tools.site``."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--serve", action="store_true", help="serve the built site on localhost")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--student",
        action="store_true",
        help="build the student edition (solutions and answers removed) into _build/student",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.student:
            import tempfile

            with tempfile.TemporaryDirectory(prefix="dlbook-student-site-") as tmp:
                tree = student_tree(Path(tmp) / "book")
                html = build(root=tree)
                target = ROOT / "_build" / "student"
                import shutil

                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(html, target / "html")
                html = target / "html"
        else:
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

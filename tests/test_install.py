"""Installing the book outside the one tested path: a CPU-only Linux laptop,
Binder, an old environment (issue 14)."""

from __future__ import annotations

import re
import shlex

from dlbook.tools.book import ROOT

CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _requirement_pins(path) -> dict[str, str]:
    """``{name: specifier}`` of a requirements file's package lines."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        m = re.match(r"^([A-Za-z0-9_.-]+)\s*(\S.*)?$", line)
        if line and not line.startswith("-") and m:
            pins[m.group(1).lower()] = (m.group(2) or "").replace(" ", "")
    return pins


def _readme_setup_steps() -> list[list[str]]:
    """The README's one-command set-up, split into its ``&&`` steps."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set up and build the website", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    command = block.replace("\\\n", " ")
    return [shlex.split(step) for step in command.split("&&")]


# --- item 3: a CPU-only Linux machine gets PyTorch's CPU build ------------------


def test_readme_installs_the_cpu_build_of_torch_first() -> None:
    steps = _readme_setup_steps()
    torch_steps = [
        i
        for i, s in enumerate(steps)
        if s[:2] == ["pip", "install"] and any(a.startswith("torch") for a in s[2:])
    ]
    assert torch_steps, "the README's set-up command does not install torch on its own"
    i = torch_steps[0]
    step = steps[i]
    assert "--index-url" in step and step[step.index("--index-url") + 1] == CPU_INDEX, (
        f"torch is not taken from PyTorch's CPU wheel index: {step}"
    )
    pinned = _requirement_pins(ROOT / "requirements.txt")["torch"]
    assert f"torch{pinned}" in step, (
        f"the README installs another torch than requirements.txt pins ({pinned}): {step}"
    )
    req = [j for j, s in enumerate(steps) if "requirements.txt" in s]
    assert req and i < req[0], "the CPU torch must be installed before requirements.txt"


# --- item 4: Binder gets a light environment -----------------------------------

BINDER = ROOT / ".binder" / "requirements.txt"
#: What Binder's base image already has (repo2docker installs Jupyter itself).
BINDER_BASE = {"ipython", "ipykernel", "jupyterlab", "notebook", "nbformat", "traitlets"}
#: The docs and test toolchain: in requirements.txt, never on Binder.
TOOLCHAIN = {
    "jupyter-book",
    "django-static-mathjax",
    "pytest",
    "pytest-xdist",
    "nbval",
    "playwright",
    "ruff",
    "nbclient",
    "jupyterlab",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(names: set[str]) -> set[str]:
    """``names`` and everything they depend on, as installed here (normalized names)."""
    import importlib.metadata as md

    seen: set[str] = set()
    todo = [_norm(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for req in requires:
            if "extra ==" in req:
                continue
            todo.append(_norm(re.match(r"[A-Za-z0-9_.-]+", req).group(0)))
    return seen


def _dlbook_dependencies() -> set[str]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {re.match(r"[A-Za-z0-9_.-]+", d).group(0) for d in project["dependencies"]}


def _chapter_imports() -> dict[str, set[str]]:
    """Top-level modules each chapter imports, read from its code cells."""
    import ast

    from dlbook.tools.book import chapters

    found = {}
    for ch in chapters():
        names: set[str] = set()
        for cell in ch.read().cells:
            if cell.cell_type != "code":
                continue
            # IPython magics and shell lines are not Python: read them as `pass`.
            source = re.sub(r"^(\s*)[%!].*$", r"\1pass", cell.source, flags=re.M)
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Import):
                    names |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names.add(node.module.split(".")[0])
        found[ch.stem] = names
    return found


def test_binder_has_its_own_light_environment() -> None:
    assert BINDER.is_file(), "Binder builds from .binder/requirements.txt: it is missing"
    text = BINDER.read_text(encoding="utf-8")
    pins = {_norm(k): v for k, v in _requirement_pins(BINDER).items()}
    heavy = sorted(set(pins) & {_norm(t) for t in TOOLCHAIN})
    assert not heavy, f"Binder installs the docs/test toolchain: {heavy}"
    assert not re.search(r"^\s*-r\s", text, re.M), "Binder must not include requirements.txt"
    assert re.search(rf"^--(extra-)?index-url {re.escape(CPU_INDEX)}\s*$", text, re.M), (
        "Binder must take torch from PyTorch's CPU wheel index"
    )
    torch = _requirement_pins(ROOT / "requirements.txt")["torch"]
    assert pins.get("torch") == f"{torch}+cpu", (
        f"Binder's torch should be the CPU build of requirements.txt's ({torch}): {pins.get('torch')}"
    )
    assert re.search(r"^-e \.\s*$", text, re.M), "Binder must install dlbook itself (-e .)"


def test_binder_provides_every_import_of_every_chapter() -> None:
    import importlib.metadata as md
    import sys

    dists = _closure(set(_requirement_pins(BINDER)) | _dlbook_dependencies() | BINDER_BASE)
    provided = {"dlbook"} | set(sys.stdlib_module_names)
    for module, owners in md.packages_distributions().items():
        if any(_norm(o) in dists for o in owners):
            provided.add(module)
    missing = {
        stem: sorted(names - provided)
        for stem, names in _chapter_imports().items()
        if names - provided
    }
    assert not missing, (
        "chapters import modules that Binder's environment lacks "
        f"(add them to .binder/requirements.txt or dlbook's dependencies): {missing}"
    )


def test_dlbook_imports_only_what_it_declares() -> None:
    """``import dlbook`` (what every chapter does) needs only dlbook's declared dependencies."""
    import importlib.metadata as md
    import subprocess
    import sys

    code = "import sys, dlbook; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = set(out.stdout.split()) - set(sys.stdlib_module_names) - {"dlbook"}
    dists = _closure(_dlbook_dependencies())
    owners = md.packages_distributions()
    undeclared = sorted(
        m
        for m in loaded
        if not m.startswith("_") and m in owners and not any(_norm(o) in dists for o in owners[m])
    )
    assert not undeclared, f"import dlbook loads modules of undeclared packages: {undeclared}"

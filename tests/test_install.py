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

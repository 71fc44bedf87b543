"""Exercise checks: ``dlbook.checks.check_<name>(your_function)``.

Each check runs your code on several cases against a reference and prints one
line when all pass. When a case fails it raises :class:`CheckError` saying which
case, expected versus got (shapes first) and a hint, never the solution.
The checks of each chapter live in their own module, ``chNN.py``.
"""

from dlbook.checks._core import REGISTRY, Case, Check, CheckError, NotImplementedYet, Verdict
from dlbook.checks.ch01 import *  # noqa: F403
from dlbook.checks.ch02 import *  # noqa: F403
from dlbook.checks.ch03 import *  # noqa: F403
from dlbook.checks.ch04 import *  # noqa: F403
from dlbook.checks.ch05 import *  # noqa: F403
from dlbook.checks.ch06 import *  # noqa: F403
from dlbook.checks.ch07 import *  # noqa: F403
from dlbook.checks.ch08 import *  # noqa: F403
from dlbook.checks.ch09 import *  # noqa: F403
from dlbook.checks.ch10 import *  # noqa: F403
from dlbook.checks.ch11 import *  # noqa: F403
from dlbook.checks.ch12 import *  # noqa: F403
from dlbook.checks.ch13 import *  # noqa: F403
from dlbook.checks.ch14 import *  # noqa: F403
from dlbook.checks.ch15 import *  # noqa: F403
from dlbook.checks.ch16 import *  # noqa: F403
from dlbook.checks.ch17 import *  # noqa: F403
from dlbook.checks.ch18 import *  # noqa: F403
from dlbook.checks.ch19 import *  # noqa: F403
from dlbook.checks.ch20 import *  # noqa: F403
from dlbook.checks.ch21 import *  # noqa: F403
from dlbook.checks.ch22 import *  # noqa: F403
from dlbook.checks.ch23 import *  # noqa: F403
from dlbook.checks.ch24 import *  # noqa: F403
from dlbook.checks.ch25 import *  # noqa: F403
from dlbook.checks.ch26 import *  # noqa: F403
from dlbook.checks.ch27 import *  # noqa: F403
from dlbook.checks.ch28 import *  # noqa: F403
from dlbook.checks.ch29 import *  # noqa: F403
from dlbook.checks.ch30 import *  # noqa: F403

__all__ = ["Case", "Check", "CheckError", "NotImplementedYet", "REGISTRY", "Verdict"] + sorted(
    n for n in dir() if n.startswith("check_")
)

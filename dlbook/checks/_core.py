"""The machinery behind every exercise check.

A check runs the reader's function on several cases, compares each result with a
reference implementation, and either prints one line of success or raises a
:class:`CheckError` that names the failing case, shows expected versus got
(shapes first) and gives a hint — never the solution.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = [
    "Check",
    "Verdict",
    "REGISTRY",
    "Case",
    "CheckError",
    "NotImplementedYet",
    "require_callable",
    "call_candidate",
    "describe",
    "compare",
    "run_cases",
    "passed",
    "random_cases",
]


class CheckError(AssertionError):
    """An exercise check failed. The message says what failed and how to look for the bug."""


class NotImplementedYet(CheckError):
    """The exercise still raises ``NotImplementedError`` (the student version's placeholder)."""


@dataclass
class Case:
    """One input to try: a short human-readable name and the call's arguments."""

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


def require_callable(check: str, candidate: Any, what: str = "your function") -> None:
    """Fail with a clear message when ``candidate`` is not something we can call."""
    if candidate is None:
        raise CheckError(
            f"{check}: expected {what}, got None. Did you run the exercise cell above, "
            "and does your function `return` its result?"
        )
    if not callable(candidate):
        raise CheckError(
            f"{check}: expected {what} (something callable), got a {type(candidate).__name__}. "
            "Pass the function itself, without calling it: check(my_fn), not check(my_fn(x))."
        )


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)):
        return type(value)(_clone(v) for v in value)
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value  # numbers, strings, modules and generators are passed as they are


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and bool(torch.equal(a.detach(), b.detach()))
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.shape == b.shape and bool(np.array_equal(a, b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return True


def call_candidate(check: str, candidate: Callable, case: Case) -> Any:
    """Call the reader's function on a copy of the case's inputs.

    Turns ``NotImplementedError`` into :class:`NotImplementedYet`, any other
    exception into a :class:`CheckError` naming the case, and reports a function
    that modified its input in place.
    """
    args = tuple(_clone(a) for a in case.args)
    kwargs = {k: _clone(v) for k, v in case.kwargs.items()}
    before = (tuple(_clone(a) for a in args), {k: _clone(v) for k, v in kwargs.items()})
    try:
        result = candidate(*args, **kwargs)
    except NotImplementedError:
        raise NotImplementedYet(
            f"{check}: not implemented yet. Replace `raise NotImplementedError()` in the "
            "exercise cell with your code, run that cell, then run this check again."
        ) from None
    except Exception as exc:  # the reader's bug, reported without the check's internals
        raise CheckError(
            f"{check}: case '{case.name}' raised {type(exc).__name__}: {exc}\n"
            f"  inputs: {describe_args(case)}"
        ) from None
    if not all(_same(a, b) for a, b in zip(before[0], args, strict=True)) or not all(
        _same(before[1][k], kwargs[k]) for k in kwargs
    ):
        raise CheckError(
            f"{check}: case '{case.name}': your function changed its input in place.\n"
            "  hint: build a new tensor (e.g. `x = x + 1` or `x.clone()`), "
            "instead of writing into the argument (`x += 1`, `x[...] = ...`, `x.add_()`)."
        )
    return result


def describe(value: Any) -> str:
    """A short description of a value: type and shape first, then a peek at the numbers."""
    if isinstance(value, torch.Tensor):
        body = _peek(value.detach().cpu().reshape(-1).tolist())
        return f"tensor of shape {tuple(value.shape)}, dtype {str(value.dtype).replace('torch.', '')}{body}"
    if isinstance(value, np.ndarray):
        return f"ndarray of shape {value.shape}, dtype {value.dtype}{_peek(value.reshape(-1).tolist())}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(describe(v) for v in value[:4])
        more = ", …" if len(value) > 4 else ""
        return f"{type(value).__name__} of {len(value)}: [{inner}{more}]"
    if isinstance(value, float):
        return f"float {value:.6g}"
    return f"{type(value).__name__} {value!r}"[:200]


def describe_args(case: Case) -> str:
    parts = [describe(a) for a in case.args]
    parts += [f"{k}={describe(v)}" for k, v in case.kwargs.items()]
    return "; ".join(parts) if parts else "(none)"


def _peek(values: list) -> str:
    if not values:
        return ""
    head = ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in values[:4])
    return f": [{head}{', …' if len(values) > 4 else ''}]"


def _as_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return torch.tensor(value)
    return None


def compare(got: Any, expected: Any, *, atol: float = 1e-5, rtol: float = 1e-4) -> str | None:
    """Compare a result with the reference. Return ``None`` if they agree, else what differs.

    Tensors, arrays and numbers are compared by shape first, then by value within
    tolerance (any floating dtype is fine). Tuples and lists are compared item by item.
    """
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            return f"expected a {type(expected).__name__} of {len(expected)} items, got {describe(got)}"
        if len(got) != len(expected):
            return f"expected {len(expected)} items, got {len(got)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            problem = compare(g, e, atol=atol, rtol=rtol)
            if problem:
                return f"item {i}: {problem}"
        return None
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping) or set(got) != set(expected):
            return f"expected a dict with keys {sorted(expected)}, got {describe(got)}"
        for k in expected:
            problem = compare(got[k], expected[k], atol=atol, rtol=rtol)
            if problem:
                return f"key {k!r}: {problem}"
        return None
    e = _as_tensor(expected)
    if e is None:
        return None if got == expected else f"expected {describe(expected)}, got {describe(got)}"
    g = _as_tensor(got)
    if g is None:
        return f"expected {describe(expected)}, got {describe(got)}"
    if isinstance(expected, torch.Tensor) and not isinstance(got, (torch.Tensor, np.ndarray)):
        if g.numel() != 1 or e.numel() != 1:
            return f"expected {describe(expected)}, got {describe(got)}"
    if tuple(g.shape) != tuple(e.shape) and not (g.numel() == 1 and e.numel() == 1):
        return f"shape differs: expected {tuple(e.shape)}, got {tuple(g.shape)}"
    if (
        g.dtype == torch.bool
        or e.dtype == torch.bool
        or not (g.is_floating_point() or e.is_floating_point())
    ):
        if not torch.equal(g.reshape(e.shape).to(e.dtype), e):
            wrong = int((g.reshape(e.shape).to(e.dtype) != e).sum())
            return f"{wrong} of {e.numel()} entries differ: expected {describe(expected)}, got {describe(got)}"
        return None
    g64, e64 = g.reshape(e.shape).double(), e.double()
    if torch.isnan(g64).any() and not torch.isnan(e64).any():
        return f"got NaN values: {describe(got)}"
    close = torch.isclose(g64, e64, atol=atol, rtol=rtol, equal_nan=True)
    if bool(close.all()):
        return None
    bad = (~close).nonzero()[0].tolist()
    idx = tuple(bad)
    worst = float((g64 - e64).abs().nan_to_num(math.inf).max())
    return (
        f"values differ at {int((~close).sum())} of {e.numel()} entries (largest difference {worst:.3g}); "
        f"first at index {idx}: expected {float(e64[idx]):.6g}, got {float(g64[idx]):.6g}"
    )


def run_cases(
    check: str,
    candidate: Callable,
    reference: Callable,
    cases: Iterable[Case],
    *,
    hint: str,
    mistakes: Mapping[str, Callable] | None = None,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    what: str = "your function",
) -> int:
    """Run ``candidate`` and ``reference`` on every case; raise on the first disagreement.

    ``mistakes`` maps a hint to a typical wrong implementation: when the reader's
    output matches one of them, that hint is shown instead of the generic one.
    Returns the number of cases that passed.
    """
    require_callable(check, candidate, what)
    n = 0
    for case in cases:
        got = call_candidate(check, candidate, case)
        expected = reference(
            *[_clone(a) for a in case.args], **{k: _clone(v) for k, v in case.kwargs.items()}
        )
        problem = compare(got, expected, atol=atol, rtol=rtol)
        if problem:
            raise CheckError(
                f"{check}: case '{case.name}' failed.\n"
                f"  inputs:   {describe_args(case)}\n"
                f"  expected: {describe(expected)}\n"
                f"  got:      {describe(got)}\n"
                f"  problem:  {problem}\n"
                f"  hint:     {_pick_hint(got, case, mistakes, hint, atol, rtol)}"
            )
        n += 1
    return n


def _pick_hint(
    got: Any,
    case: Case,
    mistakes: Mapping[str, Callable] | None,
    default: str,
    atol: float,
    rtol: float,
) -> str:
    for text, wrong in (mistakes or {}).items():
        try:
            wrong_out = wrong(
                *[_clone(a) for a in case.args], **{k: _clone(v) for k, v in case.kwargs.items()}
            )
        except Exception:
            continue
        if compare(got, wrong_out, atol=atol, rtol=rtol) is None:
            return text
    return default


def passed(check: str, n_cases: int, extra: str = "") -> None:
    """Print the one-line success message every check ends with."""
    print(f"✓ {check}: all {n_cases} cases passed{'. ' + extra if extra else '.'}")


def random_cases(
    shapes: Sequence[tuple[int, ...]],
    *,
    seed: int = 0,
    scale: float = 1.0,
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
) -> list[torch.Tensor]:
    """Random tensors, one per shape: drawn from ``generator`` if given, else from ``seed``."""
    g = generator if generator is not None else torch.Generator().manual_seed(seed)
    return [scale * torch.randn(s, generator=g, dtype=dtype) for s in shapes]


# --- one definition of a check, for the notebook and for the grader ------------------------

#: Every :class:`Check` by name (``"check_huber_grad"`` -> its definition).
REGISTRY: dict[str, Check] = {}


@dataclass(frozen=True)
class Verdict:
    """What a check concluded about one candidate."""

    check: str
    kind: str  #: "pass", "not implemented", "failed", "error"
    message: str = ""  #: the message the reader sees (empty on a pass)
    n_cases: int = 0  #: cases that passed

    @property
    def passed(self) -> bool:
        return self.kind == "pass"


@dataclass(frozen=True)
class Check:
    """One exercise check: which inputs, how to call the reader's code, what is right.

    The same definition serves the reader's notebook and the grader:

    1. ``cases(g)`` builds the inputs from a seeded ``torch.Generator`` ``g`` (the
       notebook uses a fixed seed, the grader a fresh secret one). Inputs are plain
       data only: tensors, arrays, numbers, strings, ``None`` and lists / tuples /
       dicts of them (they travel to the reader's kernel in :mod:`dlbook.probe`'s
       wire format).
    2. :mod:`dlbook.probe` calls the reader's code on each case through the
       ``driver`` (``"call"``: ``fn(*args, **kwargs)``; see ``probe.DRIVERS``) and
       records what came back, as plain data. Only this step runs the reader's code.
    3. :meth:`judge` compares each result with ``reference(*args, **kwargs)`` —
       with ``compare`` if given (``compare(got, expected, case) -> None``, a
       problem, or ``(problem, hint)``), else :func:`compare` within ``atol`` /
       ``rtol`` — and picks the
       hint: the one of ``mistakes`` whose wrong implementation reproduces the
       reader's result, else the generic ``hint``. Hints name the idea, never the
       formula.

    Calling the check, ``check_huber_grad(fn)``, runs all three in the notebook and
    prints one line on success or raises :class:`CheckError`.
    """

    name: str
    cases: Callable[[torch.Generator], list[Case]]
    reference: Callable[..., Any]
    hint: str
    driver: str = "call"
    mistakes: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    atol: float = 1e-5
    rtol: float = 1e-4
    compare: Callable[[Any, Any, Case], str | tuple[str, str] | None] | None = None
    #: turns the decoded result into what ``compare`` expects (e.g. a list of numbers into
    #: a tensor); a ``TypeError`` / ``ValueError`` it raises fails the case with its message
    prepare: Callable[[Any], Any] | None = None
    #: substrings of an error the reader's code raised -> the hint it earns
    error_hints: Mapping[str, str] = field(default_factory=dict)
    success: str = ""  #: extra sentence of the success line
    doc: str = ""  #: what the reader's code must do (shown by ``help(check)``)

    def __post_init__(self) -> None:
        from dlbook import probe

        if self.driver not in probe.DRIVERS:
            raise ValueError(f"{self.name}: unknown driver {self.driver!r}")
        if self.name in REGISTRY and REGISTRY[self.name].reference is not self.reference:
            raise ValueError(f"two checks are called {self.name!r}")
        REGISTRY[self.name] = self

    # the notebook's entry point
    def __call__(self, candidate: Any) -> None:
        verdict = self.verify(candidate)
        if verdict.kind == "not implemented":
            raise NotImplementedYet(verdict.message)
        if not verdict.passed:
            raise CheckError(verdict.message)
        passed(self.name, verdict.n_cases, self.success)

    def make_cases(self, seed: int) -> list[Case]:
        """The cases for ``seed`` (the same seed always gives the same cases)."""
        return self.cases(torch.Generator().manual_seed(seed))

    def wire_cases(self, cases: list[Case]) -> list:
        """The cases as :mod:`dlbook.probe` receives them: ``[[name, args, kwargs], ...]``."""
        return [[c.name, tuple(c.args), dict(c.kwargs)] for c in cases]

    def verify(self, candidate: Any, *, seed: int = 0) -> Verdict:
        """Probe ``candidate`` in this process and judge it (what the notebook does)."""
        import json

        from dlbook import probe

        cases = self.make_cases(seed)
        # the cases and the record take the same trip through the wire format as when grading
        sent = probe.decode(json.loads(json.dumps(probe.encode(self.wire_cases(cases)))))
        record = json.loads(json.dumps(probe.collect(self.driver, candidate, sent)))
        return self.judge(cases, record)

    def judge(self, cases: list[Case], record: Any) -> Verdict:
        """Decide from a probe's ``record`` (untrusted plain data) for these ``cases``."""
        from dlbook import probe

        name = self.name
        if not isinstance(record, dict):
            return Verdict(name, "error", f"{name}: the probe's record is unreadable.")
        if "fatal" in record:
            return Verdict(name, "error", f"{name}: {str(record['fatal'])[:1000]}")
        rows = record.get("cases")
        if not isinstance(rows, list):
            return Verdict(name, "error", f"{name}: the probe's record is unreadable.")
        n = 0
        for i, case in enumerate(cases):
            row = rows[i] if i < len(rows) and isinstance(rows[i], dict) else None
            if row is None or row.get("case") != case.name:
                return Verdict(name, "error", f"{name}: case '{case.name}' did not run.", n)
            status, error = row.get("status"), str(row.get("error", ""))[:1000]
            if status == "not implemented":
                return Verdict(
                    name,
                    "not implemented",
                    f"{name}: not implemented yet. Replace `raise NotImplementedError()` in the "
                    "exercise cell with your code, run that cell, then run this check again.",
                    n,
                )
            if status == "mutated":
                return Verdict(
                    name,
                    "failed",
                    f"{name}: case '{case.name}': your code changed its input in place.\n"
                    "  hint: build a new tensor (e.g. `x = x + 1` or `x.clone()`) instead of "
                    "writing into the argument (`x += 1`, `x[...] = ...`, `x.add_()`).",
                    n,
                )
            if status != "ok":
                what = {"interrupted": "was interrupted", "unencodable": "returned"}.get(
                    status, "raised"
                )
                if status == "unencodable":
                    error = f"something that is not a tensor, number or tuple ({error})"
                hint = next((h for key, h in self.error_hints.items() if key in error), None)
                return Verdict(
                    name,
                    "failed",
                    f"{name}: case '{case.name}' {what} {error}\n  inputs: {describe_args(case)}"
                    + (f"\n  hint: {hint}" if hint else ""),
                    n,
                )
            try:
                got = probe.decode(row.get("value"))
            except Exception:
                return Verdict(name, "error", f"{name}: case '{case.name}': unreadable result.", n)
            if self.prepare is not None:
                try:
                    got = self.prepare(got)
                except (TypeError, ValueError) as exc:
                    return Verdict(
                        name,
                        "failed",
                        f"{name}: case '{case.name}': {exc}\n  inputs: {describe_args(case)}"
                        f"\n  hint: {self.hint}",
                        n,
                    )
            expected = self.reference(
                *[_clone(a) for a in case.args], **{k: _clone(v) for k, v in case.kwargs.items()}
            )
            if self.compare is not None:
                problem = self.compare(got, expected, case)
            else:
                problem = compare(got, expected, atol=self.atol, rtol=self.rtol)
            hint = None
            if isinstance(problem, tuple):
                problem, hint = problem
            if problem:
                if hint is None:
                    hint = _pick_hint(got, case, self.mistakes, self.hint, self.atol, self.rtol)
                return Verdict(
                    name,
                    "failed",
                    f"{name}: case '{case.name}' failed.\n"
                    f"  inputs:   {describe_args(case)}\n"
                    f"  expected: {describe(expected)}\n"
                    f"  got:      {describe(got)}\n"
                    f"  problem:  {problem}\n"
                    f"  hint:     {hint}",
                    n,
                )
            n += 1
        return Verdict(name, "pass", "", n)

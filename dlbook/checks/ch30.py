"""Exercise checks of chapter 30 (training a transformer): beam search with a length penalty.

The "model" of the exercise is a table of next-token log-probabilities that depend on
the previous token only, ``log_probs[a, b] = log P(next = b | previous = a)``, so that
every possible output can be enumerated and the best one found by brute force.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import torch

from dlbook.checks._core import Case, Check, describe

__all__ = ["check_beam_search"]

Tensor = torch.Tensor
Hyp = tuple[tuple[int, ...], float]  # (tokens after <bos>, total log-probability)


# --- the reference, with switches for the usual mistakes --------------------------------


def _beam(
    log_probs: Tensor,
    bos: int,
    eos: int,
    beam_size: int,
    max_len: int,
    alpha: float,
    *,
    mistake: str = "",
) -> list[int]:
    """Beam search as the exercise defines it; ``mistake`` switches on one typical error."""
    lp = log_probs.detach().double().cpu().tolist()
    V = len(lp)
    if mistake == "greedy":
        beam_size = 1
    live: list[Hyp] = [((), 0.0)]
    finished: list[Hyp] = []

    def last(tokens: tuple[int, ...]) -> int:
        return tokens[-1] if tokens else bos

    for step in range(max_len):
        if not live:
            break
        if mistake == "per_hypothesis" and step > 0:
            # every hypothesis keeps only its own best continuation: parallel greedy paths
            cands = []
            for toks, s in live:
                b = max(range(V), key=lambda b, t=toks: lp[last(t)][b])
                cands.append((toks + (b,), s + lp[last(toks)][b]))
        else:
            cands = [(toks + (b,), s + lp[last(toks)][b]) for toks, s in live for b in range(V)]
        cands.sort(key=lambda c: c[1], reverse=True)
        if mistake == "refill":
            # finished hypotheses do not take a place in the beam: keep beam_size live ones
            live = [c for c in cands if c[0][-1] != eos][:beam_size]
            cutoff = live[-1][1] if len(live) == beam_size else -math.inf
            finished += [c for c in cands if c[0][-1] == eos and c[1] >= cutoff]
            continue
        kept = cands[:beam_size]
        if mistake == "eos_ordinary":
            live = kept
            continue
        done = [c for c in kept if c[0][-1] == eos]
        # the "drop_finished" mistake remembers only the hypotheses that finished last
        finished = done if mistake == "drop_finished" else finished + done
        live = [c for c in kept if c[0][-1] != eos]
    if mistake == "eos_ordinary":  # cut each hypothesis after its first <eos> at the end
        finished = [(_cut(t, eos), s) for t, s in live]
    else:
        finished += live
    if mistake == "no_penalty":
        alpha = 0.0
    best = max(finished, key=lambda c: _norm(c, alpha, mistake, eos))
    return list(best[0])


def _cut(tokens: tuple[int, ...], eos: int) -> tuple[int, ...]:
    return tokens[: tokens.index(eos) + 1] if eos in tokens else tokens


def _norm(hyp: Hyp, alpha: float, mistake: str = "", eos: int = -1) -> float:
    """Total log-probability / length ** alpha (``mistake`` miscounts the length)."""
    tokens, score = hyp
    n = len(tokens)
    if mistake == "count_bos":
        n += 1
    if mistake == "skip_eos" and tokens and tokens[-1] == eos:
        n -= 1
    return score / max(n, 1) ** alpha


def _brute_force(
    log_probs: Tensor, bos: int, eos: int, beam_size: int, max_len: int, alpha: float
) -> list[int]:
    """The best complete output by enumeration: every sequence that ends at its first <eos>,
    or runs to ``max_len`` tokens without one."""
    lp = log_probs.detach().double().cpu().tolist()
    V = len(lp)
    best, best_score = None, -math.inf
    for n in range(1, max_len + 1):
        for tokens in itertools.product(range(V), repeat=n):
            if eos in tokens[:-1] or (n < max_len and tokens[-1] != eos):
                continue
            prev, total = bos, 0.0
            for t in tokens:
                total += lp[prev][t]
                prev = t
            score = total / n**alpha
            if best is None or score > best_score:
                best, best_score = list(tokens), score
    return best


def _reference(log_probs, bos, eos, beam_size, max_len, alpha):
    if beam_size >= log_probs.shape[0] ** max_len:  # a beam this wide never prunes
        return _brute_force(log_probs, bos, eos, beam_size, max_len, alpha)
    return _beam(log_probs, bos, eos, beam_size, max_len, alpha)


# --- the cases ----------------------------------------------------------------------------


def _table(probs: list[list[float]], bos: int = 0) -> Tensor:
    """Log-probabilities from a table of (unnormalized) probabilities; ``bos`` is never next."""
    p = torch.tensor(probs, dtype=torch.float64)
    p[:, bos] = 0.0
    return (p / p.sum(1, keepdim=True)).log()


def _random_table(g: torch.Generator, V: int, scale: float = 1.5) -> Tensor:
    logits = scale * torch.randn(V, V, generator=g, dtype=torch.float64)
    logits[:, 0] = -math.inf  # token 0 is <bos>
    return torch.log_softmax(logits, dim=1)


def _cases(g: torch.Generator) -> list[Case]:
    e = 1e-3  # "almost never"
    # tokens: 0 <bos>, 1 <eos>, 2 a, 3 b, 4 c
    trap = _table(
        [
            [0, e, 0.5, 0.4, 0.1],  # from <bos>: a is the most likely first token ...
            [0, 1, e, e, e],
            [0, 0.3, 0.25, 0.25, 0.2],  # ... but after a everything is uncertain,
            [0, 0.95, e, e, 0.05],  # while b is almost surely followed by <eos>
            [0, 0.5, 0.2, 0.2, 0.1],
        ]
    )
    length = _table(
        [
            [0, 0.5, 0.5, e, e],  # stop at once (p = 0.5) or say "a b" first
            [0, 1, e, e, e],
            [0, e, e, 0.9, e],
            [0, 0.9, e, e, e],
            [0, 0.5, 0.2, 0.2, 0.1],
        ]
    )
    cases = [
        Case(
            "a greedy trap: the likely first token leads nowhere (beam 2, alpha 0)",
            (trap, 0, 1, 2, 3, 0.0),
        ),
        Case(
            "a short and a long answer, no length penalty (alpha 0, wide beam)",
            (length, 0, 1, 625, 4, 0.0),
        ),
    ]
    # fixed random tables on which every typical mistake gives its own wrong answer
    for seed, k, n, a in [
        (1174, 2, 3, 0.0),
        (1086, 3, 4, 1.0),
        (1026, 3, 4, 1.0),
        (1170, 2, 4, 1.0),
        (1043, 3, 4, 1.0),
    ]:
        table = _random_table(torch.Generator().manual_seed(seed), 5)
        cases.append(
            Case(
                f"fixed table {seed}, 5 tokens, beam {k}, max_len {n}, alpha {a}",
                (table, 0, 1, k, n, a),
            )
        )
    cases.append(
        Case(
            "the short-or-long table with the length penalty alpha 1 (wide beam)",
            (length, 0, 1, 625, 4, 1.0),
        )
    )
    specs = [  # (V, beam_size, max_len, alpha)
        (5, 2, 4, 0.0),
        (5, 2, 5, 1.0),
        (6, 3, 5, 0.7),
        (5, 3, 6, 1.0),
        (7, 2, 4, 0.5),
        (6, 1, 5, 1.0),
        (4, 2, 8, 1.0),
    ]
    for V, k, n, a in specs:
        cases.append(
            Case(
                f"random table, {V} tokens, beam {k}, max_len {n}, alpha {a}",
                (_random_table(g, V), 0, 1, k, n, a),
            )
        )
    for V, n, a in [(4, 4, 1.0), (5, 3, 0.6)]:
        cases.append(
            Case(
                f"random table, {V} tokens, a beam wide enough to keep everything "
                f"(compared with all {V}**{n} outputs), alpha {a}",
                (_random_table(g, V, scale=2.0), 0, 1, V**n, n, a),
            )
        )
    rare = _random_table(g, 5)
    rare[:, 1] = -12.0  # <eos> almost never comes: the answer runs to max_len
    cases.append(Case("<eos> is very unlikely: outputs run to max_len", (rare, 0, 1, 3, 4, 1.0)))
    return cases


# --- comparing token lists -----------------------------------------------------------------


def _as_tokens(value: Any) -> list[int] | None:
    if isinstance(value, torch.Tensor):
        if value.dim() != 1 or value.is_floating_point() or value.is_complex():
            return None
        return [int(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return list(value)
    return None


def _compare(got: Any, expected: list[int], case: Case) -> str | None:
    tokens = _as_tokens(got)
    if tokens is None:
        return f"expected a list of token ids (ints) or a 1-D integer tensor, got {describe(got)}"
    if tokens == expected:
        return None
    return f"expected the tokens {expected}, got {tokens}"


def _wrong(mistake: str) -> Callable[..., list[int]]:
    def fn(log_probs, bos, eos, beam_size, max_len, alpha):
        return _beam(log_probs, bos, eos, beam_size, max_len, alpha, mistake=mistake)

    return fn


def _with_bos(log_probs, bos, eos, beam_size, max_len, alpha):
    return [bos, *_reference(log_probs, bos, eos, beam_size, max_len, alpha)]


_MISTAKES: dict[str, Callable] = {
    "your answer starts with <bos>: return only the tokens that were generated after it.": (
        _with_bos
    ),
    "your search behaves like greedy decoding: does it really keep beam_size hypotheses "
    "alive at every step?": _wrong("greedy"),
    "the best extensions are chosen among all hypotheses' continuations together, "
    "not separately for each hypothesis.": _wrong("per_hypothesis"),
    "the length penalty seems to be missing: how does the final ranking treat a long answer "
    "against a short one?": _wrong("no_penalty"),
    "a hypothesis that has produced <eos> is complete when it is produced: it leaves the "
    "beam and grows no further.": _wrong("eos_ordinary"),
    "a hypothesis that ends with <eos> still takes one of the beam_size places at its "
    "step: keep the beam_size best extensions, then set the finished ones aside.": _wrong("refill"),
    "hypotheses that finished at an earlier step are still candidates at the end: "
    "keep them.": _wrong("drop_finished"),
    "check the length in the penalty: it counts the generated tokens, <eos> included and "
    "<bos> not.": _wrong("count_bos"),
    "check the length in the penalty: <eos> counts as a generated token.": _wrong("skip_eos"),
}


check_beam_search = Check(
    name="check_beam_search",
    cases=_cases,
    reference=_reference,
    hint="trace the search by hand on a tiny table: which hypotheses are alive after each "
    "step, which are finished, and how is the final winner chosen?",
    mistakes=_MISTAKES,
    compare=_compare,
    success="Your beam search finds what an exhaustive search finds when the beam is wide, "
    "and follows the rules when it is narrow.",
    doc="""Check ``fn(log_probs, bos, eos, beam_size, max_len, alpha) -> list[int]``.

    ``log_probs`` (V, V): ``log_probs[a, b]`` is the log-probability that token ``b``
    follows token ``a``. The search starts from ``bos``, keeps ``beam_size`` live
    hypotheses ranked by total log-probability, retires a hypothesis when it produces
    ``eos``, stops after ``max_len`` generated tokens, and returns the finished
    hypothesis with the best total log-probability / length ** alpha (the tokens after
    ``bos``; ``eos`` included when it was produced).
    """,
)

"""Unit tests of chapter 30's exercise check (dlbook/checks/ch30.py): beam search."""

from __future__ import annotations

import math

import pytest
import torch

from dlbook.checks import CheckError, NotImplementedYet, ch30, check_beam_search

SEEDS = [0, 1, 7, 123]

# --- correct implementations, written differently -----------------------------------


def beam_topk(log_probs, bos, eos, beam_size, max_len, alpha):
    """The notebook's solution: one top-k over all (hypothesis, token) pairs per step."""
    V = log_probs.shape[1]
    live, live_scores = [[]], torch.zeros(1, dtype=log_probs.dtype)
    finished = []
    for _ in range(max_len):
        if not live:
            break
        last = torch.tensor([seq[-1] if seq else bos for seq in live])
        cand = live_scores[:, None] + log_probs[last]
        top = cand.flatten().topk(min(beam_size, cand.numel()))
        new_live, new_scores = [], []
        for score, idx in zip(top.values.tolist(), top.indices.tolist(), strict=True):
            seq = live[idx // V] + [idx % V]
            if idx % V == eos:
                finished.append((seq, score))
            else:
                new_live.append(seq)
                new_scores.append(score)
        live, live_scores = new_live, torch.tensor(new_scores, dtype=log_probs.dtype)
    finished += list(zip(live, live_scores.tolist(), strict=True))
    return max(finished, key=lambda f: f[1] / len(f[0]) ** alpha)[0]


def beam_sorted_lists(log_probs, bos, eos, beam_size, max_len, alpha):
    """Plain Python lists and sorted(), returning a tensor of token ids."""
    table = log_probs.tolist()
    beam = [((bos,), 0.0)]
    done = []
    for _ in range(max_len):
        options = [
            (seq + (t,), s + table[seq[-1]][t]) for seq, s in beam for t in range(len(table))
        ]
        options = sorted(options, key=lambda o: -o[1])[:beam_size]
        done += [o for o in options if o[0][-1] == eos]
        beam = [o for o in options if o[0][-1] != eos]
        if not beam:
            break
    done += beam
    seq, _ = max(done, key=lambda o: o[1] / (len(o[0]) - 1) ** alpha)
    return torch.tensor(seq[1:])


def beam_tensors(log_probs, bos, eos, beam_size, max_len, alpha):
    """Hypotheses as rows of a padded tensor; finished ones collected with their lengths."""
    seqs = torch.full((1, 0), bos, dtype=torch.long)
    scores = torch.zeros(1, dtype=torch.float64)
    best, best_value = None, -math.inf
    V = log_probs.shape[0]
    for step in range(1, max_len + 1):
        last = seqs[:, -1] if step > 1 else torch.full((len(seqs),), bos)
        cand = (scores[:, None] + log_probs[last].double()).reshape(-1)
        values, idx = cand.sort(descending=True)
        values, idx = values[:beam_size], idx[:beam_size]
        rows, tokens = idx // V, idx % V
        grown = torch.cat([seqs[rows], tokens[:, None]], dim=1)
        is_eos = tokens == eos
        for seq, v in zip(grown[is_eos], values[is_eos], strict=True):
            if v / step**alpha > best_value:
                best, best_value = seq.tolist(), float(v / step**alpha)
        seqs, scores = grown[~is_eos], values[~is_eos]
        if len(seqs) == 0:
            return best
    for seq, v in zip(seqs, scores, strict=True):
        if v / max_len**alpha > best_value:
            best, best_value = seq.tolist(), float(v / max_len**alpha)
    return best


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fn", [beam_topk, beam_sorted_lists, beam_tensors])
def test_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_beam_search.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_prints_one_line_on_success(capsys) -> None:
    check_beam_search(beam_topk)
    assert "✓ check_beam_search" in capsys.readouterr().out


@pytest.mark.parametrize("seed", range(20))
def test_reference_with_a_wide_beam_is_exhaustive_search(seed) -> None:
    g = torch.Generator().manual_seed(seed)
    for V, n, alpha in [(3, 5, 0.0), (4, 4, 1.0), (5, 3, 0.6)]:
        table = ch30._random_table(g, V, scale=2.0)
        args = (table, 0, 1, V**n, n, alpha)
        assert ch30._beam(*args) == ch30._brute_force(*args)


def test_the_hand_made_cases_show_what_they_say() -> None:
    cases = check_beam_search.make_cases(0)
    trap, short, long = cases[0], cases[1], cases[7]
    greedy = ch30._beam(*trap.args, mistake="greedy")
    assert greedy != ch30._reference(*trap.args)  # greedy falls into the trap
    assert ch30._reference(*short.args) == [1]  # without a penalty: stop at once
    assert ch30._reference(*long.args) == [2, 3, 1]  # with alpha 1: the longer answer


# --- typical mistakes -------------------------------------------------------------


def _mistake(name):
    def fn(log_probs, bos, eos, beam_size, max_len, alpha):
        return ch30._beam(log_probs, bos, eos, beam_size, max_len, alpha, mistake=name)

    return fn


def greedy_decoding(log_probs, bos, eos, beam_size, max_len, alpha):
    out, prev = [], bos
    for _ in range(max_len):
        prev = int(log_probs[prev].argmax())
        out.append(prev)
        if prev == eos:
            break
    return out


def k_greedy_paths(log_probs, bos, eos, beam_size, max_len, alpha):
    """Top-k first tokens, then each path continues with its own best token."""
    first = log_probs[bos].topk(min(beam_size, len(log_probs))).indices.tolist()
    results = []
    for t in first:
        seq, score = [t], float(log_probs[bos, t])
        while seq[-1] != eos and len(seq) < max_len:
            nxt = int(log_probs[seq[-1]].argmax())
            score += float(log_probs[seq[-1], nxt])
            seq.append(nxt)
        results.append((seq, score))
    return max(results, key=lambda r: r[1] / len(r[0]) ** alpha)[0]


def no_penalty(log_probs, bos, eos, beam_size, max_len, alpha):
    return beam_topk(log_probs, bos, eos, beam_size, max_len, 0.0)


def with_bos(log_probs, bos, eos, beam_size, max_len, alpha):
    return [bos, *beam_topk(log_probs, bos, eos, beam_size, max_len, alpha)]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "wrong, hint",
    [
        (greedy_decoding, "behaves like greedy decoding"),
        (_mistake("greedy"), "behaves like greedy decoding"),
        (k_greedy_paths, "not separately for each hypothesis"),
        (_mistake("per_hypothesis"), "not separately for each hypothesis"),
        (no_penalty, "length penalty seems to be missing"),
        (_mistake("no_penalty"), "length penalty seems to be missing"),
        (_mistake("eos_ordinary"), "grows no further"),
        (_mistake("drop_finished"), "finished at an earlier step"),
        (_mistake("refill"), "takes one of the beam_size places"),
        (_mistake("count_bos"), "<eos> included and <bos> not"),
        (_mistake("skip_eos"), "<eos> counts as a generated token"),
        (with_bos, "starts with <bos>"),
    ],
)
def test_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_beam_search.verify(wrong, seed=seed)
    assert verdict.kind == "failed", verdict
    assert hint in verdict.message.replace("\n  ", " ")


def test_wrong_return_type_is_explained() -> None:
    def floats(*args):
        return torch.tensor(beam_topk(*args), dtype=torch.float32)

    with pytest.raises(CheckError, match="list of token ids"):
        check_beam_search(floats)


def test_in_place_modification_is_rejected() -> None:
    def scribbles(log_probs, *args):
        log_probs[:, 0] = 0.0
        return beam_topk(log_probs, *args)

    with pytest.raises(CheckError, match="changed its input in place"):
        check_beam_search(scribbles)


def test_not_implemented_yet() -> None:
    def todo(*args):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_beam_search(todo)


def test_function_that_raises_is_reported() -> None:
    def broken(log_probs, *args):
        return log_probs @ torch.ones(2)

    with pytest.raises(CheckError, match="raised RuntimeError"):
        check_beam_search(broken)


@pytest.mark.parametrize("bad", [None, 3, "beam_search"])
def test_non_callable_is_rejected(bad) -> None:
    with pytest.raises(CheckError, match="expected your function"):
        check_beam_search(bad)

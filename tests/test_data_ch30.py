"""Tests of chapter 30's data generator: English number words -> Sino-Korean numerals."""

from __future__ import annotations

import pytest
import torch

from dlbook.data import (
    BOS,
    EOS,
    PAD,
    SPECIAL_TOKENS,
    make_number_translation,
    number_alignment,
    number_to_english,
    number_to_korean,
)


@pytest.mark.parametrize(
    "n, english, korean",
    [
        (0, "zero", "영"),
        (1, "one", "일"),
        (7, "seven", "칠"),
        (10, "ten", "십"),
        (11, "eleven", "십일"),
        (19, "nineteen", "십구"),
        (20, "twenty", "이십"),
        (46, "forty six", "사십육"),
        (100, "one hundred", "백"),
        (101, "one hundred one", "백일"),
        (110, "one hundred ten", "백십"),
        (115, "one hundred fifteen", "백십오"),
        (200, "two hundred", "이백"),
        (312, "three hundred twelve", "삼백십이"),
        (508, "five hundred eight", "오백팔"),
        (670, "six hundred seventy", "육백칠십"),
        (999, "nine hundred ninety nine", "구백구십구"),
    ],
)
def test_known_numbers(n, english, korean) -> None:
    assert number_to_english(n) == english
    assert number_to_korean(n) == korean


def test_every_number_has_a_unique_translation_in_both_languages() -> None:
    english = {number_to_english(n) for n in range(1000)}
    korean = {number_to_korean(n) for n in range(1000)}
    assert len(english) == len(korean) == 1000


def test_korean_numeral_reads_back_to_the_number() -> None:
    digits = {s: i for i, s in enumerate("영일이삼사오육칠팔구")}
    for n in range(1, 1000):
        total, current = 0, 0
        for s in number_to_korean(n):
            if s in ("백", "십"):
                total += (current or 1) * (100 if s == "백" else 10)
                current = 0
            else:
                current = digits[s]
        assert total + current == n


@pytest.mark.parametrize("bad", [-1, 1000, 2.0, True, "3"])
def test_out_of_range_is_rejected(bad) -> None:
    with pytest.raises(ValueError):
        number_to_english(bad)
    with pytest.raises(ValueError):
        number_to_korean(bad)


def test_alignment_points_at_the_right_words() -> None:
    assert number_alignment(312) == [0, 1, 2, 2]
    assert number_alignment(100) == [1]
    assert number_alignment(999) == [0, 1, 2, 2, 3]
    assert number_alignment(11) == [0, 0]
    for n in range(1000):
        align = number_alignment(n)
        words = number_to_english(n).split()
        assert len(align) == len(number_to_korean(n))
        assert all(0 <= a < len(words) for a in align)
        assert align == sorted(align)  # both languages say the digits in the same order


def test_shapes_dtypes_and_vocabularies() -> None:
    data = make_number_translation()
    assert data.src_vocab[:3] == data.tgt_vocab[:3] == SPECIAL_TOKENS
    assert (PAD, BOS, EOS) == (0, 1, 2)
    assert len(data.src_vocab) == 3 + 29 and len(data.tgt_vocab) == 3 + 12
    assert data.src_train.shape == (800, 4) and data.src_test.shape == (200, 4)
    assert data.tgt_train.shape == (800, 7) and data.tgt_test.shape == (200, 7)
    for t in (data.src_train, data.tgt_train, data.numbers_train, data.numbers_test):
        assert t.dtype == torch.long
    assert (data.tgt_train[:, 0] == BOS).all()
    assert ((data.tgt_train == EOS).sum(1) == 1).all()
    assert not ((data.src_train == BOS) | (data.src_train == EOS)).any()


def test_split_is_a_partition_and_depends_on_the_seed() -> None:
    a, b, c = (make_number_translation(seed=s) for s in (0, 0, 1))
    both = torch.cat([a.numbers_train, a.numbers_test]).sort().values
    assert torch.equal(both, torch.arange(1000))
    assert torch.equal(a.numbers_train, b.numbers_train)
    assert torch.equal(a.src_test, b.src_test) and torch.equal(a.tgt_test, b.tgt_test)
    assert not torch.equal(a.numbers_train, c.numbers_train)
    small = make_number_translation(n_train=100, seed=3)
    assert len(small.numbers_train) == 100 and len(small.numbers_test) == 900
    assert small.src_train.shape[1] == 4 and small.tgt_train.shape[1] == 7


def test_encoding_round_trips() -> None:
    data = make_number_translation(seed=2)
    for i in range(0, 200, 7):
        n = int(data.numbers_test[i])
        assert data.decode_src(data.src_test[i]) == number_to_english(n)
        assert data.decode_tgt(data.tgt_test[i]) == number_to_korean(n)
    assert torch.equal(data.encode_src([312]), data.encode_src([312]))
    assert data.decode_tgt([BOS, 6, 14, 13, 5, EOS, 9]) == "삼백십이"  # stops at <eos>
    assert data.decode_src(data.encode_src([0])[0]) == "zero"


@pytest.mark.parametrize("bad", [0, 1000, -5, 1.5])
def test_bad_split_size_is_rejected(bad) -> None:
    with pytest.raises(ValueError):
        make_number_translation(n_train=bad)

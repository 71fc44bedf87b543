"""Small data sets for the chapters, generated with a seed or shipped with a package.

Nothing here downloads anything: every chapter runs offline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "make_line",
    "make_moons",
    "make_spirals",
    "DigitsSplit",
    "load_digits",
    "make_order_task",
    "make_reverse_task",
    "ring_centers",
    "gaussian_ring",
    "number_to_english",
    "number_to_korean",
    "number_alignment",
    "NumberTranslation",
    "make_number_translation",
    "SPECIAL_TOKENS",
    "PAD",
    "BOS",
    "EOS",
    "digits_as_images",
    "make_recall_task",
    "digits_on_canvas",
]


def _generator(seed: int) -> torch.Generator:
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    return torch.Generator().manual_seed(seed)


def _check_n(n: int, name: str = "n") -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r}")


def make_line(
    n: int = 100,
    *,
    w: float = 2.0,
    b: float = -1.0,
    noise: float = 0.5,
    x_range: tuple[float, float] = (-3.0, 3.0),
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Points on the line ``y = w·x + b`` plus Gaussian noise: ``x`` and ``y`` of shape ``(n, 1)``."""
    _check_n(n)
    g = _generator(seed)
    lo, hi = x_range
    x = lo + (hi - lo) * torch.rand(n, 1, generator=g)
    y = w * x + b + noise * torch.randn(n, 1, generator=g)
    return x, y


def make_moons(
    n: int = 200, *, noise: float = 0.1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaving half circles: ``X`` (n, 2) float32 and labels ``y`` (n,) int64 in {0, 1}.

    Half of the points (rounded down) belong to each moon.
    """
    _check_n(n)
    g = _generator(seed)
    n0 = n // 2
    n1 = n - n0
    t0 = torch.rand(n0, generator=g) * torch.pi
    t1 = torch.rand(n1, generator=g) * torch.pi
    upper = torch.stack([torch.cos(t0), torch.sin(t0)], dim=1)
    lower = torch.stack([1 - torch.cos(t1), 0.5 - torch.sin(t1)], dim=1)
    X = torch.cat([upper, lower]) + noise * torch.randn(n, 2, generator=g)
    y = torch.cat([torch.zeros(n0, dtype=torch.long), torch.ones(n1, dtype=torch.long)])
    perm = torch.randperm(n, generator=g)
    return X[perm], y[perm]


def make_spirals(
    n_per_class: int = 100, *, classes: int = 3, noise: float = 0.2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``classes`` interleaved spiral arms: ``X`` (n, 2) float32 and labels ``y`` (n,) int64."""
    _check_n(n_per_class, "n_per_class")
    _check_n(classes, "classes")
    g = _generator(seed)
    xs, ys = [], []
    for k in range(classes):
        r = torch.linspace(0.05, 1.0, n_per_class)
        theta = torch.linspace(
            k * 2 * torch.pi / classes, k * 2 * torch.pi / classes + 4.0, n_per_class
        )
        theta = theta + noise * torch.randn(n_per_class, generator=g)
        xs.append(torch.stack([r * torch.sin(theta), r * torch.cos(theta)], dim=1))
        ys.append(torch.full((n_per_class,), k, dtype=torch.long))
    X, y = torch.cat(xs), torch.cat(ys)
    perm = torch.randperm(len(y), generator=g)
    return X[perm], y[perm]


@dataclass
class DigitsSplit:
    """scikit-learn's 8×8 digit images split into train / validation / test tensors.

    ``X_*`` are float32 of shape (n, 64) with pixel values scaled to [0, 1];
    ``y_*`` are int64 labels 0–9. ``images(X)`` reshapes rows back to (n, 1, 8, 8).
    """

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor

    @staticmethod
    def images(X: torch.Tensor) -> torch.Tensor:
        """Rows of 64 pixels back to images of shape (n, 1, 8, 8)."""
        return X.reshape(-1, 1, 8, 8)


def load_digits(
    *, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0
) -> DigitsSplit:
    """The 1,797 handwritten digits that ship with scikit-learn, split reproducibly.

    The split is stratified by nothing but a seeded permutation; fractions are of
    the whole data set.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    if not (0 <= val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError("val_fraction and test_fraction must be in [0, 1) and sum to less than 1")
    bunch = _sk_load_digits()
    X = torch.from_numpy(np.asarray(bunch.data, dtype=np.float32) / 16.0)
    y = torch.from_numpy(np.asarray(bunch.target, dtype=np.int64))
    perm = torch.randperm(len(y), generator=_generator(seed))
    n_test = round(test_fraction * len(y))
    n_val = round(val_fraction * len(y))
    test, val, train = perm[:n_test], perm[n_test : n_test + n_val], perm[n_test + n_val :]
    return DigitsSplit(X[train], y[train], X[val], y[val], X[test], y[test])


# --- chapter 19 ---


def make_order_task(
    n: int = 1000, length: int = 8, *, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences whose label depends on the order of their steps.

    ``x`` (n, length, 1) float32 uniform in [0, 1); ``y`` (n,) int64 is 1 when the
    first value is larger than the last, else 0. Shuffling the steps of a sequence
    destroys the label's information, which is the point.
    """
    _check_n(n)
    _check_n(length, "length")
    if length < 2:
        raise ValueError(f"length must be at least 2, got {length}")
    g = _generator(seed)
    x = torch.rand(n, length, 1, generator=g)
    y = (x[:, 0, 0] > x[:, -1, 0]).long()
    return x, y


def make_reverse_task(
    n: int = 1000, length: int = 4, vocab: int = 5, *, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token sequences and their reversals: ``src`` and ``tgt`` (n, length) int64 in [0, vocab)."""
    _check_n(n)
    _check_n(length, "length")
    _check_n(vocab, "vocab")
    g = _generator(seed)
    src = torch.randint(0, vocab, (n, length), generator=g)
    return src, src.flip(1)


# --- chapter 25 ---


def ring_centers(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """The centers of :func:`gaussian_ring`'s modes: ``(modes, 2)`` float32.

    Mode ``k`` sits at angle ``2πk / modes`` on the circle of this radius, so mode 0
    is at ``(radius, 0)`` and the modes go round counter-clockwise.
    """
    _check_n(modes, "modes")
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius!r}")
    angles = 2 * torch.pi * torch.arange(modes, dtype=torch.float64) / modes
    return (radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)).float()


def gaussian_ring(
    n: int = 1000,
    *,
    modes: int = 8,
    radius: float = 2.0,
    std: float = 0.05,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A mixture of ``modes`` equally likely 2-D Gaussians whose centers lie on a circle.

    The toy target of GAN papers (eight modes of radius 2 in Metz et al., 2016).
    Returns the points ``X`` (n, 2) float32 and their mode labels ``y`` (n,) int64
    in ``0 … modes-1``: each point is its mode's center (see :func:`ring_centers`)
    plus isotropic Gaussian noise of standard deviation ``std``.
    """
    _check_n(n)
    if not std >= 0:
        raise ValueError(f"std must be non-negative, got {std!r}")
    centers = ring_centers(modes, radius)
    g = _generator(seed)
    y = torch.randint(modes, (n,), generator=g)
    X = centers[y] + std * torch.randn(n, 2, generator=g)
    return X, y


# --- chapter 30 ---

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TEENS = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_KO_DIGITS = ["영", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"]

#: The special tokens of both vocabularies, at indices 0, 1, 2.
SPECIAL_TOKENS = ["<pad>", "<bos>", "<eos>"]
PAD, BOS, EOS = 0, 1, 2


def _check_number(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 999:
        raise ValueError(f"n must be an int from 0 to 999, got {n!r}")


def number_to_english(n: int) -> str:
    """``n`` (0–999) in English words, without "and" or hyphens: 312 -> "three hundred twelve"."""
    _check_number(n)
    if n == 0:
        return "zero"
    words = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
    if 10 <= rest < 20:
        words.append(_TEENS[rest - 10])
    else:
        tens, ones = divmod(rest, 10)
        if tens:
            words.append(_TENS[tens])
        if ones:
            words.append(_ONES[ones])
    return " ".join(words)


def number_to_korean(n: int) -> str:
    """``n`` (0–999) as a Sino-Korean numeral in Hangul: 312 -> "삼백십이", 0 -> "영".

    A leading 1 of a hundred or a ten is not spoken: 100 is "백", 110 is "백십".
    """
    _check_number(n)
    if n == 0:
        return _KO_DIGITS[0]
    out = ""
    for value, unit in ((100, "백"), (10, "십")):
        digit = n // value % 10
        if digit:
            out += ("" if digit == 1 else _KO_DIGITS[digit]) + unit
    if n % 10:
        out += _KO_DIGITS[n % 10]
    return out


def number_alignment(n: int) -> list[int]:
    """For each syllable of ``number_to_korean(n)``, the index of the English word it translates.

    312: "three hundred twelve" -> 삼 백 십 이 -> [0, 1, 2, 2] (삼 from "three", 백 from
    "hundred", 십 and 이 both from "twelve"). A tens syllable (이 and 십 of 이십) comes
    from the tens word ("twenty"), a digit from its digit word.
    """
    _check_number(n)
    if n == 0:
        return [0]
    out: list[int] = []
    word = 0
    hundreds, rest = divmod(n, 100)
    if hundreds:
        out += [word] * (hundreds > 1) + [word + 1]  # 삼 <- three, 백 <- hundred
        word += 2
    tens, ones = divmod(rest, 10)
    if tens == 1:  # ten … nineteen: one English word for 십 and the digit
        return out + [word] * (1 + (ones > 0))
    if tens:
        out += [word] * (1 + (tens > 1))  # 이 and 십 <- twenty
        word += 1
    if ones:
        out.append(word)
    return out


def _src_tokens(n: int) -> list[str]:
    return number_to_english(n).split()  # word level


def _tgt_tokens(n: int) -> list[str]:
    return list(number_to_korean(n))  # syllable level


@dataclass
class NumberTranslation:
    """English number words -> Sino-Korean numerals, split into training and held-out numbers.

    Source sentences are word-level token ids (``src_*``: (n, S), padded with
    ``PAD`` = 0 at the end); targets are syllable-level ids framed as
    ``<bos> … <eos>`` (``tgt_*``: (n, T), padded with 0). Both vocabularies start
    with ``SPECIAL_TOKENS``. ``numbers_*`` hold the integers, in the same order.
    """

    src_vocab: list[str]
    tgt_vocab: list[str]
    numbers_train: torch.Tensor
    src_train: torch.Tensor
    tgt_train: torch.Tensor
    numbers_test: torch.Tensor
    src_test: torch.Tensor
    tgt_test: torch.Tensor

    def encode_src(self, numbers: list[int]) -> torch.Tensor:
        """The padded source ids (len(numbers), S) of these numbers' English words."""
        return _encode(
            [_src_tokens(n) for n in numbers], self.src_vocab, self.src_train.shape[1], frame=False
        )

    def encode_tgt(self, numbers: list[int]) -> torch.Tensor:
        """The padded target ids (len(numbers), T): ``<bos>`` syllables ``<eos>`` padding."""
        return _encode(
            [_tgt_tokens(n) for n in numbers], self.tgt_vocab, self.tgt_train.shape[1], frame=True
        )

    def decode_src(self, ids: torch.Tensor | list[int]) -> str:
        """Source ids back to words (padding and special tokens dropped)."""
        return " ".join(self.src_vocab[i] for i in _ids(ids) if i > EOS)

    def decode_tgt(self, ids: torch.Tensor | list[int]) -> str:
        """Target ids back to a Korean numeral: stops at the first ``<eos>``, skips ``<bos>``/pad."""
        out = []
        for i in _ids(ids):
            if i == EOS:
                break
            if i > EOS:
                out.append(self.tgt_vocab[i])
        return "".join(out)


def _ids(ids: torch.Tensor | list[int]) -> list[int]:
    return ids.tolist() if isinstance(ids, torch.Tensor) else [int(i) for i in ids]


def _encode(
    sentences: list[list[str]], vocab: list[str], length: int, *, frame: bool
) -> torch.Tensor:
    index = {tok: i for i, tok in enumerate(vocab)}
    out = torch.full((len(sentences), length), PAD, dtype=torch.long)
    for row, tokens in enumerate(sentences):
        ids = [index[t] for t in tokens]
        if frame:
            ids = [BOS, *ids, EOS]
        if len(ids) > length:
            raise ValueError(f"sentence {tokens} is longer than {length} tokens")
        out[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return out


def make_number_translation(*, n_train: int = 800, seed: int = 0) -> NumberTranslation:
    """The numbers 0–999 as a toy translation task, split at random by ``seed``.

    ``n_train`` numbers (a seeded permutation of 0–999) form the training set and
    the other ``1000 - n_train`` are held out. The vocabularies and sequence lengths
    cover all 1000 numbers, so they do not depend on the split: the source has
    29 words + 3 special tokens (longest sentence 4 words), the target 12 syllables
    + 3 special tokens (longest 5 syllables + ``<bos>``/``<eos>`` = 7).
    """
    _check_n(n_train, "n_train")
    if n_train >= 1000:
        raise ValueError(f"n_train must leave some of the 1000 numbers out, got {n_train}")
    everything = range(1000)
    src_words = sorted({w for n in everything for w in _src_tokens(n)}, key=_word_order)
    tgt_syllables = sorted({s for n in everything for s in _tgt_tokens(n)}, key=_syllable_order)
    src_len = max(len(_src_tokens(n)) for n in everything)
    tgt_len = max(len(_tgt_tokens(n)) for n in everything) + 2
    perm = torch.randperm(1000, generator=_generator(seed))
    train, test = perm[:n_train], perm[n_train:]
    data = NumberTranslation(
        src_vocab=SPECIAL_TOKENS + src_words,
        tgt_vocab=SPECIAL_TOKENS + tgt_syllables,
        numbers_train=train,
        src_train=torch.empty(0, src_len, dtype=torch.long),
        tgt_train=torch.empty(0, tgt_len, dtype=torch.long),
        numbers_test=test,
        src_test=torch.empty(0),
        tgt_test=torch.empty(0),
    )
    data.src_train, data.tgt_train = (
        data.encode_src(train.tolist()),
        data.encode_tgt(train.tolist()),
    )
    data.src_test, data.tgt_test = data.encode_src(test.tolist()), data.encode_tgt(test.tolist())
    return data


def _word_order(word: str) -> tuple[int, int]:
    # the words in counting order: zero … nineteen, twenty … ninety, hundred
    for group, table in enumerate((_ONES, _TEENS, _TENS)):
        if word in table:
            return (group, table.index(word))
    return (3, 0)


def _syllable_order(syllable: str) -> tuple[int, int]:
    # 영 일 … 구, then 십, 백
    if syllable in _KO_DIGITS:
        return (0, _KO_DIGITS.index(syllable))
    return (1, ["십", "백"].index(syllable))


# --- chapter 26 ---


def digits_as_images(X: torch.Tensor, size: int = 16) -> torch.Tensor:
    """Digit rows of :func:`load_digits` as images of ``size``×``size`` pixels in [-1, 1].

    ``X`` holds rows of 64 pixel values in [0, 1] (shape ``(n, 64)``); the result is
    float32 of shape ``(n, 1, size, size)``, upsampled with bilinear interpolation
    (``align_corners=False``) and mapped to [-1, 1] by ``2·x - 1``, the range of a
    generator that ends in tanh. ``size=8`` returns the original pixels, rescaled.
    """
    import torch.nn.functional as F

    if not isinstance(X, torch.Tensor) or X.ndim != 2 or X.shape[1] != 64:
        shape = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise ValueError(f"X must be a tensor of shape (n, 64), got {shape}")
    _check_n(size, "size")
    images = X.detach().to(torch.float32).reshape(-1, 1, 8, 8)
    if size != 8:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return 2.0 * images - 1.0


# --- chapter 20 ---


def make_recall_task(
    n: int,
    lag: int,
    *,
    n_symbols: int = 4,
    n_distractors: int = 4,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Recall the first token of a sequence after ``lag`` distractor tokens.

    Each sequence has ``lag + 1`` one-hot tokens from a vocabulary of
    ``n_symbols + n_distractors``: the first is a symbol in ``[0, n_symbols)``,
    the label; the ``lag`` after it are distractors drawn uniformly from
    ``[n_symbols, n_symbols + n_distractors)``. Returns ``x`` of shape
    ``(n, lag + 1, n_symbols + n_distractors)`` (float32, batch first) and
    ``y`` of shape ``(n,)`` (int64). Chance accuracy is ``1 / n_symbols``.
    """
    _check_n(n)
    _check_n(lag, "lag")
    _check_n(n_symbols, "n_symbols")
    _check_n(n_distractors, "n_distractors")
    g = _generator(seed)
    first = torch.randint(0, n_symbols, (n,), generator=g)
    rest = torch.randint(n_symbols, n_symbols + n_distractors, (n, lag), generator=g)
    tokens = torch.cat([first[:, None], rest], dim=1)
    x = torch.nn.functional.one_hot(tokens, n_symbols + n_distractors).float()
    return x, first


# --- chapter 12 ---


def digits_on_canvas(
    X: torch.Tensor,
    *,
    size: int = 32,
    digit_size: int = 24,
    seed: int = 0,
    return_offsets: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Digit rows of :func:`load_digits` pasted at random positions on a blank canvas.

    Each digit is upsampled to ``digit_size``×``digit_size`` pixels with
    :func:`digits_as_images` (values in [-1, 1], background -1) and pasted onto a
    ``size``×``size`` canvas of -1 with its top-left corner at a row and a column
    drawn uniformly from ``0 … size - digit_size``, independently for every digit.
    Returns float32 images of shape ``(n, 1, size, size)``; with
    ``return_offsets=True`` also the int64 ``(n, 2)`` top-left corners (row, column).
    The same ``X`` and ``seed`` always give the same images.
    """
    _check_n(size, "size")
    _check_n(digit_size, "digit_size")
    if digit_size > size:
        raise ValueError(f"digit_size ({digit_size}) must not exceed size ({size})")
    digits = digits_as_images(X, size=digit_size)
    n = digits.shape[0]
    g = _generator(seed)
    offsets = torch.randint(0, size - digit_size + 1, (n, 2), generator=g)
    canvas = torch.full((n, 1, size, size), -1.0)
    for i, (row, col) in enumerate(offsets.tolist()):
        canvas[i, :, row : row + digit_size, col : col + digit_size] = digits[i]
    return (canvas, offsets) if return_offsets else canvas

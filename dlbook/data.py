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
    "SHAPE_CLASSES",
    "ShapeImages",
    "make_shapes",
    "place_digits",
    "DrivingSeries",
    "make_driving_series",
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


# --- chapter 17 ---

#: The shape classes of :func:`make_shapes`, in label order (label 0 is a circle).
SHAPE_CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "cross")


@dataclass(frozen=True)
class ShapeImages:
    """Images of simple shapes on textured backgrounds, with exact labels for every object.

    ``n`` images of ``size``×``size`` pixels, each holding ``k`` objects that do not
    overlap (so every object is fully visible):

    - ``images``: float32 ``(n, C, size, size)``, values in [0, 1];
    - ``labels``: int64 ``(n, k)``, the class of each object, an index into
      :data:`SHAPE_CLASSES`;
    - ``boxes``: int64 ``(n, k, 4)``, each object's box ``(x0, y0, x1, y1)`` in pixels,
      ``x0, y0`` inclusive and ``x1, y1`` exclusive, so the object's pixels are
      ``mask[y0:y1, x0:x1]``; it is the tight box of the object's mask;
    - ``object_map``: int64 ``(n, size, size)``, 0 for background and ``i + 1`` on the
      pixels of object ``i``;
    - ``class_map``: int64 ``(n, size, size)``, 0 for background and ``c + 1`` on the
      pixels of an object of class ``c`` (the segmentation target; class 0 is background).
    """

    images: torch.Tensor
    labels: torch.Tensor
    boxes: torch.Tensor
    object_map: torch.Tensor
    class_map: torch.Tensor

    def __len__(self) -> int:
        return len(self.images)

    @property
    def classes(self) -> tuple[str, ...]:
        """The class names, in label order."""
        return SHAPE_CLASSES


def _shape_masks(
    kind: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, r: torch.Tensor, size: int
) -> torch.Tensor:
    """Boolean ``(m, size, size)`` masks of ``m`` shapes: class ``kind``, centre ``(cx, cy)``,
    half-width ``r`` (all of shape ``(m,)``, in pixels).

    A pixel belongs to a shape when its centre ``(x + 0.5, y + 0.5)`` does.
    """
    c = torch.arange(size, dtype=torch.float64) + 0.5
    dx = c[None, None, :] - cx.double()[:, None, None]  # (m, 1, size)
    dy = c[None, :, None] - cy.double()[:, None, None]  # (m, size, 1)
    r = r.double()[:, None, None]
    arm = r / 3
    masks = torch.stack(
        [
            dx**2 + dy**2 <= r**2,  # circle of radius r
            (dx.abs() <= r) & (dy.abs() <= r),  # axis-aligned square of side 2r
            (dy <= r) & (dx.abs() <= (dy + r) / 2),  # triangle, apex up, base 2r, height 2r
            ((dx.abs() <= r) & (dy.abs() <= arm))  # cross: two bars 2r long, 2r/3 wide
            | ((dx.abs() <= arm) & (dy.abs() <= r)),
        ]
    )  # (4, m, size, size)
    return masks[kind, torch.arange(len(kind))]


def _backgrounds(n: int, size: int, texture: float, g: torch.Generator) -> torch.Tensor:
    """``(n, size, size)`` textures around 0.5: two random gratings of amplitude ``texture``
    (periods of 3 to 8 pixels, random directions) plus Gaussian pixel noise of sd 0.06."""
    c = torch.arange(size, dtype=torch.float32)
    py, px = c[:, None], c[None, :]
    waves = torch.zeros(n, size, size)
    for _ in range(2):
        angle = torch.pi * torch.rand(n, 1, 1, generator=g)
        phase = 2 * torch.pi * torch.rand(n, 1, 1, generator=g)
        period = 3.0 + 5.0 * torch.rand(n, 1, 1, generator=g)
        wave = (px * torch.cos(angle) + py * torch.sin(angle)) * (2 * torch.pi / period)
        waves = waves + texture * torch.sin(wave + phase)
    return 0.5 + waves + 0.06 * torch.randn(n, size, size, generator=g)


def make_shapes(
    n: int,
    *,
    size: int = 32,
    n_objects: int = 1,
    channels: int = 1,
    radius: tuple[float, float] | None = None,
    texture: float = 0.06,
    seed: int = 0,
) -> ShapeImages:
    """``n`` images of circles, squares, triangles and crosses on textured backgrounds.

    Every image has exactly ``n_objects`` shapes with independent uniform random classes
    (see :data:`SHAPE_CLASSES`), half-widths drawn uniformly from ``radius`` (default
    ``(0.15·size, 0.25·size)``, divided by ``sqrt(n_objects)``) and positions uniform
    over the places where the shape fits inside the image without touching another
    shape. Backgrounds are two random gratings of amplitude ``texture`` (0 gives flat
    grey) plus pixel noise; each shape is filled with a flat shade, clearly darker or
    brighter than the background, plus the same noise. With ``channels=3`` the
    background and each shape get their own random tint. Returns a :class:`ShapeImages`
    whose masks and boxes are exact. The same arguments always give the same data.
    """
    _check_n(n)
    _check_n(n_objects, "n_objects")
    if not isinstance(size, int) or isinstance(size, bool) or size < 12:
        raise ValueError(f"size must be an int of at least 12, got {size!r}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    shrink = n_objects**0.5  # several objects: smaller, so that they fit side by side
    r_lo, r_hi = radius if radius is not None else (0.15 * size / shrink, 0.25 * size / shrink)
    if not 1.5 <= r_lo <= r_hi <= size / 2 - 1:
        raise ValueError(f"radius must satisfy 1.5 <= lo <= hi <= size/2 - 1, got {radius!r}")
    if not 0.0 <= texture <= 0.2:
        raise ValueError(f"texture must be in [0, 0.2], got {texture!r}")
    g = _generator(seed)
    tint = 0.7 + 0.3 * torch.rand(n, channels, 1, 1, generator=g)
    images = _backgrounds(n, size, texture, g)[:, None] * (tint if channels == 3 else 1.0)
    labels = torch.randint(len(SHAPE_CLASSES), (n, n_objects), generator=g)
    boxes = torch.empty(n, n_objects, 4, dtype=torch.int64)
    object_map = torch.zeros(n, size, size, dtype=torch.int64)
    taken = torch.zeros(n, size, size, dtype=torch.bool)  # placed objects, grown by 1 pixel
    for j in range(n_objects):
        masks = torch.zeros(n, size, size, dtype=torch.bool)
        todo = torch.arange(n)
        for _ in range(200):  # rejection sampling: redraw the shapes that do not fit
            m = len(todo)
            r = r_lo + (r_hi - r_lo) * torch.rand(m, generator=g)
            cx, cy = r + 1 + (size - 2 * r - 2) * torch.rand(2, m, generator=g)
            new = _shape_masks(labels[todo, j], cx, cy, r, size)
            ok = new.flatten(1).any(1) & ~(new & taken[todo]).flatten(1).any(1)
            masks[todo[ok]] = new[ok]
            todo = todo[~ok]
            if len(todo) == 0:
                break
        else:
            raise ValueError(
                f"could not place {n_objects} shapes without overlap in a "
                f"{size}x{size} image: use fewer objects or smaller radii"
            )
        rows, cols = masks.any(2), masks.any(1)  # (n, size): which rows / columns are hit
        idx = torch.arange(size)
        boxes[:, j, 0] = torch.where(cols, idx, size).min(1).values
        boxes[:, j, 1] = torch.where(rows, idx, size).min(1).values
        boxes[:, j, 2] = torch.where(cols, idx, -1).max(1).values + 1
        boxes[:, j, 3] = torch.where(rows, idx, -1).max(1).values + 1
        object_map[masks] = j + 1
        if j < n_objects - 1:  # keep the next shapes one pixel away from this one
            grown = torch.nn.functional.max_pool2d(masks[:, None].float(), 3, 1, 1)[:, 0]
            taken |= grown.bool()
        dark = torch.rand(n, 1, 1, 1, generator=g) < 0.5
        shade = torch.where(dark, 0.05, 0.75) + 0.2 * torch.rand(n, 1, 1, 1, generator=g)
        if channels == 3:
            shade = shade * (0.7 + 0.3 * torch.rand(n, 3, 1, 1, generator=g))
        fill = shade + 0.06 * torch.randn(n, 1, size, size, generator=g)
        images = torch.where(masks[:, None], fill, images)
    lab = torch.cat([torch.zeros(n, 1, dtype=torch.int64), labels + 1], dim=1)
    class_map = torch.gather(lab, 1, object_map.flatten(1)).reshape(n, size, size)
    return ShapeImages(images.clamp(0.0, 1.0).float(), labels, boxes, object_map, class_map)


# --- chapter 13 ---


def place_digits(
    X: torch.Tensor, canvas: int = 12, *, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Paste each 8×8 digit of ``X`` at a random position on a blank ``canvas``×``canvas`` image.

    ``X`` holds rows of 64 pixel values (shape ``(n, 64)``, as :func:`load_digits`
    gives them). Returns ``images`` float32 of shape ``(n, 1, canvas, canvas)``,
    zero outside the pasted digit, and ``offsets`` int64 of shape ``(n, 2)``: the
    (row, column) of each digit's top-left corner, uniform over the
    ``(canvas - 7)²`` positions where the whole digit fits. The same seed gives the
    same positions.
    """
    if not isinstance(X, torch.Tensor) or X.ndim != 2 or X.shape[1] != 64:
        shape = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise ValueError(f"X must be a tensor of shape (n, 64), got {shape}")
    if not isinstance(canvas, int) or isinstance(canvas, bool) or canvas < 8:
        raise ValueError(f"canvas must be an int of at least 8, got {canvas!r}")
    g = _generator(seed)
    n, room = len(X), canvas - 8 + 1
    offsets = torch.randint(0, room, (n, 2), generator=g)
    digits = X.detach().to(torch.float32).reshape(n, 8, 8)
    images = torch.zeros(n, 1, canvas, canvas)
    for r in range(room):
        for c in range(room):
            here = (offsets[:, 0] == r) & (offsets[:, 1] == c)
            images[here, 0, r : r + 8, c : c + 8] = digits[here]
    return images, offsets


# --- chapter 23 ---


@dataclass(frozen=True)
class DrivingSeries:
    """Driving series and a target that depends on a known few of them (chapter 23).

    ``x`` is ``(n_steps, n_series)`` (float32, time first, one column per series),
    ``y`` is ``(n_steps,)`` (float32), ``relevant`` holds the sorted column indices
    of the three series the target depends on (int64), and ``lags`` the lag, in
    steps, at which the target reads each of them (in the order of ``relevant``).
    """

    x: torch.Tensor
    y: torch.Tensor
    relevant: torch.Tensor
    lags: tuple[int, ...]


def make_driving_series(
    n_steps: int,
    n_series: int = 10,
    *,
    noise_scale: float = 5.0,
    target_noise: float = 0.1,
    phi: float = 0.9,
    seed: int = 0,
) -> DrivingSeries:
    """Driving series and a target that depends only on three of them.

    Three columns, drawn at random by ``seed``, are smooth AR(1) processes
    ``s_t = phi * s_(t-1) + e_t`` scaled to unit variance; call them ``a, b, c`` in
    column order. The other ``n_series - 3`` columns are Gaussian white noise with
    standard deviation ``noise_scale``: loud sensors that carry nothing about the
    target. The target reads ``a`` now, ``b`` one step back and ``c`` two steps back,
    through a nonlinearity, plus Gaussian noise::

        y_t = a_t + tanh(1.5 * b_(t-1)) + 0.5 * c_(t-2) * |a_t| + target_noise * eps_t

    Returns a :class:`DrivingSeries`.
    """
    _check_n(n_steps, "n_steps")
    if not isinstance(n_series, int) or isinstance(n_series, bool) or n_series < 4:
        raise ValueError(f"n_series must be an int >= 4 (three relevant + noise), got {n_series!r}")
    if not 0.0 <= phi < 1.0:
        raise ValueError(f"phi must be in [0, 1) for a stationary series, got {phi!r}")
    if noise_scale < 0 or target_noise < 0:
        raise ValueError("noise_scale and target_noise must be >= 0")
    g = _generator(seed)
    relevant = torch.randperm(n_series, generator=g)[:3].sort().values
    burn, lags = 50, (0, 1, 2)
    total = n_steps + burn + max(lags)
    eps = torch.randn(total, 3, generator=g, dtype=torch.float64)
    s = torch.zeros(total, 3, dtype=torch.float64)
    for t in range(1, total):
        s[t] = phi * s[t - 1] + eps[t]
    s = s[burn:]
    s = (s - s.mean(0)) / s.std(0)  # unit variance, mean 0
    a, b, c = s.T
    lag_a, lag_b, lag_c = lags
    now = slice(max(lags), None)
    a_now = a[max(lags) - lag_a :]
    b_lag = b[max(lags) - lag_b : len(b) - lag_b]
    c_lag = c[max(lags) - lag_c : len(c) - lag_c]
    y = a_now + torch.tanh(1.5 * b_lag) + 0.5 * c_lag * a_now.abs()
    y = y + target_noise * torch.randn(n_steps, generator=g, dtype=torch.float64)
    x = noise_scale * torch.randn(n_steps, n_series, generator=g, dtype=torch.float64)
    x[:, relevant] = s[now]
    return DrivingSeries(x.float(), y.float(), relevant, lags)


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

"""Image–text data for chapter 08 (multimodal fusion): real digits with claims, and synthetic scenes.

Two sets, both generated from labels so every property is known:

* **Digit claims** — scikit-learn's 8×8 handwritten digits, each paired with the four claims
  "the digit is even / odd / greater than four / less than five" and the answer yes (1) or no (0).
  Every digit appears equally often and every image comes with all four claims, so *by
  construction* the answer is independent of the image alone (each image: 2 yes, 2 no) and of the
  text alone (each claim is true for exactly half of the images). Only image **and** text together
  predict it.
* **Scenes** — two coloured shapes drawn with NumPy, one in the left half, one in the right half,
  captioned "a red circle left of a blue square". A relational yes/no task pairs each scene with
  its true caption or the same caption with the two objects swapped: the same words, the same image,
  so a bag of words and the image alone are at chance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# claim → the digits it is true for
CLAIMS: dict[str, frozenset[int]] = {
    "the digit is even": frozenset({0, 2, 4, 6, 8}),
    "the digit is odd": frozenset({1, 3, 5, 7, 9}),
    "the digit is greater than four": frozenset({5, 6, 7, 8, 9}),
    "the digit is less than five": frozenset({0, 1, 2, 3, 4}),
}
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SHAPES = ("circle", "square", "triangle")
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (1.0, 0.1, 0.1), "green": (0.1, 0.8, 0.1), "blue": (0.15, 0.3, 1.0), "yellow": (1.0, 0.9, 0.1),
}


@dataclass
class ImageTextSet:
    """Paired examples: ``images`` (N, 8, 8) or (N, 3, S, S) float32 in [0, 1], ``texts`` (N strings),
    ``labels`` (N,) int64 task answers, ``image_ids`` (N,) index of the source image (several texts
    may share one image), ``classes`` (N,) the image's class (digit) or -1."""

    images: np.ndarray
    texts: list[str]
    labels: np.ndarray
    image_ids: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)

    def __post_init__(self) -> None:
        n = len(self.texts)
        for name in ("images", "labels", "image_ids", "classes"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"ImageTextSet: {name} has {len(getattr(self, name))} rows but there are {n} texts")

    def subset(self, idx: np.ndarray) -> ImageTextSet:
        """The examples at ``idx`` (an index array)."""
        idx = np.asarray(idx)
        return ImageTextSet(self.images[idx], [self.texts[i] for i in idx], self.labels[idx],
                            self.image_ids[idx], self.classes[idx])


def _digits() -> tuple[np.ndarray, np.ndarray]:
    try:
        from .data import load_digits_images
    except ImportError:  # pragma: no cover - data.py ships with the course
        from sklearn.datasets import load_digits

        d = load_digits()
        return (d.images / 16.0).astype(np.float32), d.target.astype(np.int64)
    return load_digits_images()


def balanced_digits(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The digits with every class cut to the size of the smallest (174): images (1740, 8, 8), labels (1740,).

    Returned in a seeded random order, so a prefix/suffix split stays (almost) balanced.
    """
    images, labels = _digits()
    rng = np.random.default_rng(seed)
    per_class = np.bincount(labels, minlength=10).min()
    keep = np.concatenate([rng.choice(np.flatnonzero(labels == d), per_class, replace=False) for d in range(10)])
    keep = rng.permutation(keep)
    return images[keep], labels[keep]


SPLITS = ("train", "validation", "test")


def digit_claims(split: str = "train", test_fraction: float = 0.2, seed: int = 0,
                 validation_fraction: float = 0.1) -> ImageTextSet:
    """The both-modalities task: (digit image, claim) → yes (1) / no (0).

    Images are split per class: the first ``test_fraction`` of each digit goes to "test", the next
    ``validation_fraction`` to "validation" (for choosing settings and early stopping), the rest to "train"
    (174 per digit: 35 / 17 / 122). Then every image gets all four :data:`CLAIMS`. So within each split each
    digit appears equally often, each image has two true and two false claims, and each claim is true for
    exactly half of the images.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    if not (0 < test_fraction < 1 and 0 <= validation_fraction < 1 and test_fraction + validation_fraction < 1):
        raise ValueError(f"need 0 < test_fraction, 0 ≤ validation_fraction and their sum < 1; got "
                         f"{test_fraction} and {validation_fraction}")
    images, digits = balanced_digits(seed)
    chosen = []
    for d in range(10):
        idx = np.flatnonzero(digits == d)  # already shuffled
        n_test = int(round(len(idx) * test_fraction))
        n_val = int(round(len(idx) * validation_fraction))
        parts = {"test": idx[:n_test], "validation": idx[n_test:n_test + n_val], "train": idx[n_test + n_val:]}
        chosen.append(parts[split])
    img_idx = np.sort(np.concatenate(chosen))
    texts, labels, image_ids = [], [], []
    for i in img_idx:
        for claim, true_for in CLAIMS.items():
            texts.append(claim)
            labels.append(int(digits[i] in true_for))
            image_ids.append(i)
    image_ids = np.array(image_ids)
    return ImageTextSet(images[image_ids], texts, np.array(labels, dtype=np.int64), image_ids,
                        digits[image_ids])


def digit_captions(split: str = "train", test_fraction: float = 0.2, seed: int = 0,
                   validation_fraction: float = 0.1) -> ImageTextSet:
    """One caption per image, "a handwritten seven" (labels = the digit), from the same image splits as
    :func:`digit_claims`: for matching and CLIP."""
    claims = digit_claims(split, test_fraction, seed, validation_fraction)
    first = np.flatnonzero(np.r_[True, claims.image_ids[1:] != claims.image_ids[:-1]])  # one row per image
    digits = claims.classes[first]
    return ImageTextSet(claims.images[first], [digit_prompt(d) for d in digits], digits.copy(),
                        claims.image_ids[first], digits.copy())


CAPTION_TEMPLATE = "a handwritten {}"  # the training captions of chapter 08's dual encoder
HELD_OUT_TEMPLATES = ("a picture of a {}", "this is a {}")  # wordings the dual encoder never trains on


def digit_prompt(digit: int, template: str = CAPTION_TEMPLATE) -> str:
    """The caption / prompt for a digit: ``digit_prompt(7) == "a handwritten seven"``,
    ``digit_prompt(7, "a picture of a {}") == "a picture of a seven"``."""
    return template.format(DIGIT_WORDS[int(digit)])


# -- synthetic scenes --------------------------------------------------------------------------------

def draw_shape(canvas: np.ndarray, shape: str, colour: str, cy: float, cx: float, r: float) -> None:
    """Paint ``shape`` of ``colour`` centred at row ``cy``, column ``cx`` with radius ``r`` (pixels)
    into ``canvas`` (3, S, S), in place."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")
    if colour not in COLOURS:
        raise ValueError(f"unknown colour {colour!r}; expected one of {tuple(COLOURS)}")
    size = canvas.shape[-1]
    yy, xx = np.mgrid[0:size, 0:size] + 0.5  # pixel centres
    dy, dx = yy - cy, xx - cx
    if shape == "circle":
        inside = dy**2 + dx**2 <= r**2
    elif shape == "square":
        inside = (np.abs(dy) <= r * 0.85) & (np.abs(dx) <= r * 0.85)
    else:  # triangle pointing up: below the apex, inside the two slanted edges
        inside = (dy >= -r) & (dy <= r) & (np.abs(dx) <= (dy + r) / 2)
    canvas[:, inside] = np.array(COLOURS[colour], dtype=canvas.dtype)[:, None]


def scene_caption(left: tuple[str, str], right: tuple[str, str], left_first: bool = True) -> str:
    """"a red circle left of a blue square" (or, with ``left_first=False``, "a blue square right of a red circle")."""
    a, b = (left, right) if left_first else (right, left)
    relation = "left of" if left_first else "right of"
    return f"a {a[0]} {a[1]} {relation} a {b[0]} {b[1]}"


def make_scenes(n: int, size: int = 16, seed: int = 0) -> ImageTextSet:
    """``n`` scenes (3, size, size) with two different (colour, shape) objects, one per half, and their
    true captions. ``labels`` are all 1 (true captions); ``classes`` are -1.

    The caption describes the pair from either side at random ("A left of B" or "B right of A").
    """
    if n < 1 or size < 8:
        raise ValueError(f"need n ≥ 1 and size ≥ 8; got n={n}, size={size}")
    rng = np.random.default_rng(seed)
    objects = [(c, s) for c in COLOURS for s in SHAPES]
    images = np.zeros((n, 3, size, size), dtype=np.float32)
    texts = []
    r = size / 5
    for i in range(n):
        a, b = rng.choice(len(objects), size=2, replace=False)
        left, right = objects[a], objects[b]
        for (colour, shape), x_lo in ((left, 0.0), (right, size / 2)):
            cx = x_lo + rng.uniform(r + 0.5, size / 2 - r - 0.5)
            cy = rng.uniform(r + 0.5, size - r - 0.5)
            draw_shape(images[i], shape, colour, cy, cx, r)
        texts.append(scene_caption(left, right, left_first=bool(rng.integers(2))))
    return ImageTextSet(images, texts, np.ones(n, dtype=np.int64), np.arange(n), np.full(n, -1))


def swap_objects(caption: str) -> str:
    """"a red circle left of a blue square" → "a blue square left of a red circle" (now false)."""
    words = caption.split()
    if len(words) != 8 or words[0] != "a" or words[5] != "a":
        raise ValueError(f"not a scene caption: {caption!r}")
    return " ".join(words[5:8] + words[3:5] + words[0:3])


def scene_relations(n: int, size: int = 16, seed: int = 0) -> ImageTextSet:
    """The relational task: each scene appears twice, with its true caption (1) and with the two
    objects swapped (0). Same words and same image in both rows, so only their relation decides."""
    scenes = make_scenes(n, size, seed)
    idx = np.repeat(np.arange(n), 2)
    texts = [t if k == 0 else swap_objects(t) for t in scenes.texts for k in (0, 1)]
    labels = np.tile(np.array([1, 0], dtype=np.int64), n)
    return ImageTextSet(scenes.images[idx], texts, labels, idx, np.full(2 * n, -1))


def word_vocab(texts: list[str]) -> list[str]:
    """A word-level vocabulary for :class:`bertlab.tokenizer.WordPieceTokenizer`: the five specials, then
    every lower-cased word of ``texts`` in sorted order."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = sorted({w for t in texts for w in t.lower().split()})
    return specials + words


def chapter_vocab() -> list[str]:
    """The word-level vocabulary of chapter 08 (notebook and ``python -m bertlab.runs.fusion`` alike): every word
    of the claims, of the digit prompts in the training and the held-out wordings, and of the scene captions."""
    prompts = [digit_prompt(d, t) for t in (CAPTION_TEMPLATE, *HELD_OUT_TEMPLATES) for d in range(10)]
    scenes = [f"a {c} {s} left of right of" for c in COLOURS for s in SHAPES]
    return word_vocab(list(CLAIMS) + prompts + scenes)

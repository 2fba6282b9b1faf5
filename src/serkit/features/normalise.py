"""Mean and variance normalisation of features, per dimension.

Four kinds, which differ in *whose* statistics they use:

* :class:`UtteranceNormaliser` - each utterance by its own statistics over
  time (seed 003).  Needs nothing fitted; frame-level features only.
* :class:`GlobalNormaliser` - statistics fitted on the training part of a split
  only (seed 001), then applied to everything; saved with a model as JSON.
* :class:`SpeakerNormaliser` - each speaker by that speaker's statistics
  (seed 004's speaker-specific z-normalisation).  At test time it uses the
  test speaker's own audio, which a single-file prediction cannot have, so it
  is a **declared variant**: its :attr:`~Normaliser.variant` is
  ``"per-speaker"`` (the others' is None), :meth:`~Normaliser.tag` appends the
  variant to any result name, fitting it logs a warning, and it refuses to be
  saved with a model.
* :class:`CorpusNormaliser` - each corpus by its statistics: a corpus seen in
  training by its training rows', an unseen test corpus (cross-corpus
  protocols) by its own, fitted without labels on what is predicted.  That is
  label-free adaptation, so it too is a declared variant, ``"per-corpus"``.

Arrays are ``(dims, frames)`` for frame-level features, ``(dims,)`` for
functionals, or batches of either with the dimensions second to last (frame
level) or last (functionals).  Statistics are per dimension, pooled over every
frame (or, for functionals, every utterance) they are fitted on, and computed
in float64.  A dimension whose standard deviation is below ``eps`` (a constant
in the training data) is only centred, never divided by ~0.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from serkit.errors import SerkitError

log = logging.getLogger(__name__)



class Normalisation(enum.StrEnum):
    """Which normalisation a recipe asks for: whose statistics.

    The values are the strings recipes, model files, results and configuration hashes hold
    (a str-enum member is equal to, formats as and JSON-encodes as its value, so none of them
    changed when the bare strings became this enum).
    """

    GLOBAL = "global"  #: statistics fitted on the training part (:class:`GlobalNormaliser`)
    UTTERANCE = "utterance"  #: each input by its own (:class:`UtteranceNormaliser`)
    PER_SPEAKER = "per-speaker"  #: each speaker by its own: a declared variant (:class:`SpeakerNormaliser`)
    NONE = "none"
    PER_CORPUS = "per-corpus"  #: each corpus by its own: a declared variant (:class:`CorpusNormaliser`)


PER_SPEAKER = Normalisation.PER_SPEAKER
PER_CORPUS = Normalisation.PER_CORPUS
DEFAULT_EPS = 1e-8


class Normaliser:
    """Common interface: ``fit`` (where there is anything to fit), ``transform``."""

    kind: ClassVar[str]
    #: Name of the declared variant a result must carry, or None for a leakage-free normaliser.
    variant: ClassVar[str | None] = None

    def tag(self, name: str) -> str:
        """``name`` with this normaliser's variant appended, when it has one."""
        return name if self.variant is None else f"{name}[{self.variant}]"


class UtteranceNormaliser(Normaliser):
    """Zero mean, unit variance over time for each dimension of each utterance."""

    kind = "utterance"

    def __init__(self, eps: float = DEFAULT_EPS):
        self.eps = eps

    def transform(self, x: np.ndarray) -> np.ndarray:
        if x.ndim < 2:
            raise SerkitError("per-utterance normalisation needs (dims, frames) arrays, got a functional")
        return normalise_utterance(x, self.eps)


def normalise_utterance(x: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """``(x - mean) / std`` over the last (time) axis, per dimension, as float32."""
    data = np.asarray(x, dtype=np.float64)
    mean = data.mean(axis=-1, keepdims=True)
    std = data.std(axis=-1, keepdims=True)
    return _scale(data, mean, std, eps)


#: What a global normaliser's statistics describe (:attr:`GlobalNormaliser.fitted_on`).
FRAMES, UTTERANCE_MEANS = "frames", "utterance means"


class GlobalNormaliser(Normaliser):
    """Per-dimension statistics fitted on training data, scikit-learn style."""

    kind = "global"

    def __init__(self, eps: float = DEFAULT_EPS):
        self.eps = eps
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.count = 0
        #: Fitted on (dims, frames) arrays (True) or on functionals (False).
        self.frame_level = True
        #: What the statistics describe: every frame (FRAMES), or each utterance's mean frame
        #: (UTTERANCE_MEANS: a mean-pooled model's scaler, applied to frames since a per-dimension
        #: affine map commutes with the mean; adaptation refits it the same way).
        self.fitted_on = FRAMES

    def fit(self, arrays: Iterable[np.ndarray]) -> GlobalNormaliser:
        """Fit on the training part's arrays, all ``(dims, frames)`` or all ``(dims,)``."""
        count, mean, m2, self.frame_level = pooled_moments(arrays)
        self.count, self.mean, self.std = count, mean, np.sqrt(m2 / count)
        return self

    def fit_utterance_means(self, arrays: Iterable[np.ndarray]) -> GlobalNormaliser:
        """Fit on each ``(dims, frames)`` array's mean frame; applied to frames afterwards."""
        self.fit(np.asarray(a, dtype=np.float64).mean(axis=1) for a in arrays)
        self.frame_level, self.fitted_on = True, UTTERANCE_MEANS
        return self

    @classmethod
    def of_utterance_means(cls, mean: np.ndarray, std: np.ndarray, count: int) -> GlobalNormaliser:
        """Statistics of utterance means fitted elsewhere (a scikit-learn scaler's), applied to frames."""
        normaliser = cls()
        normaliser.count, normaliser.fitted_on = int(count), UTTERANCE_MEANS
        normaliser.mean, normaliser.std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
        return normaliser

    def transform(self, x: np.ndarray) -> np.ndarray:
        if self.mean is None or self.std is None:
            raise SerkitError("the global normaliser is used before it was fitted")
        return _apply(x, self.mean, self.std, self.frame_level, self.eps)

    def fit_transform(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        self.fit(arrays)
        return [self.transform(a) for a in arrays]

    def to_dict(self) -> dict[str, Any]:
        if self.mean is None or self.std is None:
            raise SerkitError("cannot save a global normaliser that was not fitted")
        return {
            "kind": self.kind,
            "eps": self.eps,
            "count": self.count,
            "frame_level": self.frame_level,
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            # only where it is not frames, so that older model files stay byte-for-byte valid
            **({"fitted_on": self.fitted_on} if self.fitted_on != FRAMES else {}),
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()) + "\n")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GlobalNormaliser:
        if data.get("kind") != cls.kind:
            raise SerkitError(f"not a global normaliser: kind {data.get('kind')!r}")
        try:
            normaliser = cls(eps=float(data["eps"]))
            normaliser.count = int(data["count"])
            normaliser.frame_level = bool(data["frame_level"])
            normaliser.mean = np.asarray(data["mean"], dtype=np.float64)
            normaliser.std = np.asarray(data["std"], dtype=np.float64)
            normaliser.fitted_on = data.get("fitted_on", FRAMES)
            if normaliser.fitted_on not in (FRAMES, UTTERANCE_MEANS):
                raise ValueError(f"fitted_on {normaliser.fitted_on!r}")
        except (KeyError, TypeError, ValueError) as e:
            raise SerkitError(f"incomplete global normaliser data ({e!r})") from None
        return normaliser

    @classmethod
    def load(cls, path: str | Path) -> GlobalNormaliser:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise SerkitError(f"{path}: cannot read a normaliser ({e})") from None
        return cls.from_dict(data)


class _GroupNormaliser(Normaliser):
    """Statistics per group of arrays (a speaker's, a corpus's): ``stats`` maps the group to its
    mean and standard deviation per dimension."""

    def __init__(self, eps: float = DEFAULT_EPS):
        self.eps = eps
        self.stats: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.frame_level = True

    def _by(self, x: np.ndarray, group: str, missing: str) -> np.ndarray:
        """``x`` by ``group``'s statistics; ``missing`` says why there are none."""
        if str(group) not in self.stats:
            raise SerkitError(missing)
        mean, std = self.stats[str(group)]
        return _apply(x, mean, std, self.frame_level, self.eps)


class SpeakerNormaliser(_GroupNormaliser):
    """Each speaker's arrays by that speaker's own statistics: the ``per-speaker`` variant.

    ``fit`` takes every array of every speaker to be normalised, test
    speakers included; that is what makes it a variant, not a fitted model.
    """

    kind = "speaker"
    variant = PER_SPEAKER

    def fit(self, arrays: Sequence[np.ndarray], speakers: Sequence[str]) -> SpeakerNormaliser:
        log.warning(
            "per-speaker normalisation uses each test speaker's own statistics: "
            "results are the %s variant and must say so",
            self.variant.value,
        )
        self.stats, self.frame_level = group_statistics(arrays, speakers)
        return self

    def transform(self, x: np.ndarray, speaker: str) -> np.ndarray:
        return self._by(x, speaker, f"per-speaker normalisation has no statistics for speaker {speaker!r}: "
                                    "it needs that speaker's own recordings, which a single-file prediction lacks")

    def fit_transform(self, arrays: Sequence[np.ndarray], speakers: Sequence[str]) -> list[np.ndarray]:
        self.fit(arrays, speakers)
        return [self.transform(a, s) for a, s in zip(arrays, speakers, strict=True)]

    def save(self, path: str | Path) -> None:
        raise SerkitError(
            f"{path}: a per-speaker normaliser cannot be saved with a model; "
            "a model that predicts one file needs a global normaliser"
        )


class CorpusNormaliser(_GroupNormaliser):
    """Each corpus by statistics of its own: the ``per-corpus`` variant.

    :meth:`fit` takes the training part's arrays and their corpora: a corpus
    seen in training is normalised by its training rows' statistics, in every
    part its rows are in.  A corpus training never saw (the test
    corpus of a cross-corpus protocol) has none until :meth:`adapted` fits them
    on the arrays about to be predicted, without their labels: label-free
    adaptation to the test corpus, which is what makes this a declared variant.
    """

    kind = "corpus"
    variant = PER_CORPUS

    def fit(self, arrays: Sequence[np.ndarray], corpora: Sequence[str]) -> CorpusNormaliser:
        self.stats, self.frame_level = group_statistics(arrays, corpora)
        return self

    def adapted(self, arrays: Sequence[np.ndarray], corpora: Sequence[str]) -> CorpusNormaliser:
        """A copy that also holds the statistics of each corpus of ``corpora`` this one has none
        of, fitted on that corpus's arrays here, without labels (logged as the variant it makes)."""
        copy = CorpusNormaliser(self.eps)
        copy.stats, copy.frame_level = dict(self.stats), self.frame_level
        unseen = [c for c in dict.fromkeys(map(str, corpora)) if c not in self.stats]
        if unseen:
            log.warning("per-corpus normalisation adapts to %s with its own statistics (no labels): results "
                        "are the %s variant and must say so", ", ".join(unseen), self.variant.value)
            rows = [(x, c) for x, c in zip(arrays, map(str, corpora), strict=True) if c in unseen]
            fitted, _ = group_statistics([x for x, _ in rows], [c for _, c in rows])
            copy.stats.update(fitted)
        return copy

    def transform(self, x: np.ndarray, corpus: str) -> np.ndarray:
        return self._by(x, corpus, f"per-corpus normalisation has no statistics for corpus {corpus!r}: "
                                   "take adapted() to it first (its own recordings, no labels)")


def group_statistics(
    arrays: Sequence[np.ndarray], groups: Sequence[str]
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], bool]:
    """Mean and standard deviation per dimension of each group's arrays pooled, and whether the
    arrays were frame-level."""
    if len(arrays) != len(groups):
        raise SerkitError(f"{len(arrays)} arrays but {len(groups)} group labels")
    members: dict[str, list[np.ndarray]] = {}
    for array, group in zip(arrays, groups, strict=True):
        members.setdefault(str(group), []).append(array)
    stats, frame_level = {}, True
    for group, group_arrays in members.items():
        count, mean, m2, frame_level = pooled_moments(group_arrays)
        stats[group] = (mean, np.sqrt(m2 / count))
    return stats, frame_level


def pooled_moments(arrays: Iterable[np.ndarray]) -> tuple[int, np.ndarray, np.ndarray, bool]:
    """Count, mean and summed squared deviations per dimension over all frames,
    and whether the arrays were frame-level.

    Combines per-array moments with Chan et al.'s pairwise update, so that the
    arrays are never concatenated and large sums do not lose precision.
    """
    count, mean, m2 = 0, None, None
    ndim = None
    for array in arrays:
        data = np.asarray(array, dtype=np.float64)
        if ndim is None:
            ndim = data.ndim
        if data.ndim != ndim or data.ndim not in (1, 2):
            raise SerkitError(
                "normalisation is fitted on arrays that are all (dims, frames) or all (dims,); "
                f"got shapes of {ndim} and {data.ndim} dimensions"
            )
        # A functional is one observation of every dimension.
        frames = data[:, np.newaxis] if data.ndim == 1 else data
        n = frames.shape[1]
        if n == 0:
            continue
        a_mean = frames.mean(axis=1)
        a_m2 = ((frames - a_mean[:, np.newaxis]) ** 2).sum(axis=1)
        if mean is None:
            count, mean, m2 = n, a_mean, a_m2
            continue
        if a_mean.shape != mean.shape:
            raise SerkitError(f"arrays of {mean.size} and {a_mean.size} dimensions cannot be pooled")
        delta = a_mean - mean
        total = count + n
        mean = mean + delta * (n / total)
        m2 = m2 + a_m2 + delta**2 * (count * n / total)
        count = total
    if mean is None or m2 is None:
        raise SerkitError("cannot fit normalisation statistics on no data")
    return count, mean, m2, ndim == 2


def _apply(
    x: np.ndarray, mean: np.ndarray, std: np.ndarray, frame_level: bool, eps: float
) -> np.ndarray:
    data = np.asarray(x, dtype=np.float64)
    axis = -2 if frame_level else -1  # (..., dims, frames) or (..., dims)
    if data.ndim < -axis or data.shape[axis] != mean.size:
        layout = "(..., dims, frames)" if frame_level else "(..., dims)"
        raise SerkitError(f"array of shape {data.shape} is not {layout} with the {mean.size} fitted dims")
    if frame_level:
        mean, std = mean[:, np.newaxis], std[:, np.newaxis]
    return _scale(data, mean, std, eps)


def _scale(data: np.ndarray, mean: np.ndarray, std: np.ndarray, eps: float) -> np.ndarray:
    return ((data - mean) / np.where(std < eps, 1.0, std)).astype(np.float32)

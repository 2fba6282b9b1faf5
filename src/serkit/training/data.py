"""In-memory training data: examples, datasets, windows and padded batches.

An :class:`Example` is one model input: a float32 feature array ``(dims,
frames)``, its target, its id and its *group*, the utterance it comes from
(its own id unless it is a window of one), and optionally its *domain*, the
corpus it comes from, which corpus-balanced sampling draws by.  Two datasets hand examples out:

* :class:`FeatureDataset` holds features computed beforehand (from the cache);
* :class:`WaveformDataset` holds signals and computes features when asked, so
  that waveform augmentation (gain, tempo) happens before feature extraction
  and never reaches a feature cache.  Unaugmented features are computed once
  and kept.
* :class:`AugmentedCopies` holds features computed beforehand for each item
  and for a few perturbed copies of it (:mod:`serkit.features.augmented`);
  asked for an item, it hands out the copy drawn for it (0, the original).

**Windows** (seed 002): :meth:`FeatureDataset.windows` and
:meth:`WaveformDataset.windows` split every item into overlapping windows
(:func:`serkit.features.shaping.segment` places them) that keep the item's
target and name it as their group; an utterance is scored by combining its
windows' scores (:func:`combine_groups`).  Windows keep their true length: a
short utterance is one window, not a padded one, and padding is what
:func:`collate` adds and masks.

Which items each batch holds is the sampler's (:mod:`serkit.training.sampler`;
corpus-balanced sampling, ``train.balance: corpus``, draws by the domain).

**Randomness** comes only from :func:`keyed_rng`: generators keyed by the run's
seed and a position (epoch, item, batch), never a shared stream, so that a
resumed run draws exactly what an uninterrupted one does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from serkit.errors import SerkitError
from serkit.features.shaping import segment
from serkit.training.tasks import Targets, Task

#: Streams of :func:`keyed_rng`, so that no two uses of one seed share draws.
SHUFFLE_STREAM, WAVEFORM_STREAM, SPEC_STREAM, FRAME_STREAM = 0, 1, 2, 3

Augmenter = Callable[[np.ndarray], np.ndarray]
"""A waveform augmentation already drawn for one item: signal in, signal out."""


def keyed_rng(seed: int, *keys: int) -> np.random.Generator:
    """A generator determined by ``seed`` and ``keys`` (numpy's SeedSequence mixes them)."""
    return np.random.default_rng([seed, *keys])


@dataclasses.dataclass(frozen=True, eq=False)
class Example:
    """One model input: features ``(dims, frames)``, target, id, group and domain (its corpus)."""

    features: np.ndarray
    target: Any
    id: str
    group: str | None = None
    domain: str | None = None

    def __post_init__(self) -> None:
        features = np.asarray(self.features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] == 0:
            raise SerkitError(f"{self.id}: features must be (dims, frames) with frames, got {features.shape}")
        object.__setattr__(self, "features", features)
        if self.group is None:
            object.__setattr__(self, "group", self.id)

    @property
    def length(self) -> int:
        return self.features.shape[1]


@dataclasses.dataclass(frozen=True, eq=False)
class Recording:
    """One signal (mono float32 at the dataset's rate), its target, id, group and domain."""

    signal: np.ndarray
    target: Any
    id: str
    group: str | None = None
    domain: str | None = None

    def __post_init__(self) -> None:
        signal = np.asarray(self.signal, dtype=np.float32)
        if signal.ndim != 1 or signal.size == 0:
            raise SerkitError(f"{self.id}: a recording must be a non-empty mono signal, got {signal.shape}")
        object.__setattr__(self, "signal", signal)
        if self.group is None:
            object.__setattr__(self, "group", self.id)


class _InMemory:
    """Items with ``target``, ``id`` and ``group``; what both datasets share."""

    def __init__(self, items: Iterable[Any]):
        self.items = tuple(items)
        if not self.items:
            raise SerkitError("a dataset needs at least one item")
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise SerkitError(f"{item.id}: the id occurs twice in one dataset")
            seen.add(item.id)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def ids(self) -> list[str]:
        return [item.id for item in self.items]

    @property
    def groups(self) -> list[str]:
        return [item.group for item in self.items]

    @property
    def targets(self) -> list[Any]:
        return [item.target for item in self.items]

    @property
    def domains(self) -> list[str | None]:
        return [item.domain for item in self.items]

    def _window_items(self, series: Callable[[Any], np.ndarray], window: int, hop: int, last: str) -> list:
        """Every item cut into windows along the last axis of ``series(item)``."""
        windows = []
        for item in self.items:
            data = series(item)
            total = data.shape[-1]
            for start in segment(data, window, hop, last=last).starts.tolist():
                stop = min(start + window, total)
                windows.append((item, f"{item.id}@{start}", data[..., start:stop]))
        return windows


class FeatureDataset(_InMemory):
    """Examples whose features were computed beforehand."""

    def __init__(self, examples: Iterable[Example]):
        super().__init__(examples)
        dims = {e.features.shape[0] for e in self.items}
        if len(dims) != 1:
            raise SerkitError(f"examples of one dataset differ in feature dimensions: {sorted(dims)}")

    @classmethod
    def from_arrays(
        cls,
        features: Sequence[np.ndarray],
        targets: Sequence[Any],
        ids: Sequence[str],
        groups: Sequence[str] | None = None,
        domains: Sequence[str] | None = None,
    ) -> FeatureDataset:
        if not len(features) == len(targets) == len(ids):
            raise SerkitError(f"{len(features)} feature arrays, {len(targets)} targets, {len(ids)} ids")
        groups = ids if groups is None else groups
        domains = [None] * len(ids) if domains is None else domains
        return cls(Example(f, t, str(i), str(g), d) for f, t, i, g, d in zip(features, targets, ids, groups, domains))

    @property
    def dims(self) -> int:
        return self.items[0].features.shape[0]

    def example(self, index: int, augment: Augmenter | None = None) -> Example:
        if augment is not None:
            raise SerkitError("waveform augmentation needs a WaveformDataset: these features are fixed")
        return self.items[index]

    def size(self, index: int) -> int:
        """Frames of item ``index`` (what SortaGrad sorts by)."""
        return self.items[index].length

    def windows(self, window: int, hop: int, last: str = "shift") -> FeatureDataset:
        """Windows of ``window`` frames every ``hop`` frames (placed by ``shaping.segment``)."""
        pieces = self._window_items(lambda e: e.features, window, hop, last)
        return FeatureDataset(Example(data, item.target, name, item.group, item.domain) for item, name, data in pieces)


class WaveformDataset(_InMemory):
    """Recordings whose features ``extract`` computes on demand, after any augmentation.

    ``extract`` maps a signal at ``sample_rate`` to ``(dims, frames)`` (an
    extractor's ``process_signal``); ``transform``, if given, is applied to its
    output (a fitted normaliser's ``transform``).
    """

    def __init__(
        self,
        recordings: Iterable[Recording],
        extract: Callable[[np.ndarray], np.ndarray],
        sample_rate: int,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        super().__init__(recordings)
        self.extract = extract
        self.sample_rate = sample_rate
        self.transform = transform
        self._plain: dict[int, Example] = {}

    def example(self, index: int, augment: Augmenter | None = None) -> Example:
        if augment is None and index in self._plain:
            return self._plain[index]
        item = self.items[index]
        signal = item.signal if augment is None else augment(item.signal)
        features = self.extract(signal)
        if self.transform is not None:
            features = self.transform(features)
        example = Example(features, item.target, item.id, item.group, item.domain)
        if augment is None:
            self._plain[index] = example
        return example

    def size(self, index: int) -> int:
        """Samples of item ``index`` (what SortaGrad sorts by)."""
        return self.items[index].signal.size

    def windows(self, window_s: float, hop_s: float, last: str = "shift") -> WaveformDataset:
        """Windows of ``window_s`` seconds every ``hop_s`` seconds, cut from the signals."""
        window, hop = round(window_s * self.sample_rate), round(hop_s * self.sample_rate)
        pieces = self._window_items(lambda r: r.signal[np.newaxis], window, hop, last)
        recordings = (Recording(data[0], item.target, name, item.group, item.domain) for item, name, data in pieces)
        return WaveformDataset(recordings, self.extract, self.sample_rate, self.transform)


class AugmentedCopies(FeatureDataset):
    """Examples and, for each, ``copies`` examples of perturbed copies of its audio (features
    computed beforehand): :meth:`example` takes the copy's number, 0 for the original."""

    def __init__(self, examples: Iterable[Example], copies: Sequence[Sequence[Example]]):
        super().__init__(examples)
        self.copies = tuple(tuple(c) for c in copies)
        counts = {len(c) for c in self.copies}
        if len(self.copies) != len(self.items) or len(counts) != 1 or not counts.pop():
            raise SerkitError(f"{len(self.items)} examples need as many sets of copies, each as many and "
                              f"at least one; got {[len(c) for c in self.copies]}")
        for item, copies in zip(self.items, self.copies):
            for copy in copies:
                if copy.features.shape[0] != self.dims:
                    raise SerkitError(f"{copy.id}: a copy of {item.id} has {copy.features.shape[0]} "
                                      f"feature dimensions, not {self.dims}")

    @property
    def n_copies(self) -> int:
        return len(self.copies[0])

    def example(self, index: int, augment: int | None = None) -> Example:  # type: ignore[override]
        """Item ``index`` (``augment`` None or 0) or its copy number ``augment``."""
        return self.items[index] if not augment else self.copies[index][augment - 1]


Dataset = FeatureDataset | WaveformDataset


@dataclasses.dataclass(frozen=True, eq=False)
class Batch:
    """Padded features ``(batch, dims, frames)``, valid lengths, targets, ids and groups."""

    x: Tensor
    lengths: Tensor
    targets: Targets
    ids: tuple[str, ...]
    groups: tuple[str, ...]


def pad_features(arrays: Sequence[np.ndarray]) -> tuple[Tensor, Tensor]:
    """Stack ``(dims, frames)`` arrays zero-padded at the end of time, and their lengths."""
    lengths = np.array([a.shape[1] for a in arrays], dtype=np.int64)
    padded = np.zeros((len(arrays), arrays[0].shape[0], int(lengths.max())), dtype=np.float32)
    for row, array in zip(padded, arrays):
        row[:, : array.shape[1]] = array
    return torch.from_numpy(padded), torch.from_numpy(lengths)


def collate(examples: Sequence[Example], task: Task) -> Batch:
    dims = {e.features.shape[0] for e in examples}
    if len(dims) != 1:
        raise SerkitError(f"one batch mixes feature dimensions {sorted(dims)}: {[e.id for e in examples]}")
    x, lengths = pad_features([e.features for e in examples])
    return Batch(
        x=x,
        lengths=lengths,
        # a CTC loss needs each item's frames: its output frames follow them
        targets=task.attach_frames(task.collate_targets([e.target for e in examples]), lengths),
        ids=tuple(e.id for e in examples),
        groups=tuple(e.group for e in examples),
    )


def combine_groups(
    groups: Sequence[str], scores: Sequence[np.ndarray], combine: Callable[[Sequence[np.ndarray]], np.ndarray]
) -> tuple[list[str], list[np.ndarray]]:
    """Scores of each group (utterance) from its items' (windows') scores, in order of first appearance."""
    members: dict[str, list[np.ndarray]] = {}
    for group, score in zip(groups, scores):
        members.setdefault(group, []).append(score)
    return list(members), [combine(s) for s in members.values()]

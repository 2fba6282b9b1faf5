"""What a model learns: its loss, its metrics and the validation figure that chooses.

A :class:`Task` turns a batch's targets into tensors, scores model outputs
with a loss, turns outputs into per-item *scores* (what predictions are made
from, and what is averaged over an utterance's windows), and computes metrics
over a whole set.  The engine knows nothing else about targets, so a new kind
(CTC, say) is a new subclass, not a new branch in the engine.

* :class:`UtteranceClassification`: logits ``(batch, classes)``, one class per
  item, cross-entropy; WA, UA and macro-F1; chooses by UA.
* :class:`FrameClassification`: logits ``(batch, frames, classes)``, one class
  per frame; padded frames are masked out of the loss and the metrics.
* regression (:class:`serkit.training.regression.Regression`) and CTC
  (:class:`serkit.training.ctc.CTCRecognition`) live in their own modules.

Targets of an item: a class index (utterance classification), an int array
``(frames,)`` (frame classification), a float array ``(frames, outputs)`` or
``(frames,)`` (frame-level regression) or ``(outputs,)`` (per item).  Frame
targets must be on the model's output frames; outputs past an item's target
frames are padding.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from serkit.errors import SerkitError
from serkit.evaluation import (
    classification_scores,
    utterance_reference,
    utterance_scores,
)

IGNORE = -100
"""Target of a padded frame: ``torch.nn.functional.cross_entropy`` skips it."""

LOSS_FIGURE = "loss"
#: The frame class of a symbol the training part never had (``serkit.experiments.frame_targets``).
UNKNOWN_CLASS = "<unk>"


class Targets(NamedTuple):
    """A batch's targets: padded values, and the valid frames of each item (None per item)."""

    values: Tensor
    lengths: Tensor | None

    def to(self, device: torch.device | str) -> Targets:
        lengths = None if self.lengths is None else self.lengths.to(device)
        return Targets(self.values.to(device), lengths)


class Task(ABC):
    """Loss, scores and metrics for one kind of target."""

    kind: ClassVar[str]
    #: The validation figure early stopping, annealing and model choice use by default.
    figure: ClassVar[str]
    #: Figures where lower is better (the loss always is).
    lower_is_better: ClassVar[frozenset[str]] = frozenset({LOSS_FIGURE})

    def higher_is_better(self, figure: str) -> bool:
        return figure not in self.lower_is_better

    @property
    def frame_targets(self) -> bool:
        """Whether targets follow the input's frames (so a tempo change would misalign them)."""
        return False

    @abstractmethod
    def collate_targets(self, targets: Sequence[Any]) -> Targets:
        """Stack (and pad) the targets of a batch's items."""

    @abstractmethod
    def loss(self, outputs: Tensor, targets: Targets) -> Tensor:
        """Scalar loss of a batch of model outputs."""

    @abstractmethod
    def scores(self, outputs: Tensor, targets: Targets) -> list[np.ndarray]:
        """Each item's scores (probabilities, values), without padding."""

    @abstractmethod
    def metrics(self, scores: Sequence[np.ndarray], targets: Sequence[Any]) -> dict[str, float]:
        """Figures of a whole set; must include :attr:`figure`."""

    @abstractmethod
    def decode(self, score: np.ndarray) -> Any:
        """The prediction of one item's scores (a label, labels per frame, values)."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """JSON-able description, written with every model (label set included)."""

    def attach_frames(self, targets: Targets, frames: Tensor) -> Targets:
        """The batch's targets with its items' input frames (only CTC's loss reads them)."""
        return targets

    def select_frames(self, targets: Targets, step: int, offset: int) -> Targets:
        """The batch's targets at frames ``offset, offset + step, ...`` (``frame_step`` training)."""
        if not self.frame_targets:
            raise SerkitError(f"frame_step: {self.kind} has no targets per frame to train on every k-th of")
        lengths = torch.div(targets.lengths - offset + step - 1, step, rounding_mode="floor").clamp(min=0)
        return targets._replace(values=targets.values[:, offset::step], lengths=lengths)

    def combine(self, scores: Sequence[np.ndarray]) -> np.ndarray:
        """Scores of an utterance from its windows' scores: their mean (seed 002)."""
        return np.mean(np.stack(scores), axis=0)


@dataclasses.dataclass(frozen=True)
class ClassificationTask(Task):
    """Shared by the classification tasks: the label set and optional class weights."""

    labels: tuple[str, ...]
    class_weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise SerkitError(f"{self.kind}: needs two or more distinct labels, got {self.labels}")
        if self.class_weights is not None and len(self.class_weights) != len(self.labels):
            raise SerkitError(
                f"{self.kind}: {len(self.class_weights)} class weights for {len(self.labels)} labels"
            )

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    def encode(self, labels: Sequence[str]) -> list[int]:
        """Class indices of label names."""
        index = {label: i for i, label in enumerate(self.labels)}
        unknown = sorted({str(x) for x in labels if x not in index})
        if unknown:
            raise SerkitError(f"labels {unknown} are not in the class set {list(self.labels)}")
        return [index[x] for x in labels]

    def with_class_weights(self, targets: Sequence[Any]) -> ClassificationTask:
        """This task weighted by inverse class frequency in ``targets`` (training labels)."""
        counts = self.class_counts(targets)
        return dataclasses.replace(self, class_weights=tuple(inverse_frequency_weights(counts).tolist()))

    @abstractmethod
    def class_counts(self, targets: Sequence[Any]) -> np.ndarray:
        """How many training units (utterances, frames) of each class."""

    def weight_tensor(self, device: torch.device | str) -> Tensor | None:
        if self.class_weights is None:
            return None
        return torch.tensor(self.class_weights, dtype=torch.float32, device=device)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "labels": list(self.labels),
            "class_weights": None if self.class_weights is None else list(self.class_weights),
        }

    def _figures(self, true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
        scores = classification_scores(true, pred, labels=range(self.n_classes))
        return {"wa": scores.wa, "ua": scores.ua, "f1": scores.f1}


@dataclasses.dataclass(frozen=True)
class UtteranceClassification(ClassificationTask):
    """One class per item from logits ``(batch, classes)``; cross-entropy, chooses by UA."""

    kind: ClassVar[str] = "utterance-classification"
    figure: ClassVar[str] = "ua"

    def collate_targets(self, targets: Sequence[Any]) -> Targets:
        return Targets(torch.as_tensor(np.asarray(targets, dtype=np.int64)), None)

    def loss(self, outputs: Tensor, targets: Targets) -> Tensor:
        _check_outputs(outputs, 2, self.n_classes, self.kind)
        return F.cross_entropy(outputs, targets.values, weight=self.weight_tensor(outputs.device))

    def scores(self, outputs: Tensor, targets: Targets) -> list[np.ndarray]:
        return list(torch.softmax(outputs.detach().float(), dim=-1).cpu().numpy())

    def metrics(self, scores: Sequence[np.ndarray], targets: Sequence[Any]) -> dict[str, float]:
        return self._figures(np.asarray(targets, dtype=np.int64), np.argmax(np.stack(scores), axis=-1))

    def decode(self, score: np.ndarray) -> str:
        return self.labels[int(np.argmax(score))]

    def class_counts(self, targets: Sequence[Any]) -> np.ndarray:
        return np.bincount(np.asarray(targets, dtype=np.int64), minlength=self.n_classes)


@dataclasses.dataclass(frozen=True)
class FrameClassification(ClassificationTask):
    """One class per frame from logits ``(batch, frames, classes)``; padding is masked.

    With ``aggregate`` (emotion frames: every speech frame carries its utterance's label), the
    figures also score each utterance's decision from its frames
    (:mod:`serkit.evaluation.frame_decisions`, ``silence`` and ``<unk>`` excluded):
    ``utterance_ua``, ``utterance_wa`` and ``utterance_f1``, which ``train.monitor`` may name.
    """

    kind: ClassVar[str] = "frame-classification"
    figure: ClassVar[str] = "ua"
    #: The class a voice activity detector gives non-speech frames (None: none).
    silence: str | None = None
    #: The rule deciding an utterance from its frames (None: frame figures only).
    aggregate: str | None = None

    @property
    def frame_targets(self) -> bool:
        return True

    def collate_targets(self, targets: Sequence[Any]) -> Targets:
        values, lengths = _pad_sequences([np.asarray(t, dtype=np.int64) for t in targets], IGNORE)
        return Targets(values, lengths)

    def loss(self, outputs: Tensor, targets: Targets) -> Tensor:
        _check_outputs(outputs, 3, self.n_classes, self.kind)
        logits = _crop_frames(outputs, targets.values.shape[1])
        # cross_entropy wants classes second: (batch, classes, frames)
        return F.cross_entropy(
            logits.transpose(1, 2),
            targets.values,
            weight=self.weight_tensor(outputs.device),
            ignore_index=IGNORE,
        )

    def scores(self, outputs: Tensor, targets: Targets) -> list[np.ndarray]:
        logits = _crop_frames(outputs.detach().float(), targets.values.shape[1])
        probabilities = torch.softmax(logits, dim=-1).cpu().numpy()
        return [p[:n] for p, n in zip(probabilities, targets.lengths.tolist())]

    def metrics(self, scores: Sequence[np.ndarray], targets: Sequence[Any]) -> dict[str, float]:
        true = np.concatenate([np.asarray(t, dtype=np.int64) for t in targets])
        pred = np.concatenate([np.argmax(s, axis=-1) for s in scores])
        figures = self._figures(true, pred)
        if self.aggregate is not None and len(scores):
            figures |= self.utterance_figures(scores, targets, self.aggregate)
        return figures

    def utterance_figures(self, scores: Sequence[np.ndarray], targets: Sequence[Any], rule: str) -> dict[str, float]:
        """UA, WA and F1 of the utterances' decisions by ``rule``, over the classes not excluded."""
        excluded = self.excluded_from_utterances
        pairs = [(utterance_reference(t, excluded), s) for t, s in zip(targets, scores)]
        pairs = [(c, s) for c, s in pairs if c not in excluded]  # an utterance all silence has no label
        true = [c for c, _ in pairs]
        pred = [int(np.argmax(utterance_scores(s, rule, excluded, self._silence_index))) for _, s in pairs]
        kept = [c for c in range(self.n_classes) if c not in excluded]
        found = classification_scores(true, pred, labels=kept)
        return {"utterance_ua": found.ua, "utterance_wa": found.wa, "utterance_f1": found.f1}

    @property
    def excluded_from_utterances(self) -> list[int]:
        """Classes no utterance is decided as: silence and the unknown symbol."""
        return [i for i, label in enumerate(self.labels) if label in (self.silence, UNKNOWN_CLASS)]

    @property
    def _silence_index(self) -> int | None:
        return self.labels.index(self.silence) if self.silence in self.labels else None

    def decode(self, score: np.ndarray) -> list[str]:
        return [self.labels[i] for i in np.argmax(score, axis=-1)]

    def combine(self, scores: Sequence[np.ndarray]) -> np.ndarray:
        if len(scores) != 1:
            raise SerkitError(f"{self.kind}: windows of one utterance cannot be averaged frame by frame")
        return scores[0]

    def class_counts(self, targets: Sequence[Any]) -> np.ndarray:
        frames = np.concatenate([np.asarray(t, dtype=np.int64).ravel() for t in targets])
        return np.bincount(frames, minlength=self.n_classes)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), **({"silence": self.silence, "aggregate": self.aggregate}
                                        if self.aggregate is not None else {})}


def inverse_frequency_weights(counts: np.ndarray) -> np.ndarray:
    """``n / (k * n_c)`` for each of the ``k`` classes present (scikit-learn's "balanced").

    A class with no training unit gets 0: it never appears as a target, so its
    weight never enters the loss, and 0 says so in the saved settings.
    """
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def _pad_sequences(arrays: Sequence[np.ndarray], fill: float) -> tuple[Tensor, Tensor]:
    """Stack arrays of shape ``(frames, ...)`` padded at the end with ``fill``, and their lengths."""
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    shape = (len(arrays), int(lengths.max(initial=0)), *arrays[0].shape[1:])
    padded = np.full(shape, fill, dtype=arrays[0].dtype)
    for row, array in zip(padded, arrays):
        row[: len(array)] = array
    return torch.from_numpy(padded), torch.from_numpy(lengths)


def _crop_frames(outputs: Tensor, frames: int) -> Tensor:
    """Outputs ``(batch, frames', ...)`` cut to the targets' padded frames."""
    if outputs.shape[1] < frames:
        raise SerkitError(
            f"the model gives {outputs.shape[1]} output frames but the targets have {frames}: "
            "frame targets must be on the model's output frames"
        )
    return outputs[:, :frames]


def _check_outputs(outputs: Tensor, ndim: int, size: int, kind: str) -> None:
    if outputs.dim() != ndim or outputs.shape[-1] != size:
        raise SerkitError(
            f"{kind}: expects model outputs with {ndim} axes and {size} last, got {tuple(outputs.shape)}"
        )

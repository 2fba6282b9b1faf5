"""Classification metrics: WA, UA, macro-F1, confusion matrices, per-class recall.

Every figure is computed from one confusion matrix over a declared class list
(``labels=``): rows are the reference, columns the prediction, both in the
order of ``labels``.  The papers' names map as follows:

* WA, weighted accuracy, W-Acc (seeds 000, 002, 003): :func:`accuracy`;
* UA, unweighted accuracy, U-Acc, UAR (seeds 001-003): :func:`unweighted_average_recall`,
  the mean over classes of each class's recall;
* F1 (seed 003): :func:`macro_f1`, the mean over classes of each class's F1;
* Error E and Unweighted Error UE (seed 001): :func:`error_rate` = 1 - WA and
  :func:`unweighted_error_rate` = 1 - UA.

**Classes absent from the reference.**  A small fold (one test speaker, say)
can lack a class in its test part.  That class has no recall (0 / 0), so UA and
macro-F1 must either score it 0, blaming the model for the split, or leave it
out.  ``classes="present"`` (the default, used for each fold) averages over
the classes of ``labels`` that occur in the reference and records the others in
:attr:`ClassificationScores.absent`.  ``classes="all"`` (used for pooled
figures, where every test utterance of the corpus is present) averages over
every class of ``labels`` and scores an absent class 0, as scikit-learn does
with ``zero_division=0``.  Under either rule a prediction *of* an absent class
still costs: it is a miss in its true class's row.

scikit-learn has all of these, but they are computed here from the confusion
matrix so that the absent-class rule is explicit and so that
:func:`rates_from_confusions` can score thousands of bootstrap resamples in one
vectorised pass; the tests check every figure against scikit-learn.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from typing import Any, Literal, NamedTuple

import numpy as np

ClassRule = Literal["present", "all"]
CLASS_RULES: tuple[str, ...] = ("present", "all")


class Rates(NamedTuple):
    """WA, UA and macro-F1, as floats or as arrays over a batch of confusion matrices."""

    wa: Any
    ua: Any
    f1: Any


@dataclasses.dataclass(frozen=True, eq=False)
class ClassificationScores:
    """Every classification figure of one set of predictions.

    ``confusion`` holds counts (reference rows, predicted columns, in the order
    of ``labels``); ``recall`` is NaN for a class absent from the reference;
    ``absent`` lists those classes; ``classes`` is the rule UA and F1 used.
    """

    labels: tuple[Hashable, ...]
    confusion: np.ndarray
    wa: float
    ua: float
    f1: float
    recall: np.ndarray
    absent: tuple[Hashable, ...]
    classes: ClassRule

    @property
    def n(self) -> int:
        return int(self.confusion.sum())

    @property
    def error(self) -> float:
        """Seed 001's Error: 1 - WA."""
        return 1.0 - self.wa

    @property
    def unweighted_error(self) -> float:
        """Seed 001's Unweighted Error: 1 - UA."""
        return 1.0 - self.ua

    @property
    def row_normalised(self) -> np.ndarray:
        return row_normalise(self.confusion)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (NaN recall of absent classes becomes None)."""
        return {
            "n": self.n,
            "wa": self.wa,
            "ua": self.ua,
            "f1": self.f1,
            "error": self.error,
            "unweighted_error": self.unweighted_error,
            "classes": self.classes,
            "absent": list(self.absent),
            "recall": {
                str(label): (None if np.isnan(r) else float(r))
                for label, r in zip(self.labels, self.recall)
            },
            "confusion": {"labels": list(self.labels), "counts": self.confusion.tolist()},
        }


def encode_labels(y: Sequence[Hashable] | np.ndarray, labels: Sequence[Hashable]) -> np.ndarray:
    """Indices into ``labels`` of each element of ``y``; ValueError names any unknown label."""
    index = _label_index(labels)
    values = np.asarray(y)
    if values.ndim != 1:
        raise ValueError(f"labels must be a 1-D sequence, got shape {values.shape}")
    codes = np.fromiter((index.get(v, -1) for v in values.tolist()), np.int64, count=len(values))
    if (codes < 0).any():
        unknown = sorted({str(v) for v, c in zip(values.tolist(), codes) if c < 0})
        raise ValueError(f"labels {unknown} are not in the class list {list(index)}")
    return codes


def confusion_matrix(
    y_true: Sequence[Hashable] | np.ndarray,
    y_pred: Sequence[Hashable] | np.ndarray,
    *,
    labels: Sequence[Hashable],
) -> np.ndarray:
    """Counts, ``[i, j]`` = utterances of class ``labels[i]`` predicted as ``labels[j]``."""
    true, pred = _encode_pair(y_true, y_pred, labels)
    k = len(labels)
    return np.bincount(true * k + pred, minlength=k * k).reshape(k, k)


def row_normalise(confusion: np.ndarray) -> np.ndarray:
    """Each row divided by its sum, so the diagonal is per-class recall.

    A class absent from the reference has an empty row; it stays NaN (no
    recall) rather than scikit-learn's zeros, which would read as 0 % recall.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    support = confusion.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, confusion / support, np.nan)


def per_class_recall(
    y_true: Sequence[Hashable] | np.ndarray,
    y_pred: Sequence[Hashable] | np.ndarray,
    *,
    labels: Sequence[Hashable],
) -> np.ndarray:
    """Recall of each class of ``labels`` in order; NaN for a class absent from ``y_true``."""
    return _recall(confusion_matrix(y_true, y_pred, labels=labels))


def accuracy(
    y_true: Sequence[Hashable] | np.ndarray,
    y_pred: Sequence[Hashable] | np.ndarray,
    *,
    labels: Sequence[Hashable],
) -> float:
    """WA: the fraction of utterances predicted correctly."""
    return float(rates_from_confusions(confusion_matrix(y_true, y_pred, labels=labels)).wa)


def unweighted_average_recall(
    y_true: Sequence[Hashable] | np.ndarray,
    y_pred: Sequence[Hashable] | np.ndarray,
    *,
    labels: Sequence[Hashable],
    classes: ClassRule = "present",
) -> float:
    """UA: the mean per-class recall (see the module docstring for ``classes``)."""
    confusion = confusion_matrix(y_true, y_pred, labels=labels)
    return float(rates_from_confusions(confusion, classes).ua)


def macro_f1(
    y_true: Sequence[Hashable] | np.ndarray,
    y_pred: Sequence[Hashable] | np.ndarray,
    *,
    labels: Sequence[Hashable],
    classes: ClassRule = "present",
) -> float:
    """The mean per-class F1 (see the module docstring for ``classes``)."""
    confusion = confusion_matrix(y_true, y_pred, labels=labels)
    return float(rates_from_confusions(confusion, classes).f1)


def error_rate(
    y_true: Sequence[Hashable] | np.ndarray,
    y_pred: Sequence[Hashable] | np.ndarray,
    *,
    labels: Sequence[Hashable],
) -> float:
    """Seed 001's Error E: 1 - WA."""
    return 1.0 - accuracy(y_true, y_pred, labels=labels)


def unweighted_error_rate(
    y_true: Sequence[Hashable] | np.ndarray,
    y_pred: Sequence[Hashable] | np.ndarray,
    *,
    labels: Sequence[Hashable],
    classes: ClassRule = "present",
) -> float:
    """Seed 001's Unweighted Error UE: 1 - UA."""
    return 1.0 - unweighted_average_recall(y_true, y_pred, labels=labels, classes=classes)


def classification_scores(
    y_true: Sequence[Hashable] | np.ndarray,
    y_pred: Sequence[Hashable] | np.ndarray,
    *,
    labels: Sequence[Hashable],
    classes: ClassRule = "present",
) -> ClassificationScores:
    """All figures of one set of predictions, from one confusion matrix."""
    return scores_from_confusion(
        confusion_matrix(y_true, y_pred, labels=labels), labels=labels, classes=classes
    )


def scores_from_confusion(
    confusion: np.ndarray, *, labels: Sequence[Hashable], classes: ClassRule = "present"
) -> ClassificationScores:
    """All figures of a confusion matrix of counts whose rows and columns follow ``labels``."""
    confusion = np.asarray(confusion)
    labels = tuple(_label_index(labels))
    k = len(labels)
    if confusion.shape != (k, k):
        raise ValueError(f"confusion matrix of shape {confusion.shape} for {k} labels")
    if confusion.sum() == 0:
        raise ValueError("no predictions to score")
    rates = rates_from_confusions(confusion, classes)
    support = confusion.sum(axis=1)
    return ClassificationScores(
        labels=labels,
        confusion=confusion,
        wa=float(rates.wa),
        ua=float(rates.ua),
        f1=float(rates.f1),
        recall=_recall(confusion),
        absent=tuple(label for label, s in zip(labels, support) if s == 0),
        classes=classes,
    )


def rates_from_confusions(confusions: np.ndarray, classes: ClassRule = "present") -> Rates:
    """WA, UA and macro-F1 of a confusion matrix or a stack of them, shape ``(..., k, k)``.

    Vectorised over leading axes so that a bootstrap scores all its resamples
    at once.  A matrix with no counts at all gives NaN.
    """
    if classes not in CLASS_RULES:
        raise ValueError(f"classes must be one of {CLASS_RULES}, got {classes!r}")
    confusions = np.asarray(confusions, dtype=np.float64)
    hits = np.diagonal(confusions, axis1=-2, axis2=-1)
    support = confusions.sum(axis=-1)
    predicted = confusions.sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        wa = hits.sum(axis=-1) / support.sum(axis=-1)
        recall = hits / support
        # 2TP / (2TP + FP + FN): the harmonic mean of precision and recall, defined
        # whenever the class occurs on either side.
        f1 = 2 * hits / (support + predicted)
        if classes == "present":
            present = support > 0
            n_present = present.sum(axis=-1)
            ua = np.where(present, recall, 0.0).sum(axis=-1) / n_present
            f1_mean = np.where(present, f1, 0.0).sum(axis=-1) / n_present
        else:
            ua = np.nan_to_num(recall, nan=0.0).mean(axis=-1)
            f1_mean = np.nan_to_num(f1, nan=0.0).mean(axis=-1)
    return Rates(wa=wa, ua=ua, f1=f1_mean)


def _recall(confusion: np.ndarray) -> np.ndarray:
    return np.diagonal(row_normalise(confusion), axis1=-2, axis2=-1).copy()


def _label_index(labels: Sequence[Hashable]) -> dict[Hashable, int]:
    # Python scalars rather than numpy ones, so that summaries are JSON-able.
    values = [v.item() if isinstance(v, np.generic) else v for v in labels]
    if not values:
        raise ValueError("the class list is empty")
    index = {label: i for i, label in enumerate(values)}
    if len(index) != len(values):
        raise ValueError(f"the class list {values} repeats a class")
    return index


def _encode_pair(
    y_true: Sequence[Hashable] | np.ndarray,
    y_pred: Sequence[Hashable] | np.ndarray,
    labels: Sequence[Hashable],
) -> tuple[np.ndarray, np.ndarray]:
    true = encode_labels(y_true, labels)
    pred = encode_labels(y_pred, labels)
    if len(true) != len(pred):
        raise ValueError(f"{len(true)} references but {len(pred)} predictions")
    if len(true) == 0:
        raise ValueError("no predictions to score")
    return true, pred

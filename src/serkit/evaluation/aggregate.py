"""Cross-fold summaries: per-fold figures, their mean and spread, pooled figures,
and a bootstrap confidence interval that resamples speakers.

Two ways of combining folds answer different questions, so both are reported:

* ``mean`` (and ``std``) of the per-fold figures, as the papers report
  cross-validation (seed 001 averages its eight LOSO folds).  Per fold, UA and
  F1 average over the classes present in that fold's reference; the classes
  absent from it are listed with the fold (see :mod:`serkit.evaluation.metrics`).
* ``pooled``: every test prediction of every fold concatenated and scored once,
  over all classes.  Its confusion matrix is reported too, so pooled UA can be
  recomputed from it.

``std`` is the sample standard deviation over folds (``n - 1``; None for a
single fold).

**The bootstrap.**  Utterances of one speaker are not independent (same
voice, same microphone, and a model that fails on a speaker fails on most of
their utterances), so resampling utterances understates the uncertainty.  The
interval resamples *speakers* with replacement: each resample draws as many
speakers as there are test speakers, pools all test predictions of the drawn
speakers (a speaker drawn twice counts twice) and scores them; the interval is
the 2.5th to 97.5th percentile over resamples.  It is seeded, so the same
predictions always give the same interval.  In a resample that misses a class
altogether, UA and F1 average over the classes present, as per fold.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from serkit.evaluation.metrics import (
    confusion_matrix,
    encode_labels,
    rates_from_confusions,
    scores_from_confusion,
)
from serkit.evaluation.regression import moments, rates_from_moments, regression_scores

log = logging.getLogger(__name__)

CLASSIFICATION_FIGURES = ("wa", "ua", "f1")
REGRESSION_FIGURES = ("ccc", "rmse")
FOLD_CLASS_RULE = (
    "per fold, UA and F1 average over the classes present in the fold's reference "
    "(absent classes are listed with the fold); pooled figures use all classes"
)


@dataclasses.dataclass(frozen=True, eq=False)
class FoldPredictions:
    """One fold's test part: references, predictions and each utterance's speaker.

    For classification ``y_true``/``y_pred`` hold class labels; for regression
    they hold numbers (one per utterance, or one per frame of a time-continuous
    trace, with ``speakers`` repeated per frame).
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    speakers: np.ndarray
    name: str | None = None

    def __post_init__(self) -> None:
        for field in ("y_true", "y_pred", "speakers"):
            object.__setattr__(self, field, np.asarray(getattr(self, field)))
        lengths = {len(self.y_true), len(self.y_pred), len(self.speakers)}
        if len(lengths) != 1:
            raise ValueError(
                f"fold {self.name!r}: {len(self.y_true)} references, {len(self.y_pred)} "
                f"predictions and {len(self.speakers)} speakers"
            )
        if len(self.y_true) == 0:
            raise ValueError(f"fold {self.name!r} has an empty test part")

    @property
    def test_speakers(self) -> list[Any]:
        return np.unique(self.speakers).tolist()


@dataclasses.dataclass(frozen=True)
class BootstrapConfig:
    """Speaker bootstrap: how many resamples, and the seed that makes them repeatable."""

    n_resamples: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_resamples < 1:
            raise ValueError(f"n_resamples must be at least 1, got {self.n_resamples}")


def summarise_folds(
    folds: Sequence[FoldPredictions],
    *,
    labels: Sequence[Hashable],
    bootstrap: BootstrapConfig = BootstrapConfig(),
) -> dict[str, Any]:
    """JSON-able summary of a classification cross-validation.

    Keys: ``labels``; ``folds`` (each with ``name``, ``test_speakers``,
    ``n_test``, ``wa``, ``ua``, ``f1``, ``absent``); ``mean`` and ``pooled``
    (``wa``, ``ua``, ``f1``, ``error``, ``unweighted_error``; pooled adds
    ``absent``); ``std`` (``wa``, ``ua``, ``f1``); ``ci95`` (a ``[low, high]``
    pair per figure, with the bootstrap's settings); ``confusion`` (pooled
    ``counts``, rows reference and columns prediction, in the order of
    ``labels``); ``class_rule``.
    """
    if not folds:
        raise ValueError("no folds to summarise")
    confusions = [confusion_matrix(f.y_true, f.y_pred, labels=labels) for f in folds]
    fold_scores = [scores_from_confusion(c, labels=labels) for c in confusions]
    fold_rows = [
        {
            "name": fold.name,
            "test_speakers": fold.test_speakers,
            "n_test": scores.n,
            "wa": scores.wa,
            "ua": scores.ua,
            "f1": scores.f1,
            "absent": list(scores.absent),
        }
        for fold, scores in zip(folds, fold_scores)
    ]
    for row in fold_rows:
        if row["absent"]:
            log.info("fold %s lacks classes %s in its test part", row["name"], row["absent"])

    pooled = scores_from_confusion(np.sum(confusions, axis=0), labels=labels, classes="all")
    if pooled.absent:
        log.warning(
            "no test utterance of classes %s in any fold: pooled UA and F1 score them 0",
            list(pooled.absent),
        )
    mean = _mean(fold_rows, CLASSIFICATION_FIGURES)
    return {
        "labels": list(pooled.labels),
        "folds": fold_rows,
        "mean": {**mean, "error": 1.0 - mean["wa"], "unweighted_error": 1.0 - mean["ua"]},
        "std": _std(fold_rows, CLASSIFICATION_FIGURES),
        "pooled": {
            "wa": pooled.wa,
            "ua": pooled.ua,
            "f1": pooled.f1,
            "error": pooled.error,
            "unweighted_error": pooled.unweighted_error,
            "absent": list(pooled.absent),
        },
        "ci95": _classification_interval(folds, pooled.labels, bootstrap),
        "confusion": {"labels": list(pooled.labels), "counts": pooled.confusion.tolist()},
        "class_rule": FOLD_CLASS_RULE,
    }


def summarise_regression_folds(
    folds: Sequence[FoldPredictions], *, bootstrap: BootstrapConfig = BootstrapConfig()
) -> dict[str, Any]:
    """JSON-able summary of a regression cross-validation of one target dimension.

    Keys: ``folds`` (each with ``name``, ``test_speakers``, ``n_test``, ``ccc``,
    ``rmse``); ``mean``, ``std`` and ``pooled`` (``ccc``, ``rmse``); ``ci95``.
    An undefined CCC (both sides one constant) is None.
    """
    if not folds:
        raise ValueError("no folds to summarise")
    fold_rows = []
    for fold in folds:
        scores = regression_scores(fold.y_true, fold.y_pred)
        fold_rows.append(
            {
                "name": fold.name,
                "test_speakers": fold.test_speakers,
                "n_test": scores.n,
                "ccc": scores.ccc,
                "rmse": scores.rmse,
            }
        )
    true = np.concatenate([f.y_true for f in folds])
    pred = np.concatenate([f.y_pred for f in folds])
    pooled = regression_scores(true, pred)
    summary = {
        "folds": fold_rows,
        "mean": _mean(fold_rows, REGRESSION_FIGURES),
        "std": _std(fold_rows, REGRESSION_FIGURES),
        "pooled": {"ccc": pooled.ccc, "rmse": pooled.rmse},
        "ci95": _regression_interval(folds, bootstrap),
    }
    return _json_safe(summary)


def speaker_resample_weights(n_speakers: int, bootstrap: BootstrapConfig) -> np.ndarray:
    """How often each speaker is drawn in each resample, shape ``(n_resamples, n_speakers)``."""
    rng = np.random.default_rng(bootstrap.seed)
    draws = rng.integers(0, n_speakers, size=(bootstrap.n_resamples, n_speakers))
    offsets = np.arange(bootstrap.n_resamples)[:, None] * n_speakers
    counts = np.bincount((draws + offsets).ravel(), minlength=bootstrap.n_resamples * n_speakers)
    return counts.reshape(bootstrap.n_resamples, n_speakers)


def _classification_interval(
    folds: Sequence[FoldPredictions], labels: Sequence[Hashable], bootstrap: BootstrapConfig
) -> dict[str, Any]:
    k = len(labels)
    true = np.concatenate([encode_labels(f.y_true, labels) for f in folds])
    pred = np.concatenate([encode_labels(f.y_pred, labels) for f in folds])
    speakers, speaker = np.unique(np.concatenate([f.speakers for f in folds]), return_inverse=True)
    n = len(speakers)
    # One confusion matrix per speaker; a resample's matrix is their weighted sum.
    per_speaker = np.bincount(speaker * k * k + true * k + pred, minlength=n * k * k)
    weights = speaker_resample_weights(n, bootstrap)
    resampled = (weights @ per_speaker.reshape(n, k * k)).reshape(-1, k, k)
    rates = rates_from_confusions(resampled, "present")
    return {
        **{name: _percentile_interval(getattr(rates, name)) for name in CLASSIFICATION_FIGURES},
        **_interval_settings(n, bootstrap),
    }


def _regression_interval(
    folds: Sequence[FoldPredictions], bootstrap: BootstrapConfig
) -> dict[str, Any]:
    true = np.concatenate([f.y_true for f in folds]).astype(np.float64)
    pred = np.concatenate([f.y_pred for f in folds]).astype(np.float64)
    speakers, speaker = np.unique(np.concatenate([f.speakers for f in folds]), return_inverse=True)
    n = len(speakers)
    per_speaker = moments(true, pred, speaker, n, shift=float(true.mean()))
    weights = speaker_resample_weights(n, bootstrap)
    rates = rates_from_moments(weights @ per_speaker)
    return {
        **{name: _percentile_interval(getattr(rates, name)) for name in REGRESSION_FIGURES},
        **_interval_settings(n, bootstrap),
    }


def error_rate_intervals(
    counts: dict[str, tuple[Sequence[float], Sequence[float]]],
    speakers: Sequence[Hashable],
    bootstrap: BootstrapConfig = BootstrapConfig(),
) -> dict[str, Any]:
    """Speaker-bootstrap 95% intervals of pooled error rates (FER, PER, CER, WER: errors summed
    over reference lengths summed): ``counts`` maps a figure to each utterance's ``(errors,
    lengths)``, row-aligned with ``speakers``.  A resample draws speakers with all their
    utterances, as for the other figures."""
    names, speaker = np.unique(np.asarray(speakers), return_inverse=True)
    weights = speaker_resample_weights(len(names), bootstrap)
    intervals: dict[str, Any] = {}
    for figure, (errors, lengths) in counts.items():
        per_errors = np.bincount(speaker, weights=np.asarray(errors, dtype=float), minlength=len(names))
        per_lengths = np.bincount(speaker, weights=np.asarray(lengths, dtype=float), minlength=len(names))
        totals = weights @ per_lengths
        with np.errstate(invalid="ignore", divide="ignore"):
            rates = np.where(totals > 0, (weights @ per_errors) / totals, np.nan)
        intervals[figure] = _percentile_interval(rates)
    return {**intervals, **_interval_settings(len(names), bootstrap)}


def _interval_settings(n_speakers: int, bootstrap: BootstrapConfig) -> dict[str, Any]:
    return {
        "unit": "speaker",
        "n_speakers": n_speakers,
        "n_resamples": bootstrap.n_resamples,
        "seed": bootstrap.seed,
        "method": "percentile",
    }


def _percentile_interval(values: np.ndarray) -> list[float | None]:
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return [None, None]
    low, high = np.percentile(values, [2.5, 97.5])
    return [float(low), float(high)]


def _mean(rows: list[dict[str, Any]], figures: Sequence[str]) -> dict[str, float]:
    return {name: float(np.mean([row[name] for row in rows])) for name in figures}


def _std(rows: list[dict[str, Any]], figures: Sequence[str]) -> dict[str, float | None]:
    if len(rows) < 2:
        return {name: None for name in figures}
    return {name: float(np.std([row[name] for row in rows], ddof=1)) for name in figures}


def _json_safe(value: Any) -> Any:
    # CCC is NaN when undefined; JSON has no NaN, so it becomes null.
    if isinstance(value, dict):
        return {key: _json_safe(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value

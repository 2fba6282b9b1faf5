"""Is one system really better than another?  A paired speaker bootstrap over their test predictions.

Two systems tested on the same utterances (two recipes cross-validated on the
same folds) differ by some points of UA; the question is whether another draw
of speakers would keep the sign.  :func:`paired_speaker_bootstrap` resamples
*speakers* (their utterances are not independent), and in each resample
scores both systems on the same drawn speakers, so that what the speakers
share (an easy speaker is easy for both) cancels in the difference.

Each side may be several runs (the same recipe with different seeds): a side's
figure in a resample is the mean of its runs' figures there, so the interval
covers the draw of speakers, and the seeds' spread is averaged out rather than
mistaken for a difference between systems.

The result gives the difference of the pooled figures (candidate minus
baseline), its 95% percentile interval, and ``p_not_better``: the share of
resamples where the candidate is not better (difference at most 0), a
one-sided bootstrap p-value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from serkit.errors import SerkitError
from serkit.evaluation.aggregate import CLASSIFICATION_FIGURES, BootstrapConfig, speaker_resample_weights
from serkit.evaluation.metrics import encode_labels, rates_from_confusions


@dataclasses.dataclass(frozen=True)
class RunPredictions:
    """One run's test predictions over all its folds: an id, a speaker, a reference and a
    prediction per utterance."""

    name: str
    ids: np.ndarray
    speakers: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray

    def __post_init__(self) -> None:
        for field in ("ids", "speakers", "y_true", "y_pred"):
            object.__setattr__(self, field, np.asarray(getattr(self, field)))
        if len({len(self.ids), len(self.speakers), len(self.y_true), len(self.y_pred)}) != 1:
            raise SerkitError(f"{self.name}: ids, speakers, references and predictions differ in number")
        if len(np.unique(self.ids)) != len(self.ids):
            raise SerkitError(f"{self.name}: an utterance is tested more than once (not one test part per fold)")

    def aligned_to(self, reference: RunPredictions) -> RunPredictions:
        """These predictions in ``reference``'s utterance order; refused unless the two runs
        tested the same utterances, of the same speakers, with the same references."""
        if set(self.ids.tolist()) != set(reference.ids.tolist()):
            only = sorted(set(self.ids.tolist()) ^ set(reference.ids.tolist()))[:3]
            raise SerkitError(f"{self.name} and {reference.name} tested different utterances "
                              f"(e.g. {only}): a paired comparison needs the same test parts")
        order = np.argsort(self.ids)[np.searchsorted(np.sort(self.ids), reference.ids)]
        aligned = dataclasses.replace(self, ids=self.ids[order], speakers=self.speakers[order],
                                      y_true=self.y_true[order], y_pred=self.y_pred[order])
        if not (np.array_equal(aligned.speakers, reference.speakers) and np.array_equal(aligned.y_true, reference.y_true)):
            raise SerkitError(f"{self.name} and {reference.name} give the same utterances other speakers or references")
        return aligned


def paired_speaker_bootstrap(candidate: Sequence[RunPredictions], baseline: Sequence[RunPredictions],
                             labels: Sequence[Hashable], figure: str = "ua",
                             bootstrap: BootstrapConfig = BootstrapConfig()) -> dict[str, Any]:
    """The candidate's pooled ``figure`` minus the baseline's, with a paired speaker-bootstrap
    interval; each side the mean over its runs (see the module doc)."""
    if figure not in CLASSIFICATION_FIGURES:
        raise SerkitError(f"figure {figure!r}: choose one of {', '.join(CLASSIFICATION_FIGURES)}")
    if not candidate or not baseline:
        raise SerkitError("a paired comparison needs at least one run on each side")
    reference = candidate[0]
    runs = [run.aligned_to(reference) for run in (*candidate, *baseline)]
    speakers, speaker = np.unique(reference.speakers, return_inverse=True)
    n, k = len(speakers), len(labels)
    true = encode_labels(reference.y_true, labels)
    weights = speaker_resample_weights(n, bootstrap)
    point, resampled = [], []
    for run in runs:
        pred = encode_labels(run.y_pred, labels)
        per_speaker = np.bincount(speaker * k * k + true * k + pred, minlength=n * k * k).reshape(n, k * k)
        point.append(float(getattr(rates_from_confusions(per_speaker.sum(0).reshape(k, k)), figure)))
        resampled.append(getattr(rates_from_confusions((weights @ per_speaker).reshape(-1, k, k)), figure))
    sides = len(candidate)
    difference = np.mean(resampled[:sides], axis=0) - np.mean(resampled[sides:], axis=0)
    low, high = np.nanpercentile(difference, [2.5, 97.5])
    return {
        "figure": figure,
        "candidate": float(np.mean(point[:sides])),
        "baseline": float(np.mean(point[sides:])),
        "difference": float(np.mean(point[:sides]) - np.mean(point[sides:])),
        "ci95": [float(low), float(high)],
        "p_not_better": float(np.mean(difference <= 0)),
        "runs": {"candidate": {r.name: p for r, p in zip(candidate, point[:sides])},
                 "baseline": {r.name: p for r, p in zip(baseline, point[sides:])}},
        "n_utterances": len(reference.ids),
        "n_speakers": n,
        "n_resamples": bootstrap.n_resamples,
        "seed": bootstrap.seed,
    }

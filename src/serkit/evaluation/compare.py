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
one-sided bootstrap p-value.  :func:`paired_error_bootstrap` does the same for
an error rate pooled from each utterance's errors and reference length (FER,
PER), where lower is better: not better is a difference of at least 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar, Self

import numpy as np

from serkit.errors import SerkitError
from serkit.evaluation.aggregate import CLASSIFICATION_FIGURES, BootstrapConfig, speaker_resample_weights
from serkit.evaluation.metrics import encode_labels, rates_from_confusions

#: Error rates of a frame or sequence run, pooled as errors over reference lengths (lower is better).
ERROR_FIGURES = ("fer", "per", "per_runs")


class _PerUtterance:
    """One run's arrays over its test utterances (every field but ``name``), row-aligned, with
    the ``shared`` fields that two runs of the same test utterances must agree on."""

    name: str
    ids: np.ndarray
    shared: ClassVar[tuple[str, ...]] = ()

    def _arrays(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self) if f.name != "name"]

    def __post_init__(self) -> None:
        for field in self._arrays():
            object.__setattr__(self, field, np.asarray(getattr(self, field)))
        if len({len(getattr(self, field)) for field in self._arrays()}) != 1:
            raise SerkitError(f"{self.name}: {', '.join(self._arrays())} differ in number")
        if len(np.unique(self.ids)) != len(self.ids):
            raise SerkitError(f"{self.name}: an utterance is tested more than once (not one test part per fold)")

    def aligned_to(self, reference: Self) -> Self:
        """These arrays in ``reference``'s utterance order; refused unless the two runs tested
        the same utterances and agree on the ``shared`` fields (speakers, references)."""
        if set(self.ids.tolist()) != set(reference.ids.tolist()):
            only = sorted(set(self.ids.tolist()) ^ set(reference.ids.tolist()))[:3]
            raise SerkitError(f"{self.name} and {reference.name} tested different utterances "
                              f"(e.g. {only}): a paired comparison needs the same test parts")
        order = np.argsort(self.ids)[np.searchsorted(np.sort(self.ids), reference.ids)]
        aligned = dataclasses.replace(self, **{field: getattr(self, field)[order] for field in self._arrays()})
        if not all(np.array_equal(getattr(aligned, f), getattr(reference, f)) for f in self.shared):
            raise SerkitError(f"{self.name} and {reference.name} give the same utterances other speakers or references")
        return aligned


@dataclasses.dataclass(frozen=True)
class RunPredictions(_PerUtterance):
    """One run's test predictions over all its folds: an id, a speaker, a reference and a
    prediction per utterance."""

    name: str
    ids: np.ndarray
    speakers: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    shared: ClassVar[tuple[str, ...]] = ("speakers", "y_true")


@dataclasses.dataclass(frozen=True)
class RunErrors(_PerUtterance):
    """One run's test utterances under an error rate (FER, PER): each one's errors (wrong frames,
    or edits against the reference phones) and its reference length (frames, or phones)."""

    name: str
    ids: np.ndarray
    speakers: np.ndarray
    errors: np.ndarray
    lengths: np.ndarray
    shared: ClassVar[tuple[str, ...]] = ("speakers", "lengths")


def paired_speaker_bootstrap(candidate: Sequence[RunPredictions], baseline: Sequence[RunPredictions],
                             labels: Sequence[Hashable], figure: str = "ua",
                             bootstrap: BootstrapConfig = BootstrapConfig()) -> dict[str, Any]:
    """The candidate's pooled ``figure`` minus the baseline's, with a paired speaker-bootstrap
    interval; each side the mean over its runs (see the module doc)."""
    runs, speaker, n = _paired(candidate, baseline, figure, CLASSIFICATION_FIGURES)
    k = len(labels)
    true = encode_labels(runs[0].y_true, labels)
    weights = speaker_resample_weights(n, bootstrap)
    point, resampled = [], []
    for run in runs:
        pred = encode_labels(run.y_pred, labels)
        per_speaker = np.bincount(speaker * k * k + true * k + pred, minlength=n * k * k).reshape(n, k * k)
        point.append(float(getattr(rates_from_confusions(per_speaker.sum(0).reshape(k, k)), figure)))
        resampled.append(getattr(rates_from_confusions((weights @ per_speaker).reshape(-1, k, k)), figure))
    return _compared(figure, candidate, baseline, point, resampled, n, bootstrap, lower_is_better=False)


def paired_error_bootstrap(candidate: Sequence[RunErrors], baseline: Sequence[RunErrors], figure: str = "per",
                           bootstrap: BootstrapConfig = BootstrapConfig()) -> dict[str, Any]:
    """The same for an error rate (errors summed over reference lengths summed, as FER and PER are
    pooled): the candidate's minus the baseline's, so that lower is better and ``p_not_better`` is
    the share of resamples where the candidate's error is not lower."""
    runs, speaker, n = _paired(candidate, baseline, figure, ERROR_FIGURES)
    weights = speaker_resample_weights(n, bootstrap)
    lengths = np.bincount(speaker, weights=runs[0].lengths.astype(float), minlength=n)
    point = [float(run.errors.sum() / run.lengths.sum()) for run in runs]
    resampled = [(weights @ np.bincount(speaker, weights=run.errors.astype(float), minlength=n)) / (weights @ lengths)
                 for run in runs]
    return _compared(figure, candidate, baseline, point, resampled, n, bootstrap, lower_is_better=True)


def _paired(candidate: Sequence[_PerUtterance], baseline: Sequence[_PerUtterance], figure: str,
            figures: Sequence[str]) -> tuple[list[Any], np.ndarray, int]:
    """Every run in the first candidate's utterance order, each utterance's speaker index, and
    the number of speakers; refused for a figure outside ``figures`` or an empty side."""
    if figure not in figures:
        raise SerkitError(f"figure {figure!r}: choose one of {', '.join(figures)}")
    if not candidate or not baseline:
        raise SerkitError("a paired comparison needs at least one run on each side")
    runs = [run.aligned_to(candidate[0]) for run in (*candidate, *baseline)]
    speakers, speaker = np.unique(candidate[0].speakers, return_inverse=True)
    return runs, speaker, len(speakers)


def _compared(figure: str, candidate: Sequence[_PerUtterance], baseline: Sequence[_PerUtterance],
              point: list[float], resampled: list[np.ndarray], n_speakers: int, bootstrap: BootstrapConfig,
              lower_is_better: bool) -> dict[str, Any]:
    """The comparison's figures: each side the mean of its runs, the difference candidate minus baseline."""
    sides = len(candidate)
    difference = np.mean(resampled[:sides], axis=0) - np.mean(resampled[sides:], axis=0)
    low, high = np.nanpercentile(difference, [2.5, 97.5])
    return {
        "figure": figure,
        "lower_is_better": lower_is_better,
        "candidate": float(np.mean(point[:sides])),
        "baseline": float(np.mean(point[sides:])),
        "difference": float(np.mean(point[:sides]) - np.mean(point[sides:])),
        "ci95": [float(low), float(high)],
        "p_not_better": float(np.mean(difference >= 0 if lower_is_better else difference <= 0)),
        "runs": {"candidate": {r.name: p for r, p in zip(candidate, point[:sides])},
                 "baseline": {r.name: p for r, p in zip(baseline, point[sides:])}},
        "n_utterances": len(candidate[0].ids),
        "n_speakers": n_speakers,
        "n_resamples": bootstrap.n_resamples,
        "seed": bootstrap.seed,
    }

"""An utterance's decision from a frame classifier's posteriors (seed 001's emotion frames).

Frames inherit their utterance's label, except those a voice activity detector
calls silence; the utterance's class is decided from its frames, silence
excluded in two ways: frames the model calls silence (their largest posterior)
take no part, unless every frame is one of them, and the silence column (and
any other excluded class, such as ``<unk>``) never wins.  Two rules:

* ``mean-log-posterior``: the class with the largest mean log-posterior over
  the frames that take part (the product of the frames' posteriors, as if they
  were independent);
* ``majority``: the class most of those frames pick (their argmax over the
  kept classes); ties go to the larger mean log-posterior.

Each returns a score per class (kept classes only; excluded ones are -inf for
the first rule, 0 for the second), so that the argmax is the decision.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RULES = ("mean-log-posterior", "majority")
#: Posteriors are clipped here before the logarithm: one confident zero must not veto a class.
_FLOOR = 1e-8


def utterance_scores(posteriors: np.ndarray, rule: str, excluded: Sequence[int] = (),
                     silence: int | None = None) -> np.ndarray:
    """Class scores of one utterance from its ``(frames, classes)`` posteriors (see module)."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; known: {', '.join(RULES)}")
    posteriors = np.asarray(posteriors, dtype=np.float64)
    if silence is not None:
        speech = np.argmax(posteriors, axis=1) != silence
        if speech.any():
            posteriors = posteriors[speech]
    barred = np.zeros(posteriors.shape[1], dtype=bool)
    barred[list(excluded) + ([] if silence is None else [silence])] = True
    mean_log = np.log(np.clip(posteriors, _FLOOR, 1.0)).mean(axis=0)
    mean_log[barred] = -np.inf
    if rule == "mean-log-posterior":
        return mean_log
    votes = np.bincount(np.argmax(np.where(barred, -np.inf, posteriors), axis=1),
                        minlength=posteriors.shape[1]).astype(np.float64) / len(posteriors)
    # ties by the mean log-posterior's order: a small nudge that never outweighs one vote
    order = np.argsort(np.argsort(mean_log)) / (len(mean_log) * len(posteriors) * 2)
    return np.where(barred, 0.0, votes + order)


def utterance_reference(frame_targets: Sequence[int], excluded: Sequence[int] = ()) -> int:
    """An utterance's class from its frame targets: the most frequent class not ``excluded``
    (all its speech frames carry it); its most frequent class when every frame is excluded."""
    counts = np.bincount(np.asarray(frame_targets, dtype=np.int64))
    kept = counts.copy()
    kept[[c for c in excluded if c < len(kept)]] = 0
    return int(np.argmax(kept if kept.any() else counts))

"""Recognition metrics: frame and phone error rates (seed 001), character and word error
rates (seed 003's CTC recogniser).

* FER scores the acoustic model frame by frame: the fraction of frames whose
  predicted label differs from the aligned reference.
* PER scores decoded phone sequences, which need not line up with the
  reference: the Levenshtein distance (substitutions + deletions + insertions,
  each costing 1) summed over utterances, divided by the summed reference
  length.  Summing before dividing weights every reference phone equally, as
  TIMIT and Kaldi scoring do; averaging per-utterance rates would let a short
  utterance count as much as a long one.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

import numpy as np


def edit_distance(reference: Sequence[Hashable], hypothesis: Sequence[Hashable]) -> int:
    """Levenshtein distance: fewest substitutions, deletions and insertions turning
    ``reference`` into ``hypothesis``.

    The dynamic programme keeps one row of the table and fills it with numpy:
    substitutions and deletions come from the previous row, and the chain of
    insertions along the row, ``d[j] = min(c[j], d[j-1] + 1)``, is a running
    minimum, ``d[j] = j + min_{k<=j}(c[k] - k)``.  The loop runs over the
    shorter sequence (the distance is symmetric).
    """
    ref, hyp = _codes(reference, hypothesis)
    if len(ref) > len(hyp):
        ref, hyp = hyp, ref
    if len(ref) == 0:
        return len(hyp)
    steps = np.arange(len(hyp) + 1)
    row = steps.copy()
    candidate = np.empty_like(row)
    for i, token in enumerate(ref, start=1):
        candidate[0] = i
        np.minimum(row[:-1] + (hyp != token), row[1:] + 1, out=candidate[1:])
        row = np.minimum.accumulate(candidate - steps) + steps
    return int(row[-1])


def phone_error_rate(
    references: Iterable[Sequence[Hashable]], hypotheses: Iterable[Sequence[Hashable]]
) -> float:
    """Summed edit distance over summed reference length, over utterances.

    Each argument is a sequence of utterances, each a sequence of phones
    (a list of phone symbols, or a string when phones are single characters).
    """
    references, hypotheses = list(references), list(hypotheses)
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    reference_length = sum(len(r) for r in references)
    if reference_length == 0:
        raise ValueError("the references hold no phones, so the phone error rate is undefined")
    errors = sum(edit_distance(r, h) for r, h in zip(references, hypotheses))
    return errors / reference_length


def character_error_rate(references: Iterable[str], hypotheses: Iterable[str]) -> float:
    """Summed character edit distance over summed reference characters (spaces included)."""
    return phone_error_rate([list(r) for r in references], [list(h) for h in hypotheses])


def word_error_rate(references: Iterable[str], hypotheses: Iterable[str]) -> float:
    """Summed word edit distance over summed reference words (words split on whitespace)."""
    return phone_error_rate([r.split() for r in references], [h.split() for h in hypotheses])


def frame_error_rate(y_true: Sequence[Hashable], y_pred: Sequence[Hashable]) -> float:
    """Fraction of aligned frames whose predicted label is not the reference's."""
    true, pred = np.asarray(y_true), np.asarray(y_pred)
    if true.ndim != 1 or true.shape != pred.shape:
        raise ValueError(
            f"frame labels must be 1-D and aligned, got shapes {true.shape} and {pred.shape}"
        )
    if len(true) == 0:
        raise ValueError("no frames to score")
    return float(np.mean(true != pred))


def _codes(
    reference: Sequence[Hashable], hypothesis: Sequence[Hashable]
) -> tuple[np.ndarray, np.ndarray]:
    # One integer per distinct token, so that any hashable symbols compare as fast ints.
    vocabulary: dict[Hashable, int] = {}
    ref = [vocabulary.setdefault(t, len(vocabulary)) for t in _tokens(reference)]
    hyp = [vocabulary.setdefault(t, len(vocabulary)) for t in _tokens(hypothesis)]
    return np.asarray(ref, dtype=np.int64), np.asarray(hyp, dtype=np.int64)


def _tokens(sequence: Sequence[Hashable]) -> list[Hashable]:
    return sequence.tolist() if isinstance(sequence, np.ndarray) else list(sequence)

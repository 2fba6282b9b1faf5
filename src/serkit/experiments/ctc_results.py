"""A ctc task's cross-validation figures: character and word error rates (CER, WER).

A fold's predictions.json holds each test utterance's normalised reference
transcript (``y_true``, :func:`~serkit.experiments.ctc_targets.normalise_text`)
and its greedy decoding (``y_pred``).  CER and WER
(:func:`~serkit.evaluation.character_error_rate`,
:func:`~serkit.evaluation.word_error_rate`) are per fold, their mean and std
over folds, and pooled: edit distances summed over every test utterance of
every fold over the summed reference lengths.  ``ci95`` holds both figures'
speaker-bootstrap intervals (speakers drawn with all their utterances);
``confusion`` is None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from serkit.artifacts import FoldResult
from serkit.evaluation import character_error_rate, edit_distance, error_rate_intervals, word_error_rate
from serkit.experiments.fold_data import FoldData
from serkit.training.ctc import greedy_decode


def ctc_predictions(data: FoldData, scores: Sequence[np.ndarray]) -> dict[str, Any]:
    """A ctc task's test references and decoded texts (the log-probabilities per frame are left out)."""
    return {"ids": data.test.ids, "speakers": data.test.speakers, "y_true": list(data.test.transcripts),
            "y_pred": [greedy_decode(s, data.labels) for s in scores], "scores": []}


def text_figures(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    return {"cer": character_error_rate(y_true, y_pred), "wer": word_error_rate(y_true, y_pred)}


def summarise_ctc(results: Sequence[FoldResult]) -> dict[str, Any]:
    """CER and WER per fold, their mean and std over folds, and pooled over every test utterance,
    in the shape of a classification's figures."""
    beam = all(r.decoded is not None for r in results)
    rows = [{"name": r.fold["name"], "test_speakers": sorted(set(r.speakers)), "n_test": len(r.ids),
             "n_characters": sum(len(t) for t in r.y_true), **text_figures(r.y_true, r.y_pred),
             **(beam_figures(r.y_true, r.decoded) if beam else {})} for r in results]
    pooled = text_figures([t for r in results for t in r.y_true], [p for r in results for p in r.y_pred])
    if beam:
        pooled |= beam_figures([t for r in results for t in r.y_true], [d for r in results for d in r.decoded])
    figures = list(pooled)
    return {"folds": rows, "pooled": pooled,
            "mean": {k: float(np.mean([row[k] for row in rows])) for k in figures},
            # the sample std over folds, as for the other tasks (none of a single fold)
            "std": {k: float(np.std([row[k] for row in rows], ddof=1)) if len(rows) > 1 else None for k in figures},
            "ci95": text_intervals(results), "labels": [], "confusion": None,
            "class_rule": "per utterance: greedy CTC decoding (cer_beam, wer_beam: the fold's beam search with a "
                          "character trigram, settings chosen on validation); CER over characters (spaces "
                          "included), WER over words, edit distances summed over utterances"}


def beam_figures(y_true: Sequence[str], decoded: Sequence[str]) -> dict[str, float]:
    """CER and WER of the beam search's texts (:mod:`serkit.experiments.ctc_decoder`)."""
    return {f"{key}_beam": value for key, value in text_figures(y_true, decoded).items()}


def text_intervals(results: Sequence[FoldResult]) -> dict[str, Any]:
    """Speaker-bootstrap intervals of pooled CER and WER, from each utterance's errors and length
    (counted as :func:`~serkit.evaluation.character_error_rate` and ``word_error_rate`` do)."""
    pairs = [(t, p) for r in results for t, p in zip(r.y_true, r.y_pred)]
    characters = [(edit_distance(list(t), list(p)), len(t)) for t, p in pairs]
    words = [(edit_distance(t.split(), p.split()), len(t.split())) for t, p in pairs]
    speakers = [s for r in results for s in r.speakers]
    return error_rate_intervals({"cer": tuple(zip(*characters)), "wer": tuple(zip(*words))}, speakers)


def fold_cer(result: FoldResult) -> str:
    """A fold's headline test figure, for the log."""
    return f"test CER {text_figures(result.y_true, result.y_pred)['cer']:.3f}"

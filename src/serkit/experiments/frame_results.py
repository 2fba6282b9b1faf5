"""A frame task's cross-validation figures: frame error rate (FER) and phone error rate (PER).

* FER (:func:`~serkit.evaluation.frame_error_rate`): the fraction of test
  frames whose predicted class is not the aligned reference's, per fold,
  its mean and std over folds, and pooled over every test frame.
* PER (:func:`~serkit.evaluation.phone_error_rate`): the edit distance of the
  decoded phones to the reference's, summed over utterances.  The decoder is
  the fold's Viterbi search over a phone bigram (:mod:`.phone_decoder`) where
  the run fitted one; ``per_runs`` is the crude one beside it: each
  utterance's frames collapsed to runs of equal labels, the pause dropped (a
  one-frame flicker is an insertion).

``ci95`` holds both figures' speaker-bootstrap intervals (speakers drawn with
all their utterances); there is no confusion matrix (``confusion`` is None).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from serkit.artifacts import FoldResult
from serkit.evaluation import (
    FoldPredictions,
    edit_distance,
    error_rate_intervals,
    frame_error_rate,
    phone_error_rate,
    summarise_folds,
    unweighted_average_recall,
    utterance_scores,
)
from serkit.evaluation.frame_decisions import RULES
from serkit.experiments.fold_data import FoldData
from serkit.experiments.frame_targets import PAUSE, SILENCE, UNKNOWN


def frame_predictions(data: FoldData, scores: Sequence[np.ndarray], utterances: bool = False) -> dict[str, Any]:
    """A frame task's test references and predictions, one symbol list per utterance (its class
    scores are left out: a probability per frame and class would dwarf the file); with
    ``utterances`` (emotion frames), each utterance's label and its decision by every rule."""
    classes = np.asarray(data.labels)
    found = {"ids": data.test.ids, "speakers": data.test.speakers,
             "y_true": [frames.tolist() for frames in data.test.frames],
             "y_pred": [classes[np.argmax(s, axis=-1)].tolist() for s in scores], "scores": []}
    if utterances:
        found["utterances"] = utterance_decisions(data, scores)
    return found


def utterance_decisions(data: FoldData, scores: Sequence[np.ndarray]) -> dict[str, Any]:
    """Each test utterance's label and its class decided from its frames by every rule
    (:mod:`serkit.evaluation.frame_decisions`: silence and ``<unk>`` never win)."""
    classes = list(data.labels)
    excluded = [classes.index(c) for c in (SILENCE, UNKNOWN) if c in classes]
    silence = classes.index(SILENCE) if SILENCE in classes else None
    decided = {rule: [classes[int(np.argmax(utterance_scores(s, rule, excluded, silence)))] for s in scores]
               for rule in RULES}
    return {"labels": [c for k, c in enumerate(classes) if k not in excluded], "y_true": list(data.test.labels),
            "y_pred": decided}


def frame_figures(y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]],
                  decoded: Sequence[Sequence[str]] | None = None, phones: bool = True) -> dict[str, float]:
    """FER over every frame of the utterances and, for phones, PER of the collapsed runs
    (``per_runs``) and ``per``: that of the ``decoded`` phone sequences where a decoder ran, else the
    runs'.  Emotion frames (``phones`` False) give the frames' UA instead (``frame_ua``)."""
    true = np.concatenate([np.asarray(t) for t in y_true])
    pred = np.concatenate([np.asarray(p) for p in y_pred])
    fer = frame_error_rate(true, pred)
    if not phones:
        return {"fer": fer, "frame_ua": unweighted_average_recall(true, pred, labels=sorted(set(true) | set(pred)))}
    references = [phone_runs(t) for t in y_true]
    runs = phone_error_rate(references, [phone_runs(p) for p in y_pred])
    per = runs if decoded is None else phone_error_rate(references, [list(d) for d in decoded])
    return {"fer": fer, "per": per, "per_runs": runs}


def phone_runs(frames: Sequence[str]) -> list[str]:
    """The phones of a frame sequence: runs of equal labels collapsed, pauses dropped."""
    runs = [label for k, label in enumerate(frames) if k == 0 or frames[k - 1] != label]
    return [label for label in runs if label != PAUSE]


def summarise_frames(results: Sequence[FoldResult], phones: bool = True) -> dict[str, Any]:
    """FER and PER (emotion frames: FER and the frames' UA) per fold, their mean and std over folds,
    and pooled over every test frame, in the shape of a classification's figures."""
    decoded = phones and all(r.decoded is not None for r in results)
    rows = [{"name": r.fold["name"], "test_speakers": sorted(set(r.speakers)), "n_test": len(r.ids),
             "n_frames": sum(len(t) for t in r.y_true),
             **frame_figures(r.y_true, r.y_pred, r.decoded if decoded else None, phones)} for r in results]
    pooled = frame_figures([t for r in results for t in r.y_true], [p for r in results for p in r.y_pred],
                           [d for r in results for d in r.decoded] if decoded else None, phones)
    references = sorted({symbol for r in results for t in r.y_true for symbol in t})
    if not phones:
        rule = "per frame: FER and the frames' UA over every test frame (silence a class of its own)"
    elif decoded:
        rule = ("per frame: FER over every test frame; PER of the Viterbi decoder (each fold's phone bigram), "
                "per_runs on runs of equal labels, pauses dropped")
    else:
        rule = "per frame: FER over every test frame; PER on runs of equal labels, pauses dropped"
    figures = list(pooled)
    return {"folds": rows, "pooled": pooled,
            "mean": {k: float(np.mean([row[k] for row in rows])) for k in figures},
            # the sample std over folds, as for the other tasks (none of a single fold)
            "std": {k: float(np.std([row[k] for row in rows], ddof=1)) if len(rows) > 1 else None for k in figures},
            "ci95": frame_intervals(results, decoded, phones), "labels": references, "confusion": None,
            "class_rule": rule}


def summarise_utterances(results: Sequence[FoldResult], rule: str) -> dict[str, Any] | None:
    """Emotion frames: the utterances decided by ``rule`` summarised as a classification (per fold,
    mean, pooled with E and UE, speaker bootstrap, confusion), with every rule's pooled figures."""
    if not results or results[0].utterances is None:
        return None
    labels = results[0].utterances["labels"]

    def folds(by: str) -> list[FoldPredictions]:
        return [FoldPredictions(r.utterances["y_true"], r.utterances["y_pred"][by], r.speakers, name=r.fold["name"])
                for r in results]

    summary = summarise_folds(folds(rule), labels=labels)
    summary["rule"] = rule
    summary["rules_pooled"] = {by: summarise_folds(folds(by), labels=labels)["pooled"] for by in RULES}
    return summary


def frame_intervals(results: Sequence[FoldResult], decoded: bool = False, phones: bool = True) -> dict[str, Any]:
    """Speaker-bootstrap intervals of pooled FER and (phones) PER, from each utterance's errors and length."""
    return error_rate_intervals(error_counts(results, decoded, phones), [s for r in results for s in r.speakers])


def error_counts(results: Sequence[FoldResult], decoded: bool = False,
                 phones: bool = True) -> dict[str, tuple[Sequence[int], Sequence[int]]]:
    """Each test utterance's errors and reference length under FER (frames) and, for phones, PER
    (the decoder's phones when ``decoded``, else the collapsed runs) and PER (runs): the counts
    pooled error rates are summed from."""
    pairs = [(t, p) for r in results for t, p in zip(r.y_true, r.y_pred)]
    frames = [(sum(a != b for a, b in zip(t, p)), len(t)) for t, p in pairs]
    counts = {"fer": tuple(zip(*frames))}
    if phones:
        runs = [(edit_distance(phone_runs(t), phone_runs(p)), len(phone_runs(t))) for t, p in pairs]
        found = runs if not decoded else [(edit_distance(phone_runs(t), list(d)), len(phone_runs(t)))
                                          for r in results for t, d in zip(r.y_true, r.decoded)]
        counts |= {"per": tuple(zip(*found)), "per_runs": tuple(zip(*runs))}
    return counts


def fold_fer(result: FoldResult) -> str:
    """A fold's headline test figure, for the log."""
    true, pred = (np.concatenate([np.asarray(f) for f in frames]) for frames in (result.y_true, result.y_pred))
    return f"test FER {frame_error_rate(true, pred):.3f}"

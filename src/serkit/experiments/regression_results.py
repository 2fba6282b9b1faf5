"""A regression's fold predictions and cross-validation figures: CCC and RMSE per target.

Per utterance (``y_pred`` one row of values per utterance) or per frame (a
frame model: ``y_pred`` one row per frame of each utterance).  A reference
given per utterance while predictions are per frame holds on every frame of
the utterance (a categorical corpus's place on the arousal/valence plane);
a reference given per frame (a trace) is compared frame by frame.  Figures
pool every compared row, and the speaker bootstrap resamples speakers with
all their rows (:func:`~serkit.evaluation.summarise_regression_folds`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from serkit.artifacts import FoldResult
from serkit.evaluation import FoldPredictions, summarise_regression_folds
from serkit.experiments.fold_data import FoldData

FIGURES = ("ccc", "rmse")


def regression_predictions(data: FoldData, scores: Any) -> dict[str, Any]:
    """A fold's predictions.json for a regression: references per utterance or per frame (a
    trace), predictions per utterance or per frame (rounded to 4 decimals: a per-frame file stays
    small)."""
    y_true = [np.round(values.astype(float), 4).tolist() if values.ndim == 2 else [float(v) for v in values]
              for values in data.test.values]
    y_pred = [np.round(np.asarray(s, dtype=float), 4).tolist() for s in scores]
    per_frame = any(np.ndim(s) > 1 for s in scores)
    return {"ids": data.test.ids, "speakers": data.test.speakers, "y_true": y_true, "y_pred": y_pred,
            "scores": [] if per_frame else y_pred}  # per frame, the values are y_pred itself


def compared_rows(result: FoldResult, n_targets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(true, pred, speakers)`` one row per compared utterance or frame."""
    true, pred, speakers = [], [], []
    for reference, predicted, speaker in zip(result.y_true, result.y_pred, result.speakers):
        predicted = np.reshape(np.asarray(predicted, dtype=float), (-1, n_targets))
        reference = np.asarray(reference, dtype=float).reshape(-1, n_targets)
        true.append(np.broadcast_to(reference, predicted.shape) if len(reference) == 1 else reference)
        pred.append(predicted)
        speakers += [speaker] * len(predicted)
    return np.concatenate(true), np.concatenate(pred), np.asarray(speakers)


def summarise_regression(targets: Sequence[str], results: Sequence[FoldResult]) -> dict[str, Any]:
    """Per-target CCC and RMSE per fold, their means, pooled over every compared row and the
    speaker bootstrap, with ``ccc`` and ``rmse`` the means over targets, in the shape of a
    classification's figures."""
    rows_of = [compared_rows(r, len(targets)) for r in results]
    per_target = {}
    for d, name in enumerate(targets):
        folds = [FoldPredictions(true[:, d], pred[:, d], speakers, name=r.fold["name"])
                 for (true, pred, speakers), r in zip(rows_of, results)]
        per_target[name] = summarise_regression_folds(folds)
    rows = []
    for k in range(len(results)):
        row = {key: per_target[targets[0]]["folds"][k][key] for key in ("name", "test_speakers", "n_test")}
        for name, summary in per_target.items():
            row.update({f"{figure}_{name}": summary["folds"][k][figure] for figure in FIGURES})
        row.update({figure: _mean([row[f"{figure}_{n}"] for n in targets]) for figure in FIGURES})
        rows.append(row)
    per_frame = any(len(np.shape(p)) > 1 for r in results for p in r.y_pred[:1])
    return {"folds": rows, "mean": _merged(per_target, "mean"), "std": _merged(per_target, "std"),
            "pooled": _merged(per_target, "pooled"),
            "ci95": {f"ccc_{name}": s["ci95"]["ccc"] for name, s in per_target.items()},
            "labels": list(targets), "confusion": None,
            "class_rule": f"per target: CCC and RMSE per fold, and pooled over every test "
                          f"{'frame' if per_frame else 'utterance'}; ccc and rmse are the means over targets"}


def _merged(per_target: dict[str, dict[str, Any]], part: str) -> dict[str, Any]:
    out = {f"{figure}_{name}": s[part][figure] for name, s in per_target.items() for figure in FIGURES}
    out.update({figure: _mean([s[part][figure] for s in per_target.values()]) for figure in FIGURES})
    return out


def _mean(values: list[float | None]) -> float | None:
    return None if None in values else float(np.mean(values))

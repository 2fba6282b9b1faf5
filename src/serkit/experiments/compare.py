"""``serkit compare``: two systems' cross-validation runs, paired on their test utterances.

Reads each run folder's fold predictions (``folds/NN/predictions.json``, which
stay on the machine that ran it) and hands them to
:func:`serkit.evaluation.compare.paired_speaker_bootstrap`.  Every fold of a
run must be finished, and every run must have tested the same utterances (the
same protocol on the same corpus): anything else is refused, naming the run.
An emotion frame run (seed 001) takes part through its utterances as it decided
them from their frames, by the rule its results report; frame runs also compare by
an error rate (``fer``; phone recognizers ``per`` and ``per_runs``), paired per utterance.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from serkit.artifacts import CvResults, FoldResult
from serkit.errors import SerkitError
from serkit.evaluation import (ERROR_FIGURES, BootstrapConfig, RunErrors, RunPredictions, paired_error_bootstrap,
                               paired_speaker_bootstrap)
from serkit.evaluation.aggregate import CLASSIFICATION_FIGURES
from serkit.experiments.frame_results import error_counts
from serkit.outputs import atomic_write_text

RESULTS = "results.json"


def finished_run(run_dir: Path) -> tuple[CvResults, list[FoldResult]]:
    """A finished run's figures and its folds' predictions, refused unless every fold is there."""
    if not (run_dir / RESULTS).is_file():
        raise SerkitError(f"{run_dir}: no {RESULTS} (not a finished `serkit cv` run folder)")
    results = CvResults.read(run_dir / RESULTS)
    paths = sorted((run_dir / "folds").glob("*/predictions.json"))
    if len(paths) != len(results.folds):
        raise SerkitError(f"{run_dir}: {len(paths)} fold predictions for {len(results.folds)} folds (fold "
                          "predictions stay where the run ran: compare on that machine, or rerun it)")
    return results, [FoldResult.read(path) for path in paths]


def run_name(run_dir: Path, results: CvResults) -> str:
    return results.recipe if run_dir.name == results.recipe else str(run_dir)


def run_errors(run_dir: str | Path, figure: str) -> RunErrors:
    """A finished frame run's test utterances under an error rate: FER, or (phones) PER and PER (runs)."""
    run_dir = Path(run_dir)
    results, folds = finished_run(run_dir)
    phones = results.frame_target == "phones"
    if results.task != "frame" or (figure != "fer" and not phones):
        raise SerkitError(f"{run_dir}: a {results.task} task ({results.frame_target or 'no frames'}) has no "
                          f"{figure.upper()}; error rates compare frame runs (PER: phone recognizers)")
    decoded = phones and all(f.decoded is not None for f in folds)
    errors, lengths = error_counts(folds, decoded, phones)[figure]
    return RunErrors(name=run_name(run_dir, results), ids=[i for f in folds for i in f.ids],
                     speakers=[s for f in folds for s in f.speakers], errors=errors, lengths=lengths)


def run_predictions(run_dir: str | Path) -> tuple[CvResults, list[str], RunPredictions]:
    """A finished run's figures, its classes and its test utterances' predictions over all folds."""
    run_dir = Path(run_dir)
    results, folds = finished_run(run_dir)
    if results.task != "utterance" and not results.utterances:
        raise SerkitError(f"{run_dir}: a {results.task} task without utterance decisions; serkit compare "
                          "pairs utterance classifiers (and emotion frame models by their utterances); "
                          "compare phone recognizers by --figure per or fer")
    columns = {name: [v for f in folds for v in getattr(f, name)] for name in ("ids", "speakers")}
    if results.task == "utterance":
        labels = results.labels
        columns |= {name: [v for f in folds for v in getattr(f, name)] for name in ("y_true", "y_pred")}
    else:  # emotion frames: each utterance's label and the class its frames decided by the run's rule
        labels, rule = results.utterances["labels"], results.utterances["rule"]
        columns["y_true"] = [v for f in folds for v in f.utterances["y_true"]]
        columns["y_pred"] = [v for f in folds for v in f.utterances["y_pred"][rule]]
    return results, labels, RunPredictions(name=run_name(run_dir, results), **columns)


def compare_runs(candidate: Sequence[str | Path], baseline: Sequence[str | Path], figure: str = "ua",
                 bootstrap: BootstrapConfig = BootstrapConfig()) -> dict[str, Any]:
    """The paired bootstrap of ``candidate`` against ``baseline`` (each one run or several seeds)."""
    if figure not in (*CLASSIFICATION_FIGURES, *ERROR_FIGURES):  # before any run is read: a typo, not a run
        raise SerkitError(f"figure {figure!r}: choose one of {', '.join((*CLASSIFICATION_FIGURES, *ERROR_FIGURES))}")
    if figure in ERROR_FIGURES:
        errors = [run_errors(run, figure) for run in (*candidate, *baseline)]
        compared = paired_error_bootstrap(errors[:len(candidate)], errors[len(candidate):], figure, bootstrap)
        return _with_folders(compared, [finished_run(Path(run))[0] for run in (*candidate, *baseline)],
                             candidate, baseline)
    loaded = [run_predictions(run) for run in (*candidate, *baseline)]
    labels = loaded[0][1]
    for results, classes, _ in loaded[1:]:
        if classes != labels:
            raise SerkitError(f"{results.recipe}: classes {classes}, not {labels} as {loaded[0][0].recipe}")
    sides = len(candidate)
    predictions = [p for _, _, p in loaded]
    compared = paired_speaker_bootstrap(predictions[:sides], predictions[sides:], labels, figure, bootstrap)
    return _with_folders(compared, [r for r, _, _ in loaded], candidate, baseline)


def _with_folders(compared: dict[str, Any], results: Sequence[CvResults], candidate: Sequence[str | Path],
                  baseline: Sequence[str | Path]) -> dict[str, Any]:
    protocols = sorted({r.protocol for r in results})
    return {**compared, "protocol": protocols[0] if len(protocols) == 1 else protocols,
            "folders": {"candidate": [str(p) for p in candidate], "baseline": [str(p) for p in baseline]}}


def write_comparison(comparison: dict[str, Any], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(comparison, indent=1) + "\n")

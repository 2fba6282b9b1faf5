"""``serkit compare``: two systems' cross-validation runs, paired on their test utterances.

Reads each run folder's fold predictions (``folds/NN/predictions.json``, which
stay on the machine that ran it) and hands them to
:func:`serkit.evaluation.compare.paired_speaker_bootstrap`.  Every fold of a
run must be finished, and every run must have tested the same utterances (the
same protocol on the same corpus): anything else is refused, naming the run.
An emotion frame run (seed 001) takes part through its utterances as it decided
them from their frames, by the rule its results report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from serkit.artifacts import CvResults, FoldResult
from serkit.errors import SerkitError
from serkit.evaluation import BootstrapConfig, RunPredictions, paired_speaker_bootstrap
from serkit.outputs import atomic_write_text

RESULTS = "results.json"


def run_predictions(run_dir: str | Path) -> tuple[CvResults, list[str], RunPredictions]:
    """A finished run's figures, its classes and its test utterances' predictions over all folds."""
    run_dir = Path(run_dir)
    if not (run_dir / RESULTS).is_file():
        raise SerkitError(f"{run_dir}: no {RESULTS} (not a finished `serkit cv` run folder)")
    results = CvResults.read(run_dir / RESULTS)
    if results.task != "utterance" and not results.utterances:
        raise SerkitError(f"{run_dir}: a {results.task} task without utterance decisions; serkit compare "
                          "pairs utterance classifiers (and emotion frame models by their utterances)")
    paths = sorted((run_dir / "folds").glob("*/predictions.json"))
    if len(paths) != len(results.folds):
        raise SerkitError(f"{run_dir}: {len(paths)} fold predictions for {len(results.folds)} folds (fold "
                          "predictions stay where the run ran: compare on that machine, or rerun it)")
    folds = [FoldResult.read(path) for path in paths]
    columns = {name: [v for f in folds for v in getattr(f, name)] for name in ("ids", "speakers")}
    if results.task == "utterance":
        labels = results.labels
        columns |= {name: [v for f in folds for v in getattr(f, name)] for name in ("y_true", "y_pred")}
    else:  # emotion frames: each utterance's label and the class its frames decided by the run's rule
        labels, rule = results.utterances["labels"], results.utterances["rule"]
        columns["y_true"] = [v for f in folds for v in f.utterances["y_true"]]
        columns["y_pred"] = [v for f in folds for v in f.utterances["y_pred"][rule]]
    name = results.recipe if run_dir.name == results.recipe else str(run_dir)
    return results, labels, RunPredictions(name=name, **columns)


def compare_runs(candidate: Sequence[str | Path], baseline: Sequence[str | Path], figure: str = "ua",
                 bootstrap: BootstrapConfig = BootstrapConfig()) -> dict[str, Any]:
    """The paired bootstrap of ``candidate`` against ``baseline`` (each one run or several seeds)."""
    loaded = [run_predictions(run) for run in (*candidate, *baseline)]
    labels = loaded[0][1]
    for results, classes, _ in loaded[1:]:
        if classes != labels:
            raise SerkitError(f"{results.recipe}: classes {classes}, not {labels} as {loaded[0][0].recipe}")
    sides = len(candidate)
    predictions = [p for _, _, p in loaded]
    compared = paired_speaker_bootstrap(predictions[:sides], predictions[sides:], labels, figure, bootstrap)
    protocols = sorted({r.protocol for r, _, _ in loaded})
    return {**compared, "protocol": protocols[0] if len(protocols) == 1 else protocols,
            "folders": {"candidate": [str(p) for p in candidate], "baseline": [str(p) for p in baseline]}}


def write_comparison(comparison: dict[str, Any], path: str | Path) -> None:
    atomic_write_text(Path(path), json.dumps(comparison, indent=1) + "\n")

"""Seed 003's recognizer: its learning curve, validation CER against epochs and against hours of audio.

Reads each recognizer run's training history (``runs/seed003/<recipe>/folds/00/seed0/log.csv``,
written epoch by epoch, so a run still training shows how far it got) and the hours of audio
its training part holds (the recipe's corpus, folds and ``training_share``, as ``serkit cv``
makes them).  One epoch uses the training part once, so hours used = epochs x hours per epoch.
The full run and the quarter run (``training_share: 0.25``) side by side are the curve against
the amount of data; the SGD run (the paper's optimiser) beside the full run compares optimisers.
Writes docs/figures/seed003-learning-curve.png and prints a table::

    python benchmarks/seed003_learning_curve.py [--root ../shared/data/librispeech-mini/LibriSpeech]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from serkit.experiments import load_recipe  # noqa: E402
from serkit.experiments.cv import load_corpus  # noqa: E402
from serkit.protocols import make_folds, with_training_share  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: Adam on all the training audio and on a quarter of it; the paper's SGD schedule on all of it.
RUNS = ("seed003-ds2-librispeech", "seed003-ds2-librispeech-quarter", "seed003-ds2-librispeech-sgd")
FIGURE = REPO / "docs" / "figures" / "seed003-learning-curve.png"


def training_hours(name: str, root: Path) -> float:
    """Hours of audio in the run's training part (its first fold: the recipe has one)."""
    recipe = load_recipe(REPO / "recipes" / "seed003" / f"{name}.yaml").override(root=str(root))
    table = load_corpus(recipe).table
    fold = make_folds(table, recipe.protocol, recipe.validation, seed=recipe.seed)[0]
    fold = with_training_share(table, fold, recipe.training_share, recipe.seed)
    return float(table.duration.iloc[list(fold.train)].sum() / 3600)


def history(name: str) -> pd.DataFrame | None:
    path = REPO / "runs" / "seed003" / name / "folds" / "00" / "seed0" / "log.csv"
    return pd.read_csv(path) if path.exists() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=REPO.parent / "shared" / "data" / "librispeech-mini" / "LibriSpeech")
    args = parser.parse_args()
    figure, (by_epoch, by_hours) = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    print("| run | training hours | epochs so far | best validation CER | at epoch | hours used then |")
    print("|---|---|---|---|---|---|")
    for name in RUNS:
        log = history(name)
        if log is None:
            print(f"| {name} | | not started | | | |")
            continue
        hours = training_hours(name, args.root)
        best = log.loc[log.validation_cer.idxmin()]
        print(f"| {name} | {hours:.2f} | {len(log)} | {best.validation_cer:.3f} | {int(best.epoch)} | "
              f"{best.epoch * hours:.1f} |")
        finished = (REPO / "runs" / "seed003" / name / "results.json").exists()
        label = f"{name.removeprefix('seed003-ds2-')} ({hours:.2f} h){'' if finished else ', still training'}"
        by_epoch.plot(log.epoch, log.validation_cer, marker="o", markersize=3, label=label)
        by_hours.plot(log.epoch * hours, log.validation_cer, marker="o", markersize=3, label=label)
    by_epoch.set(xlabel="epoch", ylabel="validation CER (greedy)", title="against epochs")
    by_hours.set(xlabel="hours of audio used (epochs x training hours)", title="against audio used")
    by_epoch.legend(fontsize=8)
    figure.suptitle("Seed 003's recognizer on LibriSpeech mini (validation speakers 4640, 2136)", fontsize=10)
    figure.tight_layout()
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(FIGURE, dpi=110)
    print(f"wrote {FIGURE}")


if __name__ == "__main__":
    main()

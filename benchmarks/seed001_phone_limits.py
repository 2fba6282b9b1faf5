"""What holds seed 001's phone recognizer on EMO-DB above the issue's PER aim (45%).

    python benchmarks/seed001_phone_limits.py [--run runs/seed001/seed001-phones-base]

Reads the run's fold predictions only (no audio, no model).  Under ``speaker-sentence:2x5`` every
utterance is a test utterance of exactly one fold, so the folds' references together give every
utterance's frame phones, and each fold's training part is rebuilt from its speaker and sentence
groups.  Per fold it prints the training material, against TIMIT's training set that the paper
used (462 speakers x 8 sentences); how much of the test references' phone bigrams the training
sentences hold (the decoder's bigram can only know those); the test frames whose phone has
few training frames and their error; and the decoder's PER on the validation speaker, who reads
the training sentences, beside the test PER on unseen sentences.  The validation PER chose the
decoder's settings, so it is a little optimistic: it measures how much sentences never heard cost,
not a result.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from serkit.evaluation.sequence import phone_error_rate
from serkit.experiments.frame_results import PAUSE, phone_runs

REPO = Path(__file__).resolve().parents[1]
FRAME_SECONDS = 0.01
#: A phone with fewer training frames than this (a second of it) counts as rare.
RARE_FRAMES = 100


def sentence(path: str) -> str:
    """EMO-DB's sentence code from a file name: ``03a01Fa.wav`` -> ``a01``."""
    return Path(path).name[2:5]


def speaker(path: str) -> str:
    return Path(path).name[:2]


def read_folds(run: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((run / "folds").glob("*/predictions.json"))]


def fold_row(fold: dict, frames: dict[str, list[str]]) -> dict:
    groups = fold["fold"]["groups"]
    train_ids = [i for i in frames
                 if speaker(i) in groups["speaker"]["train"] and sentence(i) in groups["text"]["train"]]
    train_frames = Counter(label for i in train_ids for label in frames[i])
    train_bigrams = {pair for i in train_ids for pair in zip(phone_runs(frames[i]), phone_runs(frames[i])[1:])}
    references = [phone_runs(t) for t in fold["y_true"]]
    test_bigrams = [pair for r in references for pair in zip(r, r[1:])]
    test_frames = [(t, p) for ts, ps in zip(fold["y_true"], fold["y_pred"]) for t, p in zip(ts, ps) if t != PAUSE]
    rare = [(t, p) for t, p in test_frames if train_frames[t] < RARE_FRAMES]
    speech = sum(n for label, n in train_frames.items() if label != PAUSE)
    return {
        "utterances": len(train_ids),
        "speakers": len(groups["speaker"]["train"]),
        "minutes": speech * FRAME_SECONDS / 60,
        "bigrams_unseen": np.mean([pair not in train_bigrams for pair in test_bigrams]),
        "rare_share": len(rare) / len(test_frames),
        "rare_error": np.mean([t != p for t, p in rare]) if rare else float("nan"),
        "common_error": np.mean([t != p for t, p in test_frames if train_frames[t] >= RARE_FRAMES]),
        "validation_per": fold["decoder"]["validation_per"],
        "test_per": phone_error_rate(references, [list(d) for d in fold["decoded"]]),
    }


def table(rows: list[dict]) -> list[str]:
    lines = ["| fold | training utterances (speakers) | training speech | test bigrams unseen in training | "
             f"test speech frames of rare phones (< {RARE_FRAMES} training frames) | their frame error / the others' | "
             "validation PER (seen sentences) | test PER (unseen sentences) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for k, r in enumerate([*rows, {key: np.mean([r[key] for r in rows]) for key in rows[0]}]):
        name = f"{k:02d}" if k < len(rows) else "mean"
        lines.append(f"| {name} | {r['utterances']:.0f} ({r['speakers']:.0f}) | {r['minutes']:.1f} min | "
                     f"{100 * r['bigrams_unseen']:.1f}% | {100 * r['rare_share']:.1f}% | "
                     f"{100 * r['rare_error']:.1f}% / {100 * r['common_error']:.1f}% | "
                     f"{100 * r['validation_per']:.1f}% | {100 * r['test_per']:.1f}% |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=REPO / "runs" / "seed001" / "seed001-phones-base")
    args = parser.parse_args()
    folds = read_folds(args.run)
    frames = {i: t for fold in folds for i, t in zip(fold["ids"], fold["y_true"])}
    print("\n".join(table([fold_row(fold, frames) for fold in folds])))


if __name__ == "__main__":
    main()

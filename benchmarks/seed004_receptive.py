"""Seed 004's receptive-field probe (Khorram et al., Section 4, Figure 1) on the semi-synthetic EMO-DB test bed.

"A convolutional layer with one filter of variable length from 2 to 2048 frames, followed by a tanh
non-linearity, followed by a linear regression layer ... We train our model on the training partition
and evaluate on the development partition."  Here: serkit's ``receptive_probe`` (one centred filter of
``length`` stacked 40 ms frames) in the fixed-split recipe of the dilated network
(``recipes/seed004/seed004-dilated-<target>.yaml``: 40 log filterbanks stacked 4 to 40 ms, global
normalisation, CCC loss, whole recordings one per step, Adam 1e-3, up to 60 epochs, stopping 10 after
the best development CCC) with the model swapped, trained on the 6 training speakers; the figure is each
seed's CCC on the 2 development speakers at its kept epoch.  As in the paper, the development part also
stops training, so the figures are optimistic for every length alike.  The paper ran 10 seeds and
lengths up to 2048; this runs ``--seeds`` (3) and up to 512 (the paper saw gains stop there).

Each (target, length) is one ``serkit.experiments.run_cv`` with ``ensemble: SEEDS`` (seeds 0, 1, ...):
every member is a model of its own, and its development figure is read from its history.  Runs go to
``--work`` (default ``runs/seed004/receptive/<target>-L<length>/``, local: not committed) and resume
there.

    nice -n 10 python benchmarks/seed004_receptive.py [--root /work/streams/emodb] [--seeds 3]
        [--lengths 2 4 ... 512] [--targets arousal valence] [--threads 1]

Writes docs/seed004-receptive.json (every figure) and docs/seed004-receptive.png, and prints the
markdown table.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from serkit.artifacts import FoldResult
from serkit.experiments import Recipe, load_recipe, run_cv
from serkit.features.cache import FeatureCache

REPO = Path(__file__).resolve().parents[1]
LENGTHS = tuple(2 ** k for k in range(1, 10))  # 2 .. 512 frames: 0.08 .. 20.48 s
TARGETS = ("arousal", "valence")
FRAME_SECONDS = 0.04
DATA = "semi-synthetic EMO-DB test bed (RECOLA in the paper)"


def probe_recipe(target: str, length: int, seeds: int, root: str) -> Recipe:
    """The fixed-split dilated recipe of ``target`` with the probe of ``length`` frames in its place."""
    base = load_recipe(REPO / "recipes" / "seed004" / f"seed004-dilated-{target}.yaml")
    return base.override(name=f"seed004-receptive-{target}-L{length}", model="receptive_probe",
                         model_options={"length": length}, ensemble=seeds, root=root,
                         reproduces="seed 004 (Khorram et al. 2017), Figure 1 (RECOLA there; the "
                                    "semi-synthetic EMO-DB test bed here)")


def member_figures(run: Path, target: str) -> list[dict]:
    """Each seed's development CCC and RMSE at its kept epoch, from the fixed split's one fold."""
    fold = FoldResult.read(run / "folds" / "00" / "predictions.json")
    figures = []
    for member in fold.members or []:
        kept = member["history"][member["chosen_epoch"] - 1]
        figures.append({"seed": member["seed"], "chosen_epoch": member["chosen_epoch"],
                        "epochs_run": member["epochs_run"], "ccc": kept[f"validation_ccc_{target}"],
                        "rmse": kept[f"validation_rmse_{target}"]})
    return figures


def probe(target: str, length: int, seeds: int, root: str, work: Path, cache: FeatureCache,
          threads: int) -> dict:
    run = work / f"{target}-L{length}"
    started = time.perf_counter()
    summary = run_cv(probe_recipe(target, length, seeds, root), run, cache=cache, workers=1, threads=threads)
    members = member_figures(run, target)
    cccs = [m["ccc"] for m in members]
    return {"length": length, "seconds_context": length * FRAME_SECONDS, "members": members,
            "ccc_mean": float(np.mean(cccs)), "ccc_std": float(np.std(cccs)),
            "ensemble_dev_ccc": summary["folds"][0]["validation_figures"][f"ccc_{target}"],
            "run_seconds": summary["seconds"], "wall_seconds": round(time.perf_counter() - started, 1)}


def markdown_lines(data: dict) -> list[str]:
    """The probe's table from what docs/seed004-receptive.json holds, with how it was made."""
    targets = data["targets"]
    lengths = sorted({row["length"] for rows in targets.values() for row in rows})
    lines = [f"`{data['command']}`; {data['seeds']} seeds per point; the figure: {data['figure']} "
             f"(in brackets: the {data['seeds']} seeds' predictions averaged, as the paper's ensembles).", "",
             "| filter length (frames) | context (s) | "
             + " | ".join(f"{t} dev CCC mean (std) [ensemble]" for t in targets) + " | seeds stopped by the epoch cap |",
             "| --- | --- | " + " | ".join("---" for _ in targets) + " | --- |"]
    for length in lengths:
        cells, capped, members = [], 0, 0
        for rows in targets.values():
            row = next((r for r in rows if r["length"] == length), None)
            cells.append("-" if row is None else
                         f"{row['ccc_mean']:.3f} ({row['ccc_std']:.3f}) [{row['ensemble_dev_ccc']:.3f}]")
            for member in [] if row is None else row["members"]:
                members += 1
                capped += member["epochs_run"] == data["epochs"]  # still improving when it had to stop
        lines.append(f"| {length} | {length * FRAME_SECONDS:.2f} | " + " | ".join(cells) + f" | {capped} of {members} |")
    minutes = sum(r["run_seconds"] for rows in targets.values() for r in rows) / 60
    best = {t: max(rows, key=lambda r: r["ccc_mean"]) for t, rows in targets.items()}
    lines += ["", "Best mean development CCC: " + "; ".join(
        f"{t} {b['ccc_mean']:.3f} at {b['length']} frames ({b['length'] * FRAME_SECONDS:.2f} s)" for t, b in best.items())
        + f". {minutes:.0f} CPU-minutes in all (one thread). A seed stopped by the cap of {data['epochs']} "
        f"epochs had improved within its last {data['patience']} (the patience): it may be undertrained."]
    return lines


def plot(figures: dict[str, list[dict]], seeds: int, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for (target, rows), colour in zip(figures.items(), ("tab:red", "tab:blue")):
        rows = sorted(rows, key=lambda r: r["length"])
        lengths = np.array([r["length"] for r in rows])
        mean, std = np.array([r["ccc_mean"] for r in rows]), np.array([r["ccc_std"] for r in rows])
        ax.plot(lengths, mean, "o-", color=colour, label=target)
        ax.fill_between(lengths, mean - std, mean + std, color=colour, alpha=0.2)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("filter length (stacked 40 ms frames)")
    ax.set_ylabel("development CCC")
    ax.set_title(f"Receptive-field probe, {seeds} seeds (mean, std shaded)\n{DATA}", fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default="/work/streams/emodb")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=None, help="feature cache (default: serkit's)")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "seed004" / "receptive")
    parser.add_argument("--json", type=Path, default=REPO / "docs" / "seed004-receptive.json")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "seed004-receptive.png")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cache = FeatureCache(args.cache)
    figures: dict[str, list[dict]] = {}
    for target in args.targets:
        figures[target] = []
        for length in args.lengths:
            row = probe(target, length, args.seeds, args.root, args.work, cache, args.threads)
            figures[target].append(row)
            print(f"{target} L={length}: dev CCC {row['ccc_mean']:.3f} ({row['ccc_std']:.3f}) "
                  f"in {row['run_seconds']:.0f} s", flush=True)
    command = ("nice -n 10 python benchmarks/seed004_receptive.py --root " + args.root + f" --seeds {args.seeds} "
               "--lengths " + " ".join(map(str, args.lengths)) + " --targets " + " ".join(args.targets)
               + f" --threads {args.threads}")
    train = probe_recipe(args.targets[0], args.lengths[0], args.seeds, args.root).train
    data = {"data": DATA, "command": command, "seeds": args.seeds, "epochs": train.epochs,
            "patience": train.early_stopping.patience,
            "figure": "development CCC of each seed at its kept epoch", "targets": figures}
    args.json.write_text(json.dumps(data, indent=1) + "\n")
    plot(figures, args.seeds, args.plot)
    print("\n".join(markdown_lines(data)))


if __name__ == "__main__":
    main()

"""Seed 002's filter-shape study (Li et al. 2018, Section 3.2, Figure 2) on EMO-DB.

"The first convolution layer is tested independently. We directly applied GAP to its feature map
and used the fully-connected layer (16:4) ... heights in the range 2...100 ... and widths in the
range 2...80."  Here: ``recipes/seed002/seed002-filter-shape.yaml`` (cnn_tf with no layers after
Conv1, its 16 filters all of one shape; the 800-point mu-law spectrogram; speaker-kfold:5, 2 of
each fold's training speakers choosing the kept epoch; 10 epochs) with both kernels overridden:
the height (bins) swept at width 2, then the width (frames) at height 2, as the figure's two
panels.  The paper chose 10x2 and 2x8 by the test WA of these sweeps; here each point's
validation UA is reported beside its test figures, and the question is only whether the same
shapes come out best.

Each shape is one ``serkit.experiments.run_cv`` into ``--work`` (default
``runs/seed002/filter-shapes/<height>x<width>/``; rerunning resumes it).  A shape whose
figures are already in ``--json`` under the same configuration hash is not run again: the
committed JSON carries the finished shapes from one machine to the next, so the study can be
run a few shapes at a time (``--heights``/``--widths`` name them; the JSON, the plot and the
section keep every shape done so far).

    nice -n 10 python benchmarks/seed002_filter_shapes.py [--root ../shared/data/emodb]
        [--heights 2 4 ...] [--widths 2 4 ...] [--threads 1] [--write]

Writes docs/seed002-filter-shapes.json (every figure) and docs/figures/seed002-filter-shapes.png,
prints the markdown, and with ``--write`` replaces the "Filter-shape study" section of
docs/seed002.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

import numpy as np
from machine import write_section  # benchmarks/machine.py

from serkit.experiments import Recipe, load_recipe, run_cv
from serkit.features.cache import FeatureCache

REPO = Path(__file__).resolve().parents[1]
HEIGHTS = (2, 4, 6, 10, 16, 25, 50, 100)  # bins of 20 Hz on the 800-point DFT, at width 2
WIDTHS = (2, 4, 6, 8, 12, 20, 40, 80)  # frames of 10 ms, at height 2
BIN_HZ, FRAME_MS = 20, 10
CLASSES = ("neutral", "anger", "sadness", "happiness")
TITLE = "Filter-shape study (Figure 2)"


def shape_recipe(height: int, width: int, root: str) -> Recipe:
    base = load_recipe(REPO / "recipes" / "seed002" / "seed002-filter-shape.yaml")
    kernel = (height, width)
    return base.override(name=f"seed002-filter-shape-{height}x{width}", root=root,
                         model_options={**base.model_options, "frequency_kernel": kernel, "time_kernel": kernel})


def figures(summary: dict, height: int, width: int) -> dict:
    """Pooled test WA and UA, each class's accuracy (recall), fold spread and validation UA."""
    counts = np.array(summary["confusion"]["counts"], dtype=float)
    recall = np.diag(counts) / counts.sum(1).clip(min=1)
    return {"height": height, "width": width, "config_hash": summary["config_hash"],
            "wa": summary["pooled"]["wa"], "ua": summary["pooled"]["ua"],
            "wa_fold_std": summary["std"]["wa"], "validation_ua": summary["validation_ua"],
            "accuracy": dict(zip(summary["confusion"]["labels"], recall.tolist())),
            # processor minutes: wall time says more about what else the machine ran
            "minutes": (summary.get("cpu_seconds") or summary["seconds"]) / 60}


def sweep_rows(points: list[dict], axis: str) -> list[dict]:
    fixed = "width" if axis == "height" else "height"
    return sorted((p for p in points if p[fixed] == 2), key=lambda p: p[axis])


def markdown(data: dict) -> str:
    lines = [f"## {TITLE}", "",
             ("Conv1 alone (16 filters of one shape, batch norm, ReLU), GAP and a 16:4 layer, as Section 3.2 of "
             "the paper; EMO-DB 4class under speaker-kfold:5 (IEMOCAP in the paper), the 800-point mu-law "
             f"spectrogram ({BIN_HZ} Hz bins, twice the paper's 10 Hz: a height of h bins spans {BIN_HZ}h Hz), "
             "10 epochs, the epoch kept by 2 validation speakers per fold. Figures are % pooled over the 5 test "
             "folds; *validation UA* is the mean over folds of the kept epoch's UA on the validation speakers, "
             "the only figure a choice could honestly rest on."), "",
             "```", data["command"], "```", "",
             "![filter shapes](figures/seed002-filter-shapes.png)", ""]
    for axis, unit in (("height", f"bins ({BIN_HZ} Hz), width 2"), ("width", f"frames ({FRAME_MS} ms), height 2")):
        rows = sweep_rows(data["points"], axis)
        if not rows:
            continue
        lines += [f"**{axis.capitalize()} in {unit}**", "",
                  f"| {axis} | WA (fold std) | UA | " + " | ".join(CLASSES) + " | validation UA | CPU minutes |",
                  "| --- | --- | --- | " + " | ".join("---" for _ in CLASSES) + " | --- | --- |"]
        for p in rows:
            lines.append(f"| {p[axis]} | {100 * p['wa']:.1f} ({100 * p['wa_fold_std']:.1f}) | {100 * p['ua']:.1f} | "
                         + " | ".join(f"{100 * p['accuracy'].get(c, float('nan')):.1f}" for c in CLASSES)
                         + f" | {100 * p['validation_ua']:.1f} | {p['minutes']:.0f} |")
        best_test = max(rows, key=lambda p: p["wa"])
        best_val = max(rows, key=lambda p: p["validation_ua"])
        lines += ["", (f"Highest test WA at {axis} {best_test[axis]} ({100 * best_test['wa']:.1f}); highest "
                  f"validation UA at {axis} {best_val[axis]} ({100 * best_val['validation_ua']:.1f}). The paper's "
                  f"choice: {'10 (100 Hz there, 200 Hz here)' if axis == 'height' else '8 (80 ms)'}."), ""]
    return "\n".join(lines + answer(data["points"]))


def answer(points: list[dict]) -> list[str]:
    """The issue's question, does 10x2 and 2x8 come out best here too, from the shapes run so far."""
    done = {(p["height"], p["width"]) for p in points}
    missing = [f"{h}x2" for h in HEIGHTS if (h, 2) not in done] + [f"2x{w}" for w in WIDTHS if (2, w) not in done]
    lines = [f"**Under way**: {len(points)} of {len(HEIGHTS) + len(WIDTHS) - 1} shapes; not run yet: "
             f"{', '.join(missing)}. What follows may change when they are in.", ""] if missing else []
    ranks = []
    for axis, chosen in (("height", 10), ("width", 8)):
        rows = sweep_rows(points, axis)
        mine = next((p for p in rows if p[axis] == chosen), None)
        if mine is None:
            return lines
        by_test = 1 + sum(p["wa"] > mine["wa"] for p in rows)
        by_val = 1 + sum(p["validation_ua"] > mine["validation_ua"] for p in rows)
        ranks.append((axis, chosen, by_test, by_val, len(rows)))
    best = all(by_test == 1 for *_, by_test, _, _ in ranks)
    said = "; ".join(f"the paper's {axis} {chosen} ranks {by_test} of {n} by test WA and {by_val} by validation UA"
                     for axis, chosen, by_test, by_val, n in ranks)
    return lines + [f"Do 10x2 and 2x8 come out best on EMO-DB too? {'Yes' if best else 'No'}: {said}.", ""]


def plot(points: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(7.5, 6))
    for ax, axis, label in ((axes[0], "height", f"height (bins of {BIN_HZ} Hz), width 2"),
                            (axes[1], "width", f"width (frames of {FRAME_MS} ms), height 2")):
        rows = sweep_rows(points, axis)
        x = [p[axis] for p in rows]
        ax.plot(x, [100 * p["wa"] for p in rows], "o-", color="black", label="WA")
        ax.plot(x, [100 * p["validation_ua"] for p in rows], "o:", color="grey", label="validation UA")
        for name, style in zip(CLASSES, ("s--", "^--", "v--", "x:")):
            ax.plot(x, [100 * p["accuracy"].get(name, np.nan) for p in rows], style, label=name, alpha=0.8)
        ax.set_xscale("log")
        ax.minorticks_off()  # the shapes' own values label the axis, not log-scale minor ticks
        ax.set_xticks(x, [str(v) for v in x])
        ax.set_xlabel(label)
        ax.set_ylabel("% (pooled test)")
    axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.suptitle("Conv1 alone + GAP, EMO-DB 4class, speaker-kfold:5", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def finished_points(path: Path) -> list[dict]:
    """The shapes already in the study's JSON (none where there is no JSON yet)."""
    return json.loads(path.read_text())["points"] if path.is_file() else []


def write_points(path: Path, threads: int, new: list[dict]) -> dict:
    """The study's JSON with ``new`` points added to (or replacing) those it holds, read again just
    before writing so that two processes sweeping different shapes keep each other's; the command it
    records names every shape in it."""
    merged = {(p["height"], p["width"]): p for p in finished_points(path) + new}
    points = sorted(merged.values(), key=lambda p: (p["width"] != 2, p["height"], p["width"]))
    heights = sorted({p["height"] for p in points if p["width"] == 2})
    widths = sorted({p["width"] for p in points if p["height"] == 2})
    command = " ".join(["nice -n 10 python benchmarks/seed002_filter_shapes.py --heights", *map(str, heights),
                        "--widths", *map(str, widths), f"--threads {threads} --write"])
    data = {"command": command, "points": points}
    path.write_text(json.dumps(data, indent=1) + "\n")
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data_root = Path(os.environ.get("SERKIT_DATA", REPO.parent / "shared" / "data"))
    parser.add_argument("--root", default=str(data_root / "emodb"))
    # nargs="*": a sweep of one axis only names the other with nothing (the JSON's command does)
    parser.add_argument("--heights", type=int, nargs="*", default=list(HEIGHTS))
    parser.add_argument("--widths", type=int, nargs="*", default=list(WIDTHS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=None, help="feature cache (default: serkit's)")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "seed002" / "filter-shapes")
    parser.add_argument("--json", type=Path, default=REPO / "docs" / "seed002-filter-shapes.json")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "figures" / "seed002-filter-shapes.png")
    parser.add_argument("--write", action="store_true", help="replace the section of docs/seed002.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cache = FeatureCache(args.cache)
    shapes = list(dict.fromkeys([(h, 2) for h in args.heights] + [(2, w) for w in args.widths]))
    done = {(p["height"], p["width"]): p for p in finished_points(args.json)}
    for height, width in shapes:
        recipe = shape_recipe(height, width, args.root)
        if done.get((height, width), {}).get("config_hash") == recipe.config_hash():
            continue
        summary = run_cv(recipe, args.work / f"{height}x{width}", cache=cache, workers=1, threads=args.threads)
        point = done[height, width] = figures(summary, height, width)
        print(f"{height}x{width}: WA {100 * point['wa']:.1f}, validation UA "
              f"{100 * point['validation_ua']:.1f}, {point['minutes']:.0f} min", flush=True)
        write_points(args.json, args.threads, [point])  # each finished shape kept at once
    data = write_points(args.json, args.threads, [])
    plot(data["points"], args.plot)
    text = markdown(data)
    if args.write:
        write_section(TITLE, text, REPO / "docs" / "seed002.md")
    print(text)


if __name__ == "__main__":
    main()

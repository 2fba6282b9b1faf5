"""Seed 004's analysis (Khorram et al. 2017, Figures 4 and 5, Section 6.2) on the semi-synthetic EMO-DB test bed,
and the page that gathers it: docs/seed004.md.

* Figure 4, label smoothness: each gold trace's share of power under 1 Hz, and the CCC between a trace
  and its cubic-spline reconstruction after keeping every k-th value, k = 2..128
  (``serkit.evaluation.smoothness``).  The test bed's traces are made by a model of an annotator
  (docs/streams.md), so on them this measures the generator; ``--root`` points it at real
  RECOLA-layout traces (``ratings_gold_standard/{arousal,valence}/*.arff``).
* Figure 5: 40 s of one test recording, the gold trace against the dilated and the down/up networks'
  predictions (the fixed-split runs' fold predictions), arousal and valence.
* Roughness: each network's prediction roughness (mean absolute change per second) over its gold
  trace's, per test recording, and the prediction's share of power under 1 Hz beside the gold's.
* Seconds per epoch: docs/benchmarks.md's measurement (``benchmarks/seed004_speed.py``, not rerun here),
  and each run's own fitting time per epoch.

    python benchmarks/seed004_analysis.py [--runs runs] [--root /work/streams/emodb] [--docs docs]
        [--recording test_1] [--start 20]

Writes docs/seed004-smoothness.png, docs/seed004-predictions.png and docs/seed004.md (which also holds
Tables 1 and 2 from ``seed004_table.seed004_lines`` and the receptive-field probe from
docs/seed004-receptive.json, written by ``benchmarks/seed004_receptive.py``).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
from seed004_receptive import markdown_lines
from seed004_table import DATA, GROUP, TARGETS, seed004_lines

from serkit.artifacts import FoldResult
from serkit.corpora import read_corpus
from serkit.corpora.recola import traces
from serkit.evaluation import low_frequency_share, reconstruction_ccc, roughness, roughness_ratio

REPO = Path(__file__).resolve().parents[1]
FACTORS = tuple(2 ** k for k in range(1, 8))  # 2 .. 128
RATE = 25.0  # the traces' and the networks' 40 ms frames
#: The networks whose predictions are compared: (label, recipe stem); suffixes give the variants.
NETWORKS = (("BLSTM", "blstm"), ("Dilated", "dilated"), ("Down/Up", "updown"))
VARIANTS = (("", "fixed split"), ("-speaker-znorm", "fixed split, speaker z-norm"), ("-kfold5", "speaker-kfold:5"),
            ("-whisper", "fixed split, Whisper tiny.en layer 2 input"))
SPEED_SECTION = "## Seed 004 training speed"


# -- Figure 4: the gold traces ------------------------------------------------------------------

def gold_traces(root: Path) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Every recording's gold trace per target: ``{target: [(recording, values), ...]}``."""
    table = read_corpus("recola", root)
    found: dict[str, list[tuple[str, np.ndarray]]] = {t: [] for t in TARGETS}
    for row in table.to_dict("records"):
        for target, trace in traces(row).items():
            found[target].append((row["utterance"], trace.values))
    return found


def trace_source(root: Path) -> str:
    """What the traces at ``root`` are: the test bed (``serkit streams`` wrote its manifest) or not."""
    return DATA if (root / "streams.json").is_file() else f"RECOLA-layout traces at {root}"


def smoothness(gold: dict[str, list[tuple[str, np.ndarray]]]) -> dict[str, dict]:
    """Per target: each trace's share under 1 Hz, and the reconstruction CCC per factor (every trace)."""
    figures = {}
    for target, items in gold.items():
        usable = [values for _, values in items if np.ptp(values) > 0]
        figures[target] = {
            "traces": len(usable),
            "share_under_1hz": [low_frequency_share(v, RATE) for v in usable],
            "reconstruction_ccc": {k: [reconstruction_ccc(v, k) for v in usable if len(v) >= 2 * k] for k in FACTORS},
        }
    return figures


def smoothness_lines(figures: dict[str, dict]) -> list[str]:
    lines = ["| target | traces | power under 1 Hz: min / median / max | "
             + " | ".join(f"CCC k={k}" for k in FACTORS) + " |",
             "| --- | --- | --- | " + " | ".join("---" for _ in FACTORS) + " |"]
    for target, f in figures.items():
        share = 100 * np.asarray(f["share_under_1hz"])
        cccs = " | ".join(f"{np.mean(v):.3f} ({np.min(v):.3f})" if v else "-"
                          for v in f["reconstruction_ccc"].values())
        lines.append(f"| {target} | {f['traces']} | {share.min():.2f}% / {np.median(share):.2f}% / "
                     f"{share.max():.2f}% | {cccs} |")
    return lines


def smoothness_plot(figures: dict[str, dict], out: Path, data: str) -> None:
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    for (target, f), colour in zip(figures.items(), ("tab:red", "tab:blue")):
        share = 100 * np.asarray(f["share_under_1hz"])
        left.plot(np.sort(share), np.linspace(0, 1, len(share)), "o-", color=colour, label=target, markersize=3)
        factors = [k for k, v in f["reconstruction_ccc"].items() if v]
        mean = [np.mean(f["reconstruction_ccc"][k]) for k in factors]
        low = [np.min(f["reconstruction_ccc"][k]) for k in factors]
        right.plot(factors, mean, "o-", color=colour, label=f"{target}: mean")
        right.plot(factors, low, "--", color=colour, linewidth=1, label=f"{target}: lowest trace")
    left.axvline(95, color="grey", linestyle=":", label="RECOLA: > 95%")
    left.set_xlabel("share of power under 1 Hz (%)")
    left.set_ylabel("share of traces (cumulative)")
    left.legend(fontsize=7)
    right.set_xscale("log", base=2)
    right.set_xlabel("downsampling factor k")
    right.set_ylabel("CCC, spline reconstruction")
    right.legend(fontsize=7)
    fig.suptitle(f"Gold-trace smoothness (seed 004 Fig. 4), {data}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


# -- predictions: Figure 5 and roughness --------------------------------------------------------

def run_predictions(runs: Path, name: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(recording, gold, prediction)`` for every test recording of every fold of a run (one target);
    empty until the run has finished."""
    run = runs / GROUP / name
    if not (run / "results.json").is_file():
        return []
    found = []
    for path in sorted(run.glob("folds/*/predictions.json")):
        fold = FoldResult.read(path)
        for recording, true, pred in zip(fold.ids, fold.y_true, fold.y_pred):
            found.append((Path(recording).stem, np.asarray(true, float).ravel(), np.asarray(pred, float).ravel()))
    return found


def roughness_lines(runs: Path) -> list[str]:
    lines = ["| target | network | run | recordings | gold roughness (/s) | prediction roughness (/s) | "
             "ratio mean (lowest-highest) | power under 1 Hz, prediction / gold |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for target in TARGETS:
        for suffix, variant in VARIANTS:
            for label, stem in NETWORKS:
                name = f"seed004-{stem}-{target}{suffix}"
                items = run_predictions(runs, name)
                if not items:
                    continue
                ratios = [roughness_ratio(pred, true, RATE) for _, true, pred in items]
                gold = np.mean([roughness(true, RATE) for _, true, _ in items])
                predicted = np.mean([roughness(pred, RATE) for _, _, pred in items])
                share = np.mean([low_frequency_share(pred, RATE) for _, _, pred in items])
                gold_share = np.mean([low_frequency_share(true, RATE) for _, true, _ in items])
                lines.append(f"| {target} | {label} | {variant} (`{name}`) | {len(items)} | {gold:.3f} | "
                             f"{predicted:.3f} | **{np.mean(ratios):.2f}** ({min(ratios):.2f}-{max(ratios):.2f}) | "
                             f"{100 * share:.1f}% / {100 * gold_share:.1f}% |")
    return lines


def predictions_plot(runs: Path, recording: str, start: float, seconds: float, out: Path) -> bool:
    """Figure 5: ``seconds`` of ``recording`` from ``start``, gold against the dilated and down/up
    fixed-split predictions, a panel per target; False (nothing written) until those runs exist."""
    panels = {}
    for target in TARGETS:
        series = {}
        for label, stem in (("Dilated", "dilated"), ("Down/Up", "updown")):
            found = {rec: (true, pred) for rec, true, pred in run_predictions(runs, f"seed004-{stem}-{target}")}
            if recording in found:
                series["gold"], series[label] = found[recording]
        if len(series) == 3:
            panels[target] = series
    if not panels:
        return False
    plt = _pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.6 * len(panels)), squeeze=False)
    window = slice(int(start * RATE), int((start + seconds) * RATE))
    for ax, (target, series) in zip(axes[:, 0], panels.items()):
        for label, style in (("gold", dict(color="black", linewidth=2)), ("Dilated", dict(color="tab:red")),
                             ("Down/Up", dict(color="tab:blue"))):
            values = series[label][window]
            ax.plot(start + np.arange(len(values)) / RATE, values, label=label, **style)
        ax.set_ylabel(target)
    axes[0, 0].legend(fontsize=7, ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    axes[-1, 0].set_xlabel(f"seconds into {recording}")
    fig.suptitle(f"Predictions against the gold trace (seed 004 Fig. 5), {DATA}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return True


# -- speed and the receptive-field probe --------------------------------------------------------

def measured_speed(benchmarks_doc: Path) -> list[str]:
    """The results table of docs/benchmarks.md's seed 004 speed section, as it stands."""
    text = benchmarks_doc.read_text() if benchmarks_doc.is_file() else ""
    match = re.search(rf"^{re.escape(SPEED_SECTION)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if match is None:
        return ["(not measured yet: `python benchmarks/seed004_speed.py --rounds 5 --write`)"]
    return [line for line in match.group(1).splitlines() if line.startswith("|")]


def epoch_seconds_lines(runs: Path) -> list[str]:
    """Each fixed-split run's fitting time over its members' epochs (validation every epoch and the
    test prediction included)."""
    lines = ["| run | network | members | epochs (all members) | seconds per epoch |", "| --- | --- | --- | --- | --- |"]
    for target in TARGETS:
        for label, stem in NETWORKS:
            name = f"seed004-{stem}-{target}"
            path = runs / GROUP / name / "folds" / "00" / "predictions.json"
            if not (runs / GROUP / name / "results.json").is_file():
                continue
            fold = FoldResult.read(path)
            epochs = sum(m["epochs_run"] for m in fold.members or [])
            lines.append(f"| `{name}` | {label} | {len(fold.members or [])} | {epochs} | {fold.seconds / epochs:.2f} |")
    return lines


def receptive_lines(path: Path) -> list[str]:
    """The probe's table from docs/seed004-receptive.json."""
    if not path.is_file():
        return ["Not run yet: `nice -n 10 python benchmarks/seed004_receptive.py`."]
    return markdown_lines(json.loads(path.read_text()))


# -- the page -----------------------------------------------------------------------------------

def page(runs: Path, root: Path, smooth: dict[str, dict], predictions: bool,
         recording: str, start: float) -> str:
    lines = [
        "# Seed 004 on the semi-synthetic EMO-DB test bed",
        "",
        "Khorram et al. (Interspeech 2017) predict arousal and valence every 40 ms on RECOLA with dilated "
        "and down/up-sampling convolutional networks. RECOLA is licensed, so everything here runs on the "
        f"**{DATA}** that `serkit streams` builds from EMO-DB ([docs/streams.md](streams.md)): real acted speech joined "
        "into recordings of 1-5 minutes, with traces made from each utterance's label by a model of an "
        "annotator (2 s lag, 1 s smoothing, drift to neutral in pauses). No figure here is a figure on "
        "RECOLA or on real continuous ratings.",
        "",
        "What was run (one training thread each, on the 2-core development machine shared with other work):",
        "",
        f"- the test bed: `serkit streams --corpus emodb --root ../shared/data/emodb --out {root} --seed 0`;",
        f"- the 16 recipes of `recipes/seed004/`: `serkit cv --config recipes/seed004/NAME.yaml --root {root} "
        "--out runs/seed004/NAME --threads 1`;",
        "- the receptive-field probe: `nice -n 10 python benchmarks/seed004_receptive.py`;",
        f"- this page: `python benchmarks/seed004_analysis.py --root {root}`.",
        "",
        *seed004_lines(runs, "##"),
        "",
        "## Receptive field (Figure 1)",
        "",
        "`receptive_probe`: one centred filter of L stacked 40 ms frames, tanh, a linear output, in the "
        "fixed-split dilated recipe with the model swapped, trained on the 6 training speakers; each seed "
        "is scored on its own (not as an ensemble) on the 2 development speakers at the epoch they chose "
        "for it (as in the paper, which drew 10 seeds and lengths up to 2048). The test bed's traces rate what was said 2 s earlier and smooth it over about a "
        "second, so a centred filter reaches the speech it should rate only once half its length passes "
        "about 2 s (50 frames).",
        "",
        *receptive_lines(REPO / "docs" / "seed004-receptive.json"),
        "",
        "![receptive-field probe](seed004-receptive.png)",
        "",
        "## Label smoothness (Figure 4)",
        "",
        f"Every gold trace (training, development and test recordings) of the {trace_source(root)}: its share of power "
        "(mean removed, periodogram) under 1 Hz, and the CCC between the trace and a cubic spline through "
        "every k-th value (frames past the last kept value hold it). Cells: mean over traces (lowest trace). "
        "The paper, on RECOLA: more than 95% of the power under 1 Hz, and under 5% of CCC lost up to k = 64. "
        "**On these generated traces this measures the generator** (a 1 s one-pole smoothing of steps), "
        "not human raters; run `python benchmarks/seed004_analysis.py --root RECOLA_FOLDER --docs OUT` on real "
        "RECOLA-layout traces for the real figure.",
        "",
        *smoothness_lines(smooth),
        "",
        "![gold-trace smoothness](seed004-smoothness.png)",
        "",
        "## Predictions over 40 s (Figure 5) and roughness",
        "",
    ]
    if predictions:
        lines += [f"`{recording}` (a test speaker), {start:.0f} to {start + 40:.0f} s: the gold trace against "
                  "the fixed-split dilated and down/up ensembles (`runs/seed004/seed004-{dilated,updown}-"
                  "{arousal,valence}/folds/00/predictions.json`).", "",
                  "![predictions against the gold trace](seed004-predictions.png)", ""]
    else:
        lines += ["(The figure waits for the fixed-split dilated and down/up runs.)", ""]
    lines += [
        "Roughness = the mean absolute change from one 40 ms frame to the next, per second (trace units "
        "per second); the ratio is a prediction's roughness over its gold trace's, per test recording "
        "(1: as smooth as the gold trace, larger: rougher). The last column is the same recordings' share "
        "of power under 1 Hz. Rows appear as runs finish.",
        "",
        *roughness_lines(runs),
        "",
        "## Seconds per epoch",
        "",
        "The paper: one AVEC epoch in about 13 s on the convolutional network against 10 minutes on a BLSTM (46x) "
        "of about as many parameters (a GPU); issue 17 asks for convolutional epochs at least 10x faster. "
        "`benchmarks/seed004_speed.py` measured one training step on a 5-minute recording, one CPU thread, "
        "against two-layer BLSTMs of matched size ([docs/benchmarks.md](benchmarks.md), *Seed 004 training speed*; not "
        "rerun here):",
        "",
        *measured_speed(REPO / "docs" / "benchmarks.md"),
        "",
        "Each fixed-split run's own fitting time per epoch on the test bed (10 training recordings, 20.6 "
        "minutes; validating every epoch and predicting the test part included; the recipes' BLSTM has one "
        "layer of 20 cells per direction). The machine ran two jobs at once on its two cores, so these are "
        "rough:",
        "",
        *epoch_seconds_lines(runs),
        "",
    ]
    return "\n".join(lines)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=REPO / "runs")
    parser.add_argument("--root", type=Path, default=Path("/work/streams/emodb"),
                        help="a RECOLA-layout folder whose gold traces Figure 4 reads")
    parser.add_argument("--docs", type=Path, default=REPO / "docs", help="where the page and its figures go")
    parser.add_argument("--recording", default="test_1", help="Figure 5's test recording")
    parser.add_argument("--start", type=float, default=20.0, help="Figure 5's first second")
    args = parser.parse_args()
    smooth = smoothness(gold_traces(args.root))
    smoothness_plot(smooth, args.docs / "seed004-smoothness.png", trace_source(args.root))
    shown = predictions_plot(args.runs, args.recording, args.start, 40.0, args.docs / "seed004-predictions.png")
    text = page(args.runs, args.root, smooth, shown, args.recording, args.start)
    (args.docs / "seed004.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

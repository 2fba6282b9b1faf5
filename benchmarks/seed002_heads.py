"""Seed 002's three pooling heads beside the paper's Table 1, and whether they order as the paper's.

Li et al. (2018) found attention pooling best (UA 68.1 on IEMOCAP) ahead of GAP (67.5) and
bilinear pooling (64.2).  For one setting of the recipes (``--setting``: ``paper`` for
``seed002-cnn_tf-{gap,bilinear,attention}``, ``cheap`` or ``cheap-peak`` for the cheaper
variants) this reads the three runs under ``--runs`` (``runs/seed002/<recipe>/``: results.json and
the fold predictions, which stay on the machine that ran them), compares every pair of heads by a
paired speaker bootstrap of the pooled UA (``serkit compare``, saved to
``runs/seed002/comparisons/<candidate>-vs-<baseline>.json``), and says which differences are real:
a difference is called real when its 95% interval leaves out 0.

    python benchmarks/seed002_heads.py --setting cheap-peak [--runs runs] [--resamples 10000] [--write]

Prints the markdown; with ``--write`` replaces the section "The heads side by side (<setting>)" of
docs/seed002.md.  A head whose run has not finished is listed as not run; one whose fold
predictions are not on this machine shows its figures but is compared with nothing.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from machine import minutes_on, write_section  # benchmarks/machine.py
from results_table import SEED002_TABLE1, uncounted_minutes

from serkit.artifacts import CvResults
from serkit.errors import SerkitError
from serkit.evaluation import BootstrapConfig
from serkit.experiments.compare import compare_runs, write_comparison

REPO = Path(__file__).resolve().parents[1]
#: The heads in the paper's order of its Table 1, and what each setting appends to the recipe name.
HEADS = ("gap", "bilinear", "attention")
SETTINGS = {"paper": "", "cheap": "-cheap", "cheap-peak": "-cheap-peak"}
#: Where a head's recipe in a setting carries a fix of its own: the cheap-peak bilinear head with its
#: feature scale (chosen by seed002-cnn_tf-bilinear-cheap-peak-scale.yaml; docs/seed002.md).
OWN_RECIPES = {("bilinear", "cheap-peak"): "seed002-cnn_tf-bilinear-cheap-peak-scaled"}


def recipe(head: str, setting: str) -> str:
    return OWN_RECIPES.get((head, setting), f"seed002-cnn_tf-{head}{SETTINGS[setting]}")


def load(runs: Path, name: str) -> tuple[CvResults | None, bool]:
    """A run's results (None when it has not finished) and whether every fold's predictions are
    here to pair (they stay on the machine that ran it)."""
    folder = runs / "seed002" / name
    if not (folder / "results.json").is_file():
        return None, False
    results = CvResults.read(folder)
    return results, len(list(folder.glob("folds/*/predictions.json"))) == len(results.folds)


def compare_heads(runs: Path, setting: str, bootstrap: BootstrapConfig) -> tuple[dict, list[dict]]:
    """Each finished head's results, and the comparison of every pair whose predictions are here
    (the better by pooled UA first)."""
    loaded = {head: load(runs, recipe(head, setting)) for head in HEADS}
    results = {head: r for head, (r, _) in loaded.items() if r is not None}
    comparisons = []
    for a, b in itertools.combinations([head for head, (_, paired) in loaded.items() if paired], 2):
        better, worse = (a, b) if results[a].pooled["ua"] >= results[b].pooled["ua"] else (b, a)
        folders = [runs / "seed002" / recipe(head, setting) for head in (better, worse)]
        compared = compare_runs([folders[0]], [folders[1]], "ua", bootstrap)
        write_comparison(compared, runs / "seed002" / "comparisons" /
                         f"{recipe(better, setting)}-vs-{recipe(worse, setting)}.json")
        comparisons.append({"better": better, "worse": worse, **compared})
    return results, comparisons


def real(comparison: dict) -> bool:
    return comparison["ci95"][0] > 0


def verdict(results: dict, comparisons: list[dict]) -> str:
    """The answer to the issue's question: does attention beat GAP and bilinear here?"""
    if len(results) < len(HEADS):
        return "Not all three heads have run in this setting, so the question stays open."
    if len(comparisons) < len(HEADS):
        return ("Not every pair could be compared (fold predictions stay on the machine that ran a run), "
                "so the question stays open.")
    order = sorted(results, key=lambda head: -results[head].pooled["ua"])
    against = [c for c in comparisons if "attention" in (c["better"], c["worse"])]
    wins = [c for c in against if c["better"] == "attention" and real(c)]
    ranked = " > ".join(order)
    if len(wins) == 2:
        answer = "Attention pooling beats both other heads here, as in the paper, and both differences are real."
    elif order[0] == "attention":
        answer = ("Attention pooling comes first here as in the paper, but not every difference is real: "
                  "another draw of speakers could reorder them.")
    else:
        lost = [c for c in against if c["worse"] == "attention" and real(c)]
        answer = (f"Attention pooling does not come first here ({'a real loss' if lost else 'within chance'} "
                  f"against {', '.join(c['better'] for c in against if c['worse'] == 'attention')}).")
    return f"Pooled UA orders the heads {ranked}. {answer}"


def markdown(setting: str, results: dict, comparisons: list[dict], uncounted: dict[str, float] | None = None) -> str:
    """The section; ``uncounted``: per head, minutes of resumed folds' earlier calls that the run's
    processor time leaves out (folds resumed before 2026-12-07)."""
    uncounted = uncounted or {}
    lines = [f"## The heads side by side ({setting})", "",
             f"`python benchmarks/seed002_heads.py --setting {setting} --write`: EMO-DB 4class, "
             "leave-one-speaker-out, figures pooled over every test utterance; the paper's are IEMOCAP "
             "(4 classes, 10-fold), a reference rather than a target. Minutes: processor minutes where the run "
             "recorded them (with the wall minutes of a resumed fold's earlier calls where their processor time "
             "was not kept), else wall minutes.", "",
             "| head | recipe | paper UA / WA | UA | WA | UA mean (std) over folds | validation UA | minutes |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for head in HEADS:
        paper = " / ".join(SEED002_TABLE1[head])
        r = results.get(head)
        if r is None:
            lines.append(f"| {head} | `{recipe(head, setting)}` | {paper} | not run yet | | | | |")
            continue
        validation = "-" if r.validation_ua is None else f"{100 * r.validation_ua:.1f}"
        lines.append(f"| {head} | `{r.recipe}` | {paper} | **{100 * r.pooled['ua']:.1f}** | {100 * r.pooled['wa']:.1f} "
                     f"| {100 * r.mean['ua']:.1f} ({100 * r.std['ua']:.1f}) | {validation} | {minutes_on((r.cpu_seconds or r.seconds) / 60 + uncounted.get(head, 0.0), r.machines)} |")
    if comparisons:
        lines += ["", "Each pair by a paired speaker bootstrap of the pooled UA "
                  f"({comparisons[0]['n_resamples']} resamples of the {comparisons[0]['n_speakers']} speakers):", "",
                  "| better by UA | against | difference (points) | 95% interval | not better in | real |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for c in comparisons:
            low, high = (100 * x for x in c["ci95"])
            lines.append(f"| {c['better']} | {c['worse']} | {100 * c['difference']:+.1f} | {low:+.1f} .. {high:+.1f} "
                         f"| {100 * c['p_not_better']:.1f}% | {'yes' if real(c) else 'no'} |")
    return "\n".join(lines + ["", verdict(results, comparisons), ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="cheap-peak")
    parser.add_argument("--runs", type=Path, default=REPO / "runs")
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--write", action="store_true", help="replace the section of docs/seed002.md")
    args = parser.parse_args()
    try:
        results, comparisons = compare_heads(args.runs, args.setting, BootstrapConfig(n_resamples=args.resamples))
    except SerkitError as error:
        raise SystemExit(f"seed002_heads: {error}") from None
    uncounted = {head: uncounted_minutes(args.runs / "seed002" / recipe(head, args.setting)) for head in results}
    text = markdown(args.setting, results, comparisons, uncounted)
    if args.write:
        write_section(text.splitlines()[0][3:], text, REPO / "docs" / "seed002.md")
    print(text)


if __name__ == "__main__":
    main()

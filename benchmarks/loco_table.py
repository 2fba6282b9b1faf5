"""Issue 18's cross-corpus table: every ``runs/product/loco-*`` run, UA per target corpus and their mean.

Used by ``benchmarks/results_table.py``, which writes it into docs/results.md.  Under ``loco`` each
of EMO-DB, nEMO and ASED is tested on a model trained (and chosen) on the other two; the figures are
development figures (a configuration may be chosen by them), the corpora serkit never saw are the
test.  A row says whether the target corpus was standardised by its own statistics (declared
label-free adaptation, ``normalisation: per-corpus``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from machine import minutes_on  # benchmarks/machine.py

from serkit.artifacts import CvResults

GROUP = "product"
CORPORA = ("emodb", "nemo", "ased")
#: Issue 18's goals for the mean UA over the three target corpora.
GOALS = {"accurate": 0.65, "default": 0.55, "adapted": 0.72}


def loco_runs(runs: Path) -> list[tuple[str, CvResults]]:
    found = sorted((runs / GROUP).glob("loco-*/results.json"))
    return [(path.parent.name, CvResults.read(path)) for path in found]


def target_ua(result: CvResults) -> dict[str, float]:
    """Each target corpus's UA (its fold's; every fold tests one corpus)."""
    return {corpus: fold["ua"] for fold in result.folds for corpus in fold.get("test_corpora", [])}


def chosen_layers(result: CvResults) -> str:
    """The Whisper layers the folds chose (``all``: every layer side by side), or ``-``."""
    chosen = [fold.get("chosen") or {} for fold in result.folds]
    layers = Counter("all" if c["layer"] is None else str(c["layer"]) for c in chosen if "layer" in c)
    if layers:
        return ", ".join(f"{layer} ({n})" for layer, n in sorted(layers.items()))
    fixed = result.config.get("layer")
    return "-" if fixed is None else "+".join(map(str, [fixed] if isinstance(fixed, int) else fixed)) + " (fixed)"


def chosen_on_these(result: CvResults) -> bool:
    """Whether the row's configuration was chosen by loco figures (its recipe says so)."""
    return "chosen by loco" in (result.reproduces or "")


def goal(result: CvResults) -> float | None:
    """Issue 18's goal for the row (its goals are for 4 classes)."""
    if len(result.labels) != 4:
        return None
    if result.normalisation == "per-corpus":
        return GOALS["adapted"]
    return GOALS["accurate"] if "whisper-base" in str(result.features) else GOALS["default"]


def loco_lines(runs: Path, heading: str = "##") -> list[str]:
    rows = loco_runs(runs)
    lines = [
        f"{heading} Cross-corpus: leave one corpus out over EMO-DB, nEMO and ASED (issue 18)",
        "",
        "Protocol **loco**, 4 classes (anger, happiness, neutral, sadness) unless a row says 5 (fear too): each corpus is tested on a model "
        "trained on the other two and never on itself; the epoch (neural) or the layer and cost (Whisper + "
        "logistic, `inner_cv: corpora`: each training corpus left out in turn) are chosen on the training "
        "corpora only. **Development figures**: configurations are chosen by them; the corpora serkit never "
        "saw are the test. *Adapted*: each corpus standardised by its own statistics (no labels; declared). "
        "UA in % per target corpus; *mean* is the mean over the three. Recipes: `recipes/product/loco-*.yaml`; "
        "command: `SERKIT_CORPORA=/work/corpora serkit cv --config recipes/product/NAME.yaml "
        "--out runs/product/NAME --threads 1` (nEMO and ASED extracted by `tools/extract_corpora.py`).",
        "",
        "| recipe | classes | model | features | adapted | " + " | ".join(CORPORA) + " | mean | goal | layers chosen | minutes |",
        "|---" * (9 + len(CORPORA)) + "|",
    ]
    for name, result in rows:
        ua = target_ua(result)
        cells = [f"{100 * ua[c]:.1f}" if c in ua else "-" for c in CORPORA]
        mean = sum(ua.values()) / len(ua) if ua else None
        target = goal(result)
        verdict = "-" if target is None else f"{100 * target:.0f}" + (
            "" if mean is None else " (met)" if mean >= target else " (missed)")
        marked = "\\*" if chosen_on_these(result) else ""
        lines.append(
            f"| {name} | {len(result.labels)} | {result.model} | {result.features} | {'yes' if result.normalisation == 'per-corpus' else 'no'}"
            f" | {' | '.join(cells)} | **{'-' if mean is None else f'{100 * mean:.1f}'}**{marked} | {verdict}"
            f" | {chosen_layers(result)} | {minutes_on(result.seconds / 60, result.machines)} |")
    if not rows:
        lines.append("| (no loco run yet) |" + " |" * (8 + len(CORPORA)))
    lines += ["", "\\* The row's configuration (its layers and cost) was chosen by these figures among the variants "
              "of [loco-variants.md](loco-variants.md) (Whisper base) or [loco-variants-tiny.md](loco-variants-tiny.md) (tiny.en): an upward-biased development figure. The rows without a "
              "star choose inside each fold on the training corpora only, fixed it before any figure (layers23), or (5 classes) reuse the 4-class choice."]
    return lines

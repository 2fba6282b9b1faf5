"""Seed 004's Tables 1 and 2 (Khorram et al. 2017: arousal and valence, development and test RMSE / CCC)
from runs/seed004/, beside the paper's.

Used by ``benchmarks/results_table.py``, which writes them into docs/results.md and
recipes/seed004/README.md, and by ``benchmarks/seed004_analysis.py`` (docs/seed004.md).  Our
development figures are the fixed split's fold 0 ``validation_figures`` (the ensemble on the 2
development speakers, which also stopped training, as in the paper); test figures are pooled over
every frame of the 2 test speakers; the ``-kfold5`` runs' CCC is pooled over every speaker with the
mean and std over the 5 folds beside it.
"""

from __future__ import annotations

from pathlib import Path

from machine import minutes_on  # benchmarks/machine.py

from serkit.artifacts import CvResults

GROUP = "seed004"
DATA = "semi-synthetic EMO-DB test bed (RECOLA in the paper)"
ROOT = "/work/streams/emodb"
TARGETS = ("arousal", "valence")
#: The table rows: (label, recipe stem), the stem completed by ``-<target>`` and a suffix.
METHODS = (("BLSTM", "blstm"), ("Dilated", "dilated"), ("Down/Up", "updown"))
#: The paper's figures (RECOLA, audio only): dev RMSE, dev CCC, test RMSE, test CCC.
PAPER = {
    "arousal": {"blstm": (".103", ".853", ".143", ".664"), "dilated": (".102", ".857", ".137", ".684"),
                "updown": (".100", ".867", ".137", ".681")},
    "valence": {"blstm": (".113", ".518", ".116", ".499"), "dilated": (".117", ".538", ".121", ".486"),
                "updown": (".107", ".592", ".117", ".502")},
}
#: Issue 17's goals on held-out speakers of the test bed (CCC).
GOALS = {"arousal": 0.80, "valence": 0.50}
#: Variants with recipes: per-speaker normalisation (the paper's speaker z-normalisation) for the
#: convolutional networks only.
ZNORM = ("dilated", "updown")
#: The suffix of rows whose input is Whisper tiny.en's layer 2 at 40 ms (``whisper-tiny.en-40ms``).
WHISPER = "-whisper"


def recipe_name(method: str, target: str, suffix: str = "") -> str:
    return f"seed004-{method}-{target}{suffix}"


def command(name: str) -> str:
    return f"serkit cv --config recipes/{GROUP}/{name}.yaml --root {ROOT} --out runs/{GROUP}/{name} --threads 1"


def load(runs: Path, name: str) -> CvResults | None:
    path = runs / GROUP / name / "results.json"
    return CvResults.read(path) if path.is_file() else None


def figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def development(result: CvResults, target: str) -> tuple[str, str]:
    """(RMSE, CCC) on the development speakers: fold 0's ensemble, as the fixed split records it."""
    figures = result.folds[0].get("validation_figures") or {}
    return figure(figures.get(f"rmse_{target}")), figure(figures.get(f"ccc_{target}"))


def kfold_cell(runs: Path, method: str, target: str, suffix: str = "") -> tuple[str, CvResults | None]:
    """The speaker-kfold:5 run's pooled CCC (mean ± std over folds), and the run (None: not run);
    "-" for a row without a speaker-kfold:5 recipe."""
    name = recipe_name(method, target, f"{suffix}-kfold5")
    if suffix and not recipe_path_exists(method, target, f"{suffix}-kfold5"):
        return "-", None
    result = load(runs, name)
    if result is None:
        return f"not run: `{command(name)}`", None
    std = result.std.get(f"ccc_{target}")
    spread = "" if std is None else f" ± {std:.3f}"
    return f"{figure(result.pooled[f'ccc_{target}'])} ({figure(result.mean[f'ccc_{target}'])}{spread})", result


def method_row(runs: Path, label: str, method: str, target: str, suffix: str = "") -> str:
    name = recipe_name(method, target, suffix)
    paper = " | ".join(PAPER[target][method])
    kfold, kfold_result = kfold_cell(runs, method, target, suffix)
    result = load(runs, name)
    ran = [r for r in (result, kfold_result) if r is not None]
    minutes = minutes_on(sum(r.seconds for r in ran) / 60, [m for r in ran for m in r.machines or ()], 1) if ran else ""
    if result is None:
        return f"| {label} | `{name}` | not run: `{command(name)}` | | | | {kfold} | {minutes} | {paper} |"
    dev_rmse, dev_ccc = development(result, target)
    return (f"| {label} | `{name}` | {dev_rmse} | {dev_ccc} | {figure(result.pooled[f'rmse_{target}'])} | "
            f"**{figure(result.pooled[f'ccc_{target}'])}** | {kfold} | {minutes} | {paper} |")


def target_table(runs: Path, target: str) -> list[str]:
    lines = [
        "| method | recipe | dev RMSE | dev CCC | test RMSE | test CCC | speaker-kfold:5 CCC pooled (fold mean ± std) "
        "| minutes | paper dev RMSE | paper dev CCC | paper test RMSE | paper test CCC |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [method_row(runs, label, method, target) for label, method in METHODS]
    lines += [method_row(runs, f"{label}, speaker z-norm", method, target, "-speaker-znorm")
              for label, method in METHODS if method in ZNORM]
    # depth, width and learning rate searched on the development speakers, as the paper chose its settings
    lines += [method_row(runs, f"{label}, searched on dev", method, target, "-tuned")
              for label, method in METHODS if method in ZNORM and recipe_path_exists(method, target, "-tuned")]
    # another input: Whisper tiny.en's layer 2 at 40 ms in place of the filterbanks
    lines += [method_row(runs, f"{label}, Whisper tiny.en layer 2 input", method, target, WHISPER)
              for label, method in METHODS if recipe_path_exists(method, target, WHISPER)]
    return lines


def chosen_line(runs: Path, target: str) -> str:
    """Which fixed-split row the development speakers choose (the highest dev CCC), and its test CCC."""
    rows = []
    for _, method in METHODS:
        for suffix in ("", "-speaker-znorm", "-tuned", WHISPER):
            result = load(runs, recipe_name(method, target, suffix)) if recipe_path_exists(method, target, suffix) else None
            dev = None if result is None else (result.folds[0].get("validation_figures") or {}).get(f"ccc_{target}")
            if dev is not None:
                rows.append((dev, recipe_name(method, target, suffix), result.pooled[f"ccc_{target}"]))
    if not rows:
        return ""
    dev, name, test = max(rows)
    verdict = "meets" if test >= GOALS[target] else "misses"
    return (f"Chosen on the development speakers (highest dev CCC of the rows above): `{name}`, dev CCC {dev:.3f}; "
            f"its test CCC {test:.3f} {verdict} issue 17's goal of {GOALS[target]:.2f}.")


def recipe_path_exists(method: str, target: str, suffix: str) -> bool:
    return (Path(__file__).resolve().parent.parent / "recipes" / "seed004" / f"{recipe_name(method, target, suffix)}.yaml").is_file()


def seed004_lines(runs: Path, heading: str = "##") -> list[str]:
    """The seed 004 section: Table 1 (arousal) and Table 2 (valence), ours beside the paper's."""
    lines = [
        f"{heading} Seed 004: time-continuous arousal and valence (dilated and down/up-sampling CNNs, BLSTM)",
        "",
        f"Data: the **{DATA}**: `serkit streams --corpus emodb --root ../shared/data/emodb --out {ROOT} --seed 0` "
        "joins each EMO-DB speaker's utterances into recordings of 1-5 minutes and makes arousal and valence "
        "traces every 40 ms from the labels' places through a model of an annotator (docs/streams.md). Real "
        "speech, made traces: the ceiling is a CCC of 1, and nothing here is a figure on RECOLA, whose numbers "
        "stand beside ours for reference. Fixed split (`predefined`): 6 training speakers, 2 development "
        "speakers that stop training and choose the epoch, 2 test speakers; `-kfold5` runs test every speaker "
        "once (`speaker-kfold:5`, 2 of the other 8 speakers validating). 40 log filterbanks stacked 4 to "
        "40 ms (the `Whisper` rows: Whisper tiny.en's encoder layer 2, two 20 ms frames stacked to 40 ms, "
        "not the paper's input), CCC loss, whole recordings one per step, an ensemble of 5 seeds (their predictions "
        "averaged); traces and RMSE on [-1, 1]. Dev = the ensemble on the development speakers; test = "
        "pooled over every test frame. `speaker z-norm` rows normalise each speaker by their own statistics "
        "(the paper's setting, a declared variant); the others by the training part's. Minutes: one "
        "training thread, the fixed split and the `-kfold5` run together. Issue 17's goals on held-out "
        f"speakers: arousal CCC at least {GOALS['arousal']:.2f}, valence at least {GOALS['valence']:.2f}. "
        "Figures, the smoothness analysis and the receptive-field probe: `docs/seed004.md`.",
        "",
        f"**Table 1, arousal**, on the {DATA}:",
        "",
        *target_table(runs, "arousal"),
        "",
        chosen_line(runs, "arousal"),
        "",
        f"**Table 2, valence**, on the {DATA}:",
        "",
        *target_table(runs, "valence"),
        "",
        chosen_line(runs, "valence"),
    ]
    return lines

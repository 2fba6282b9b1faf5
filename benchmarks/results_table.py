"""Build docs/results.md and each recipes/<group>/README.md from the cross-validation runs.

Recipes are grouped by what they reproduce (``recipes/<group>/NAME.yaml``: seed000, seed001, seed002,
seed003, seed004, baselines, product) and each run sits in the same group, ``runs/<group>/NAME/``.
Every row names its recipe, protocol and the command that produced it; a
recipe not yet run says so, with an estimate of its cost on this machine.
The paper's figure sits beside ours where the paper has one.

    python benchmarks/results_table.py [--runs runs] [--out docs/results.md] [--recipes recipes]

Each row's command is ``serkit cv --config recipes/GROUP/NAME.yaml --root ../shared/data/emodb
--out runs/GROUP/NAME --threads 1`` (rerunning it resumes an unfinished run).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from seed001_table import seed001_lines, transfer_plot
from seed004_table import seed004_lines
from loco_table import loco_lines
from machine import minutes_on

from serkit.artifacts import CvResults
from serkit.experiments import load_recipe

REPO = Path(__file__).resolve().parents[1]

#: Seed 000 Table I (EMO-DB, 4 classes, random 5-fold, accuracy = WA).
SEED000_TABLE1 = {
    ("cnn", "spectrogram"): "53.11 (3.86)", ("blstm", "spectrogram"): "31.58 (5.63)",
    ("cnn_blstm", "spectrogram"): "65.71", ("cnn", "logmel"): "78.16 (3.87)",
    ("blstm", "logmel"): "51.90 (4.28)", ("cnn_blstm", "logmel"): "71.97 (3.42)",
    ("cnn", "mfcc"): "74.93 (2.09)", ("blstm", "mfcc"): "66.61 (8.40)", ("cnn_blstm", "mfcc"): "82.35",
}

#: Minutes per 5-fold run on this 2-core machine with one training thread, as measured for
#: the rows that ran (cnn_tf: one measured epoch of the cheap variant, scaled to its 10 epochs and
#: halved training windows); leave-one-speaker-out has
#: twice the folds.  For rows not yet run.
ESTIMATE_MINUTES = {"blstm": 5, "cnn": 15, "cnn_blstm": 20, "cnn_tf": 37, "svm": 2, "majority": 1,
                    # Whisper probes, per layer searched (features from the cache): gru measured on fold 1.
                    "gru": 30, "linear": 2, "layer_weighted": 5, "logistic": 10}
#: Minutes for a whole run where the family's figure does not fit, as measured (no bf16 factor applied):
#: seed 002's paper setting (full 400 x 200 input, 1 s training hop, 50 epochs, bf16): fold 00 of
#: seed002-cnn_tf-attention took about 19 CPU-minutes (fold 08: epochs 5-50 at 0.38 CPU-minutes each)
#: with the masked batch norm of commit 9eb9d81 (24 with that of d8f70b6); 10 folds.
ESTIMATE_RECIPE_MINUTES = {f"seed002-cnn_tf-{head}": 190 for head in ("gap", "bilinear", "attention")}
# loco over EMO-DB, nEMO and ASED: one epoch of the fold testing EMO-DB (4224 training and 816 validation
# utterances) took 139 s with --threads 1; about 20 epochs a fold, the other folds train on fewer.
ESTIMATE_RECIPE_MINUTES |= {f"loco-cnn-logmel{v}": 110 for v in ("", "-balanced", "-per-corpus", "-5class")}
ESTIMATE_RECIPE_MINUTES |= {f"loco-whisper-base-logistic{v}": 40 for v in ("", "-per-corpus")}
# seed 003's recognizer: about 5.1 CPU-minutes an epoch on all of LibriSpeech mini's training part
ESTIMATE_RECIPE_MINUTES |= {"seed003-ds2-librispeech-quarter": 45, "seed003-ds2-librispeech-sgd": 180}

#: How much faster a bf16 recipe trains on a CPU with native bf16 (docs/benchmarks.md, "CPU training steps").
BF16_SPEEDUP = 1.5

SEED000_RUNS = tuple(f"seed000-{m}-{f}" for f in ("spectrogram", "logmel", "mfcc") for m in ("cnn", "blstm", "cnn_blstm"))

LOSO_ROWS = (
    "baseline-majority", "baseline-svm-egemaps", "baseline-svm-compare",
    "loso-blstm-mfcc", "loso-blstm-mfcc-aug", "loso-blstm-mfcc-ens3", "loso-blstm-mfcc-perspeaker",
    "loso-blstm-spectrogram",
    "loso-cnn-logmel", "loso-cnn-mfcc", "loso-cnn_blstm-mfcc",
    "seed002-cnn_tf-gap-cheap", "seed002-cnn_tf-bilinear-cheap", "seed002-cnn_tf-attention-cheap",
    "seed002-cnn_tf-gap-cheap-recal",
    *(f"seed002-cnn_tf-{head}-cheap-peak" for head in ("gap", "bilinear", "attention")),
    "emodb-4class-best",
)
SEVEN_CLASS_ROWS = ("emodb-7class-best", "baseline-svm-compare-7class")


#: The folders of recipes/ (and runs/), in the order docs/results.md lists them: what each
#: reproduces.  ``paper`` is the source's title and authors, ``table`` what of it the folder's
#: recipes reproduce.
GROUPS = {
    "seed000": {
        "title": "Seed 000: CNN, BLSTM and CNN+BLSTM on spectrogram, log-mel and MFCC",
        "paper": "Pandey, Shekhawat, Prasanna: *Deep Learning Techniques for Speech Emotion Recognition: "
                 "A Review* (`../shared/seeds/000_15ca1ff1e25ba65a.txt`)",
        "table": "Table I (EMO-DB, 4 classes, 5-fold cross-validation, accuracy = WA): the nine model-feature "
                 "pairs under the paper's protocol (`seed000-*`), and the best of them under "
                 "leave-one-speaker-out with serkit's variants (`loso-*`: augmentation, an ensemble, "
                 "per-speaker normalisation). The paper's figure beside a `loso-*` row is its random-fold "
                 "figure for the same pair: the protocols differ.",
    },
    "seed001": {
        "title": "Seed 001: a frame-level ConvNet for emotion and for phones, and transfer between them",
        "paper": "Fayek, Lech, Cavedon: *On the Correlation and Transferability of Features between Automatic "
                 "Speech Recognition and Speech Emotion Recognition* (`../shared/seeds/001_ff937055bf151c0a.txt`)",
        "table": "Tables 2 and 3 and Figure 3 (the Table 1 ConvNet trained for phones and for emotion, then each "
                 "one's layers 1-5 under the other task's output layer with the first l held constant, l = 0..5). "
                 "The paper ran TIMIT and IEMOCAP; these recipes run EMO-DB's lablaut phones and its 4 emotion "
                 "classes on the same speaker-and-sentence-independent folds.",
    },
    "seed002": {
        "title": "Seed 002: time/frequency CNN with GAP, bilinear and attention pooling",
        "paper": "Li, Song, McLoughlin, Guo, Dai: *An Attention Pooling based Representation Learning Method "
                 "for Speech Emotion Recognition* (Interspeech 2018; `../shared/seeds/002_f79d6b8b0c794e95.txt`)",
        "table": "Table 1 (CNN_TF_GAP, CNN_TF_Bilinear, CNN_TF_Att.pooling; UA and WA). The paper ran IEMOCAP "
                 "(4 classes, 10-fold); these recipes run EMO-DB, 4 classes, leave-one-speaker-out, so its "
                 "figures are a reference, not a target. `seed002-cnn_tf-{gap,bilinear,attention}` are the "
                 "paper's setting; the `-cheap` recipes serkit's cheaper variant (800-point DFT, 2 s training "
                 "hop, 10 epochs), `-cheap-recal` with batch-norm statistics re-estimated every epoch.",
    },
    "seed003": {
        "title": "Seed 003: emotion from a speech recognizer's layers (MP-x, RNN-x, progressive net), over "
                 "serkit's own CTC recognizer and over OpenAI Whisper",
        "paper": "Lakomkin, Weber, Magg, Wermter: *Reusing Neural Speech Representations for Auditory Emotion "
                 "Recognition* (`../shared/seeds/003_f96c6d32544cd330.txt`)",
        "table": "Table 1 (the BiGRU baseline at 64, 96 and 128 units; Fine-tuning MP-x, Fine-tuning RNN-x and "
                 "Progressive net-x over layer x = 1..3 of a frozen CTC recognizer; U-Acc, W-Acc, F1). The paper's "
                 "recognizer is its own DeepSpeech2-like model and its emotion corpus IEMOCAP. The `seed003-ds2-*` "
                 "recipes use serkit's DeepSpeech2-like recognizer (`recognizer-seed003`, trained on 1.7 h of "
                 "LibriSpeech mini by `seed003-ds2-librispeech`), the `seed003-whisper-*` recipes OpenAI Whisper's "
                 "encoder layers (tiny.en, base) in its place; all on EMO-DB 4class under leave-one-speaker-out, "
                 "so the paper's figure beside a row is the same head on another recognizer and corpus.",
    },
    "seed004": {
        "title": "Seed 004: time-continuous arousal and valence with dilated and down/up-sampling CNNs",
        "paper": "Khorram, Aldeneh, Dimitriadis, McInnis, Mower Provost: *Capturing Long-term Temporal "
                 "Dependencies with Convolutional Networks for Continuous Emotion Recognition* (Interspeech 2017; "
                 "`../shared/seeds/004_8b25a1231c82e6a8.txt`)",
        "table": "Tables 1 and 2 (arousal and valence: BLSTM, Dilated, Down/Up; development and test RMSE and CCC). "
                 "The paper ran RECOLA (AVEC 2016); these recipes run the semi-synthetic EMO-DB test bed "
                 "(`serkit streams`, docs/streams.md) on its fixed split and under speaker-kfold:5, so its figures "
                 "are a reference, not a target.",
    },
    "baselines": {
        "title": "Baselines: majority class, ComParE and eGeMAPS functionals with a linear SVM",
        "paper": "none of the five papers: the reference points any of them must beat",
        "table": "EMO-DB under leave-one-speaker-out, 4 classes (and ComParE on 7). The openSMILE functionals "
                 "with a linear SVM are the usual baseline of the SER literature.",
    },
    "product": {
        "title": "Product: the best configurations, and the recipes of the shipped models",
        "paper": "seed 003's MP-x with OpenAI Whisper base (see `recipes/seed003/`), chosen on training "
                 "speakers among every configuration run",
        "table": "no paper table: serkit's goals (issue 5): pooled UA at least 95% on EMO-DB's 4 classes and "
                 "90% on its 7, under leave-one-speaker-out. `emodb-4class-best` and `emodb-7class-best` are "
                 "configurations identical to `seed003-whisper-base-mp-logistic` and "
                 "`seed003-whisper-base-mp-svm-7class` (same configuration hash). `loco-*` (issue 18): the default "
                 "(`loco-whisper-tiny-*`; the EMO-DB-only default's CNN: `loco-cnn-*`) and accurate (`loco-whisper-base-*`) models' configurations under leave-one-corpus-out "
                 "over EMO-DB, nEMO and ASED; their figure is "
                 "the mean over the three target corpora (`report.md` lists each), a development figure.",
    },
}


# where each corpus a recipe reads sits on these machines (streams: made by `serkit streams`)
CORPUS_ROOTS = {"emodb": "../shared/data/emodb", "librispeech": "../shared/data/librispeech-mini/LibriSpeech",
                "recola": "/work/streams/emodb"}


def recipe_path(name: str, recipes: Path | None = None) -> Path | None:
    """``recipes/<group>/NAME.yaml``, wherever its group is; None for a recipe not (or no longer) written."""
    found = sorted((recipes or REPO / "recipes").glob(f"*/{name}.yaml"))
    return found[0] if found else None


def group_of(name: str, runs: Path | None = None) -> str:
    """The folder a recipe (or, for a deleted recipe, its run) sits in."""
    if (path := recipe_path(name)) is not None:
        return path.parent.name
    found = sorted((runs or REPO / "runs").glob(f"*/{name}/results.json"))
    return found[0].parent.parent.name if found else "unknown"


def command(name: str) -> str:
    group = group_of(name)
    path = recipe_path(name)
    if path is not None and len(load_recipe(path).corpora) > 1:  # several corpora: roots in the recipe
        return (f"SERKIT_CORPORA=/work/corpora serkit cv --config recipes/{group}/{name}.yaml "
                f"--out runs/{group}/{name} --threads 1")
    corpus = load_recipe(path).corpora[0] if path is not None else "emodb"
    return (f"serkit cv --config recipes/{group}/{name}.yaml --root {CORPUS_ROOTS.get(corpus, CORPUS_ROOTS['emodb'])} "
            f"--out runs/{group}/{name} --threads 1")


def load(runs: Path, name: str) -> dict | None:
    path = runs / group_of(name, runs) / name / "results.json"
    return read_results(path)


def seed_repeats(runs: Path, name: str) -> list[tuple[int, dict]]:
    """The same recipe run again with ``--seed K --out runs/<group>/<name>-seedK``: (K, results)."""
    found = []
    for path in sorted((runs / group_of(name, runs)).glob(f"{name}-seed*/results.json")):
        seed = path.parent.name.removeprefix(f"{name}-seed")
        if seed.isdigit():
            found.append((int(seed), read_results(path)))
    return found


def seeds_row(runs: Path, name: str, first: dict) -> str | None:
    """A recipe's figures as mean and std over its seeds (seed 0 is the recipe's own run), or None."""
    repeats = seed_repeats(runs, name)
    if not repeats:
        return None
    results = [first, *(r for _, r in repeats)]
    seeds = ", ".join(map(str, [0, *(k for k, _ in repeats)]))
    ua, wa, f1 = (np.array([r["pooled"][key] for r in results]) for key in ("ua", "wa", "f1"))
    out = f"--out runs/{group_of(name, runs)}/{name}"
    again = f"`{command(name).replace(out, out + '-seedK')} --seed K` (K = {seeds.split(', ', 1)[1]})"
    return (f"| {name}, seeds {seeds} | {first['protocol']} | {first['class_set']} | {first['model']} | "
            f"{first['features']} | mean (std) of {len(results)} | **{pct(ua.mean())}** ({pct(ua.std(ddof=1))}) | "
            f"{pct(wa.mean())} ({pct(wa.std(ddof=1))}) | {pct(f1.mean())} ({pct(f1.std(ddof=1))}) | (over seeds) | "
            f"{sum(r['seconds'] for r in results) / 60:.0f} | {again} |")


def fold_spread(r: dict) -> str:
    """UA / WA / F1 as the mean (std) over a run's folds."""
    return " / ".join(f"{pct(r['mean'][k])} ({pct(r['std'][k])})" if k in r.get("std", {}) else pct(r["mean"][k])
                      for k in ("ua", "wa", "f1"))


def read_results(path: Path) -> dict | None:
    """A run's results.json, read through its schema (serkit.artifacts.CvResults), or None."""
    return CvResults.read(path).to_dict() if path.exists() else None


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def estimate(name: str) -> str:
    recipe = recipe_path(name)
    if recipe is None:
        return "recipe not written yet"
    import yaml

    spec = yaml.safe_load(recipe.read_text())
    family = "cnn_tf" if spec["model"].startswith("cnn_tf") else spec["model"]
    folds = 2 if spec.get("protocol", "loso") == "loso" else 1
    minutes = ESTIMATE_RECIPE_MINUTES.get(name)
    if minutes is None:
        minutes = folds * ESTIMATE_MINUTES.get(family, 30)
        if (spec.get("train") or {}).get("precision") == "bfloat16":
            minutes = round(minutes / BF16_SPEEDUP)
    return f"not run yet (about {minutes} min)"


def estimated_minutes(name: str) -> int:
    """The minutes :func:`estimate` gives a recipe not run yet."""
    return int(estimate(name).split("about ")[1].split(" ")[0])


def seed000_section(runs: Path) -> list[str]:
    lines = [
        "## Seed 000, Table I: nine model-feature pairs under the paper's protocol",
        "",
        "EMO-DB, 4 classes (anger, happiness, neutral, sadness; 339 utterances). Protocol "
        "**random-kfold:5 (speaker-dependent)**: stratified random folds that let a speaker sit on "
        "both sides, as the paper ran it; no validation part, the 20th epoch is kept. "
        "Figures are WA in % (the paper's accuracy); ours pooled over folds, then mean (std) over folds.",
        "",
        "| model | feature | paper WA (std) | serkit WA pooled | WA mean (std) | UA pooled | minutes | command |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for feature in ("spectrogram", "logmel", "mfcc"):
        for model in ("cnn", "blstm", "cnn_blstm"):
            name = f"seed000-{model}-{feature}"
            r = load(runs, name)
            paper = SEED000_TABLE1[(model, feature)]
            if r is None:
                lines.append(f"| {model} | {feature} | {paper} | {estimate(name)} | | | | `{command(name)}` |")
                continue
            lines.append(
                f"| {model} | {feature} | {paper} | {pct(r['pooled']['wa'])} | {pct(r['mean']['wa'])} "
                f"({pct(r['std']['wa'])}) | {pct(r['pooled']['ua'])} | {minutes_on(r['seconds'] / 60, r.get('machines'))} | `{command(name)}` |"
            )
    return [*lines, "", three_best(runs)]


def best_seed000(runs: Path) -> list[str]:
    """Seed 000's three best runs by pooled WA under its own protocol (of those that ran)."""
    ran = {name: r["pooled"]["wa"] for name in SEED000_RUNS if (r := load(runs, name)) is not None}
    return sorted(ran, key=ran.get, reverse=True)[:3]


def three_best(runs: Path) -> str:
    """Which of the nine move to leave-one-speaker-out: the three best by this table's WA."""
    ran = {name: r["pooled"]["wa"] for name in SEED000_RUNS if (r := load(runs, name)) is not None}
    best = best_seed000(runs)
    listed = ", ".join(f"{n.removeprefix('seed000-').replace('-', ' on ')} ({pct(ran[n])})" for n in best)
    moved = ", ".join(f"`{n.replace('seed000-', 'loso-')}`" for n in best)
    caveat = "" if len(ran) == len(SEED000_RUNS) else f" (of the {len(ran)} that ran)"
    return (f"The three best pairs by pooled WA{caveat}: {listed}. Each moves to leave-one-speaker-out below "
            f"as {moved}.")


def loso_section(runs: Path, names: tuple[str, ...], title: str, intro: str) -> list[str]:
    lines = [
        title, "", intro, "",
        "| recipe | model | features | UA pooled | WA pooled | UA mean (std) | WA mean (std) | UA 95% CI | minutes | command |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in names:
        r = load(runs, name)
        if r is None:
            lines.append(f"| {name} | | | {estimate(name)} | | | | | | `{command(name)}` |")
            continue
        low, high = r["ci95"]["ua"]
        lines.append(
            f"| {name} | {r['model']} | {r['features']} | **{pct(r['pooled']['ua'])}** | {pct(r['pooled']['wa'])} | "
            f"{pct(r['mean']['ua'])} ({pct(r['std']['ua'])}) | {pct(r['mean']['wa'])} ({pct(r['std']['wa'])}) | "
            f"{pct(low)}-{pct(high)} | {minutes_on(r['seconds'] / 60, r.get('machines'))} | `{command(name)}` |"
        )
    return lines


#: (question, baseline run, variant run): what one change did, both under the same protocol.
COMPARISONS = (
    ("seed 000's protocol (random folds that share speakers; 20 fixed epochs) instead of leave-one-speaker-out",
     "loso-blstm-mfcc", "seed000-blstm-mfcc"),
    ("waveform augmentation (gain -3..+6 dB, tempo 0.85-1.15) and SpecAugment masking",
     "loso-blstm-mfcc", "loso-blstm-mfcc-aug"),
    ("a within-fold ensemble of three seeds", "loso-blstm-mfcc", "loso-blstm-mfcc-ens3"),
    ("per-speaker normalisation (a declared variant: test speakers' own statistics)",
     "loso-blstm-mfcc", "loso-blstm-mfcc-perspeaker"),
    ("ComParE functionals + linear SVM instead of the BLSTM", "loso-blstm-mfcc", "baseline-svm-compare"),
    ("eGeMAPS (88 functionals) instead of ComParE (6373)", "baseline-svm-compare", "baseline-svm-egemaps"),
    ("a Whisper tiny.en layer, mean-pooled (MP-x), instead of ComParE functionals, both with a linear SVM",
     "baseline-svm-compare", "seed003-whisper-tiny-mp-svm"),
    ("Whisper base instead of tiny.en (MP-x, linear SVM)", "seed003-whisper-tiny-mp-svm", "seed003-whisper-base-mp-svm"),
    ("unpadded Whisper windows (the fast option) instead of padded to 30 s", "seed003-whisper-tiny-mp-svm",
     "seed003-whisper-tiny-mp-svm-unpadded"),
    ("logistic regression instead of the linear SVM (Whisper base MP-x)", "seed003-whisper-base-mp-svm",
     "seed003-whisper-base-mp-logistic"),
    ("a torch linear head (Adam, 7 training speakers, stopped on 2) instead of the SVM refitted on 9 "
     "(Whisper base MP-x; the two validation figures are not comparable: best of 7 layers on 2 speakers "
     "against inner leave-one-speaker-out)",
     "seed003-whisper-base-mp-svm", "seed003-whisper-base-mp-linear"),
    ("a learned weighted sum of all layers instead of one chosen layer (torch heads, Whisper base)",
     "seed003-whisper-base-mp-linear", "seed003-whisper-base-weighted"),
)


def comparison_section(runs: Path) -> list[str]:
    lines = [
        "## What helped and what did not",
        "",
        "Each line changes one thing against a baseline run (pooled UA, EMO-DB 4 classes). "
        "Configurations are *chosen* on `validation_ua` (held-out training speakers), not on these test figures.",
        "",
        "| change | baseline | UA | with the change | UA | difference | validation UA (base -> change) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for question, base, variant in COMPARISONS:
        a, b = load(runs, base), load(runs, variant)
        if a is None or b is None:
            lines.append(f"| {question} | {base} | | {variant} | not run yet | | |")
            continue
        va, vb = a.get("validation_ua"), b.get("validation_ua")
        valid = "-" if va is None or vb is None else f"{pct(va)} -> {pct(vb)}"
        lines.append(
            f"| {question} | {base} | {pct(a['pooled']['ua'])} | {variant} | {pct(b['pooled']['ua'])} | "
            f"{100 * (b['pooled']['ua'] - a['pooled']['ua']):+.1f} | {valid} |"
        )
    return lines


WHISPER_ROWS_4 = (
    "emodb-4class-best",
    "seed003-whisper-tiny-mp-svm", "seed003-whisper-tiny-mp-svm-unpadded",
    "seed003-whisper-tiny-mp-logistic",
    "seed003-whisper-tiny-mp-linear", "seed003-whisper-tiny-weighted", "seed003-whisper-tiny-rnn",
    "seed003-whisper-base-mp-svm", "seed003-whisper-base-mp-logistic",
    "seed003-whisper-base-mp-linear",
    "seed003-whisper-base-weighted", "seed003-whisper-base-rnn",
)
WHISPER_ROWS_7 = ("emodb-7class-best", "seed003-whisper-tiny-mp-svm-7class",
                  "seed003-whisper-base-mp-svm-7class", "seed003-whisper-base-mp-logistic-7class")
#: Beside the Whisper rows: the best model trained from scratch and the SVM baselines.
SCRATCH_ROWS = {"4class": ("loso-cnn-logmel", "baseline-svm-compare", "baseline-svm-egemaps"),
                "emodb7": ("baseline-svm-compare-7class",)}
WHISPER_GOALS = {"4class": 0.95, "emodb7": 0.90}


def fold_choices(runs: Path, name: str) -> str:
    """How often each setting was chosen across folds, e.g. ``layer 3 x7, 2 x3``."""
    counts: dict[str, int] = {}
    for row in (load(runs, name) or {}).get("folds", []):
        chosen = row.get("chosen")
        if chosen:
            key = ", ".join("all" if v is None else str(v) for v in chosen.values())
            counts[key] = counts.get(key, 0) + 1
    return "; ".join(f"{k} x{n}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "-"


def whisper_rows(runs: Path, names: tuple[str, ...], goal: float | None) -> list[str]:
    lines = []
    for name in names:
        r = load(runs, name)
        if r is None:
            lines.append(f"| {name} | | | {estimate(name)} | | | | | `{command(name)}` |")
            continue
        valid = "-" if r.get("validation_ua") is None else pct(r["validation_ua"])
        met = "" if goal is None else (" (goal met)" if r["pooled"]["ua"] >= goal else "")
        lines.append(
            f"| {name} | {r['model']} | {r['features']} | **{pct(r['pooled']['ua'])}**{met} | {pct(r['pooled']['wa'])} | "
            f"{pct(r['pooled']['f1'])} | {valid} | {fold_choices(runs, name)} | `{command(name)}` |"
        )
    return lines


def layer_table(runs: Path) -> list[str]:
    columns = [("seed003-whisper-tiny-mp-svm", "tiny.en 4 classes"), ("seed003-whisper-tiny-mp-svm-7class", "tiny.en 7"),
               ("seed003-whisper-base-mp-svm", "base 4 classes"), ("seed003-whisper-base-mp-svm-7class", "base 7")]
    root = runs / "seed003" / "whisper-layers"
    lines = ["| layer | " + " | ".join(c[1] for c in columns) + " |", "| --- |" + " --- |" * len(columns)]
    for layer in ["all-layers"] + [f"layer{k}" for k in range(7)]:
        cells = []
        for recipe, _ in columns:
            path = root / recipe / layer / "results.json"
            r = read_results(path)
            cells.append("" if r is None else f"{pct(r['pooled']['ua'])} / {pct(r['pooled']['wa'])}")
        if any(cells):
            label = "all, side by side" if layer == "all-layers" else layer.removeprefix("layer")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def whisper_speed() -> list[str]:
    path = REPO / "benchmarks" / "whisper-speed.json"
    if not path.exists():
        return ["Encoder speed: not measured yet (`python benchmarks/whisper.py --write`)."]
    speed = json.loads(path.read_text())
    lines = [f"Encoder speed, seconds of audio per wall-clock second on {speed['clips']} EMO-DB clips (2.6 s on "
             f"average; the rate on 3 s clips is in benchmarks.md), features end to end ({speed['cpu']}; "
             f"`{speed['command']}`):", ""]
    for name, figures in speed["x_real_time"].items():
        shown = ", ".join(f"{label} **{value:.1f}x**" for label, value in figures.items()
                          if not label.startswith("load"))
        lines.append(f"- {name}: {shown}")
    return lines


def whisper_section(runs: Path) -> list[str]:
    header = ["| recipe | model | features | UA pooled | WA pooled | F1 pooled | validation UA | chosen per fold | command |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    return [
        "## Whisper layers as features (seed 003's idea with OpenAI Whisper), EMO-DB, leave-one-speaker-out",
        "",
        "Protocol **loso** (10 folds). Every fold chooses the layer (and the SVM's cost, or the epoch) on its "
        "training side only: the SVM rows by leave-one-speaker-out over the 9 training speakers (`inner_cv`), "
        "the torch rows on 2 held-out training speakers. *Chosen per fold* counts the layers the folds chose "
        "(`all`: every layer side by side). Goals (issue 5): pooled UA at least 95% on 4 classes, 90% on 7. "
        "See [whisper.md](whisper.md) for the models and [benchmarks.md](benchmarks.md#whisper-encoder) "
        "for the encoder's speed.",
        "",
        *whisper_speed(),
        "",
        "### 4 classes",
        "",
        *header, *whisper_rows(runs, WHISPER_ROWS_4, WHISPER_GOALS["4class"]),
        *whisper_rows(runs, SCRATCH_ROWS["4class"], None),
        "",
        "### 7 classes",
        "",
        *header, *whisper_rows(runs, WHISPER_ROWS_7, WHISPER_GOALS["emodb7"]),
        *whisper_rows(runs, SCRATCH_ROWS["emodb7"], None),
        "",
        "### Each layer on its own",
        "",
        "Pooled UA / WA (%) under loso with the layer *fixed* (MP-x: mean-pooled layer, linear SVM whose cost "
        "is chosen on the fold's 2 validation speakers). These rows describe the layers and choose nothing; "
        "`python benchmarks/whisper_layers.py` writes them to `runs/seed003/whisper-layers/`.",
        "",
        *layer_table(runs),
    ]


def budget_line(runs: Path) -> str:
    """Issue 3's budget: its table in about 8 CPU-hours on this machine."""
    asked = [*SEED000_RUNS, *(n.replace("seed000-", "loso-") for n in best_seed000(runs)),
             "seed002-cnn_tf-gap-cheap", "seed002-cnn_tf-bilinear-cheap", "seed002-cnn_tf-attention-cheap",
             "baseline-majority", "baseline-svm-egemaps", "baseline-svm-compare",
             "emodb-4class-best", "emodb-7class-best"]
    extra = [n for n in (*LOSO_ROWS, *SEVEN_CLASS_ROWS) if n not in asked]

    def minutes(names: list[str]) -> tuple[float, float, int]:
        ran = sum(r["seconds"] / 60 for n in names if (r := load(runs, n)) is not None)
        todo = [n for n in names if load(runs, n) is None]
        return ran, sum(estimated_minutes(n) for n in todo), len(todo)

    ran, todo, missing = minutes(asked)
    text = (f"**Budget.** The {len(asked)} rows issue 3 asks for (the nine of seed 000, its three best under "
            f"leave-one-speaker-out, the three cnn_tf heads, the three baselines and the best configurations on "
            f"4 and 7 classes) took {ran:.0f} minutes, {ran / 60:.1f} CPU-hours (one training thread per run)")
    text += f", with {missing} not run yet, estimated at {todo} more" if missing else ""
    extra_ran, extra_todo, _ = minutes(extra)
    return text + (f". The other {len(extra)} rows above took {extra_ran:.0f} minutes. The minutes of the `cnn` "
                   "and `cnn_blstm` rows trained before commit 316ab69 predate its faster training step "
                   "(see the top of this page).")


#: Seed 002 Table 1 (IEMOCAP, 4 classes, 10-fold): (UA, WA) per pooling head.
SEED002_TABLE1 = {"gap": ("67.54", "71.35"), "bilinear": ("64.16", "69.17"), "attention": ("68.06", "71.75")}
#: Seed 003 Table 1 (IEMOCAP, 4 classes, 10 folds): U-Acc of each head over recognizer layers 1, 2, 3.
SEED003_TABLE1 = {"mp": "MP-1/2/3: U-Acc 46/54/55", "rnn": "RNN-1/2/3: U-Acc 53/57/56"}
#: Seed 003 Table 1 (IEMOCAP, 10 runs of LOSO), U-Acc and W-Acc (%) of the row each recipe runs.
SEED003_ROWS = {"seed003-majority": (39, 33), "seed003-random": (25, 25), "seed003-bigru-baseline-64": (52, 54),
                "seed003-bigru-baseline": (53, 55), "seed003-bigru-baseline-128": (50, 51),
                **{f"seed003-ds2-{kind}-{x}": row for kind, rows in (("mp", ((46, 52), (54, 54), (55, 56))),
                                                                    ("rnn", ((53, 57), (57, 59), (56, 57))),
                                                                    ("progressive", ((56, 57), (58, 61), (57, 59))))
                   for x, row in enumerate(rows, start=1)}}


def paper_figure(group: str, spec: dict) -> str:
    """The paper's figure for the configuration a recipe runs, as the group's README shows it."""
    model, features = spec.get("model", ""), str(spec.get("features", ""))
    if group == "seed000":
        key = (model, features.split(":")[0].split("-")[0])
        return f"WA {SEED000_TABLE1[key]}" if key in SEED000_TABLE1 else "-"
    if group == "seed002" and model.startswith("cnn_tf_"):
        head = model.removeprefix("cnn_tf_")
        if head in SEED002_TABLE1:
            ua, wa = SEED002_TABLE1[head]
            return f"UA {ua} / WA {wa} (IEMOCAP)"
    if group == "seed003" and spec.get("name") in SEED003_ROWS:
        ua, wa = SEED003_ROWS[spec["name"]]
        return f"U-Acc {ua} / W-Acc {wa} (IEMOCAP)"
    if group == "seed003":
        if model == "gru":
            return SEED003_TABLE1["rnn"] + " (IEMOCAP)"
        if model in ("svm", "logistic", "linear"):
            return SEED003_TABLE1["mp"] + " (IEMOCAP)"
    if group == "product" and spec.get("protocol") == "loco":  # issue 18's goals: accurate (Whisper), default
        if spec.get("normalisation") == "per-corpus":
            return "goal mean UA 72 (adapted)"
        return "goal mean UA 65" if "whisper-base" in str(spec.get("features")) else "goal mean UA 55"
    if group == "product":
        goal = WHISPER_GOALS.get(spec.get("classes", "4class"))
        return f"goal UA {100 * goal:.0f}" if goal else "-"
    return "-"


def group_recipes(group: str, recipes: Path | None = None) -> list[str]:
    """The group's recipe names, those named after the group (the paper's own setting) first."""
    names = (p.stem for p in ((recipes or REPO / "recipes") / group).glob("*.yaml"))
    return sorted(names, key=lambda name: (not name.startswith(group), name))


def group_table(runs: Path, group: str, recipes: Path | None = None) -> list[str]:
    """One group's results table: every recipe in ``recipes/<group>/``, our figures beside the paper's;
    a recipe without a run says so with its estimated time."""
    import yaml

    lines = [
        "| recipe | protocol | classes | model | features | paper | UA pooled | WA pooled | F1 pooled "
        "| UA / WA / F1 mean (std) over folds | minutes | command |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in group_recipes(group, recipes):
        spec = yaml.safe_load(((recipes or REPO / "recipes") / group / f"{name}.yaml").read_text())
        if spec.get("task", "utterance") != "utterance":  # frame, ctc and regression rows have their own tables
            continue
        paper = paper_figure(group, spec)
        protocol, classes = spec.get("protocol", "loso"), spec.get("classes", "4class")
        r = load(runs, name)
        if r is None:
            lines.append(f"| {name} | {protocol} | {classes} | {spec.get('model', '')} | {spec.get('features', '')} | "
                         f"{paper} | {estimate(name)} | | | | | `{command(name)}` |")
            continue
        # cross-corpus: the mean over target corpora, not a pool weighted by each corpus's size
        figures = r["mean"] if r["protocol"].startswith(("loco", "train:")) else r["pooled"]
        lines.append(
            f"| {name} | {r['protocol']} | {r.get('class_set', classes)} | {r['model']} | {r['features']} | {paper} | "
            f"**{pct(figures['ua'])}** | {pct(figures['wa'])} | {pct(figures['f1'])} | {fold_spread(r)} | "
            f"{minutes_on(r['seconds'] / 60, r.get('machines'))} | `{command(name)}` |"
        )
        repeated = seeds_row(runs, name, r)
        if repeated:
            lines.append(repeated)
    return lines


def shipped_models(recipes: Path | None = None) -> list[str]:
    """The shipped models (``src/serkit/inference/models/*/card.json``) and the recipe each came from,
    found by the configuration hash its card records."""
    hashes: dict[str, list[Path]] = {}
    for path in sorted((recipes or REPO / "recipes").glob("*/*.yaml")):
        hashes.setdefault(load_recipe(path).config_hash(), []).append(path)
    lines = ["| model | card | recipe on its card | recipes with its configuration hash |", "| --- | --- | --- | --- |"]
    for card_path in sorted((REPO / "src" / "serkit" / "inference" / "models").glob("*/card.json")):
        card = json.loads(card_path.read_text())
        same = ", ".join(f"`{p.relative_to(REPO)}`" for p in hashes.get(card.get("config_hash"), [])) or "none"
        lines.append(f"| `{card_path.parent.name}` | `{card_path.parent.relative_to(REPO)}/README.md` | "
                     f"{card.get('recipe')} ({card.get('config_hash')}) | {same} |")
    return lines


def comparison_lines(runs: Path, group: str) -> list[str]:
    """The group's paired comparisons (``serkit compare ... --out runs/<group>/comparisons/NAME.json``)."""
    found = sorted((runs / group / "comparisons").glob("*.json"))
    if not found:
        return []
    lines = ["", "## Paired comparisons", "",
             "`serkit compare CANDIDATE... --against BASELINE... --out runs/" + group + "/comparisons/NAME.json`: "
             "the difference of pooled figures on the same test utterances, with a paired speaker-bootstrap 95% "
             "interval and the share of resamples where the candidate is not better; several runs a side (seeds) "
             "count as their mean.", "",
             "| comparison | figure | candidate | baseline | difference | 95% interval | not better in | speakers | protocol |",
             "|---|---|---|---|---|---|---|---|---|"]
    for path in found:
        c = json.loads(path.read_text())
        sides = {side: f"{pct(c[side])} ({len(c['runs'][side])} run{'s' * (len(c['runs'][side]) > 1)})"
                 for side in ("candidate", "baseline")}
        low, high = c["ci95"]
        lines.append(f"| {path.stem} | {c['figure'].upper()} | {sides['candidate']} | {sides['baseline']} | "
                     f"**{100 * c['difference']:+.1f}** | {100 * low:+.1f} to {100 * high:+.1f} | "
                     f"{100 * c['p_not_better']:.1f}% of {c['n_resamples']} | {c['n_speakers']} | {c['protocol']} |")
    return lines


#: Seed 003's table as its issue asks for it: Table 1's rows (the baselines' three widths, MP-x, RNN-x
#: and Progressive net-x for x = 1..3), the progressive net over Whisper, and the recognizer with its
#: learning-curve and SGD runs; each with the seeds it was repeated under.
SEED003_ASKED = ("seed003-majority", "seed003-random",
                 *(f"seed003-bigru-baseline{width}" for width in ("-64", "", "-128")),
                 *(f"seed003-ds2-{head}-{x}" for head in ("mp", "rnn", "progressive") for x in (1, 2, 3)),
                 "seed003-whisper-base-progressive",
                 "seed003-ds2-librispeech", "seed003-ds2-librispeech-quarter", "seed003-ds2-librispeech-sgd")
SEED003_BUDGET_HOURS = 12


def core_minutes(results: dict) -> float:
    """A run's core-minutes: its processor time where results.json records it (runs from
    2026-12-06 on), else its wall time (one training thread, the machine perhaps shared)."""
    return (results.get("cpu_seconds") or results["seconds"]) / 60


#: Table 1's rows in the paper's order: (row label, recipe).
SEED003_TABLE1_ROWS = (
    ("Majority", "seed003-majority"), ("Random", "seed003-random"),
    *((f"BiGRU baseline, {units} units", f"seed003-bigru-baseline{suffix}")
      for units, suffix in ((64, "-64"), (96, ""), (128, "-128"))),
    *((f"{label}-{x}", f"seed003-ds2-{head}-{x}")
      for head, label in (("mp", "Fine-tuning MP"), ("rnn", "Fine-tuning RNN"), ("progressive", "Progressive net"))
      for x in (1, 2, 3)),
)


def seed003_table1(runs: Path) -> list[str]:
    """Table 1 as the paper lays it out, serkit's figures (EMO-DB) beside the paper's (IEMOCAP)."""
    lines = ["", "## Table 1 side by side", "",
             "Over serkit's own recognizer (`recognizer-seed003`). Ours: EMO-DB 4class, leave-one-speaker-out, "
             "% pooled over the test predictions (the mean and std over seeds where a row ran under several); "
             "the paper's: IEMOCAP, its own recognizer, U-Acc and W-Acc (it gives F1 for no row).", "",
             "| row | paper U-Acc | paper W-Acc | UA | WA | F1 | seeds |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for label, name in SEED003_TABLE1_ROWS:
        ua_paper, wa_paper = SEED003_ROWS[name]
        results = [r for r in (load(runs, name), *(r for _, r in seed_repeats(runs, name))) if r is not None]
        if not results:
            lines.append(f"| {label} | {ua_paper} | {wa_paper} | not run yet | | | |")
            continue
        cells = []
        for key in ("ua", "wa", "f1"):
            values = np.array([r["pooled"][key] for r in results])
            cells.append(pct(values.mean()) + (f" ({pct(values.std(ddof=1))})" if len(values) > 1 else ""))
        lines.append(f"| {label} | {ua_paper} | {wa_paper} | **{cells[0]}** | {cells[1]} | {cells[2]} | "
                     f"{len(results)} |")
    return lines


#: Seed 003's recognizer runs (``task: ctc``): the recipe and what the row varies.
SEED003_RECOGNIZERS = (("seed003-ds2-librispeech", "Adam 1e-3, all training utterances"),
                       ("seed003-ds2-librispeech-quarter", "Adam 1e-3, a quarter of them (learning curve)"),
                       ("seed003-ds2-librispeech-sgd", "the paper's SGD schedule, all training utterances"))


def seed003_recognizers(runs: Path) -> list[str]:
    """Seed 003's recognizer rows: held-out CER and WER, greedy and with the beam search."""
    lines = ["", "## The recognizer (Section 3.1.1)", "",
             "LibriSpeech mini, speakers 4680 and 6848 tested, 4640 and 2136 choosing the kept epoch and the "
             "beam search's weights (`predefined` folds). CER and WER in %, pooled over the test utterances; "
             "the paper's recognizer (its own data, about a thousand times more) is not scored on these. "
             "Learning curve: `python benchmarks/seed003_learning_curve.py`.", "",
             "| recipe | setting | CER | WER | CER (beam) | WER (beam) | validation CER | kept epoch | minutes | "
             "command |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, setting in SEED003_RECOGNIZERS:
        r = load(runs, name)
        if r is None:
            lines.append(f"| {name} | {setting} | {estimate(name)} | | | | | | | `{command(name)}` |")
            continue
        p, fold = r["pooled"], r["folds"][0]
        lines.append(f"| {name} | {setting} | **{pct(p['cer'])}** | {pct(p['wer'])} | {pct(p['cer_beam'])} | "
                     f"{pct(p['wer_beam'])} | {pct(r['validation_cer'])} | {fold['chosen_epoch']} | "
                     f"{minutes_on(r['seconds'] / 60, r.get('machines'))} | `{command(name)}` |")
    return lines


def seed003_budget(runs: Path, recipes: Path | None = None) -> list[str]:
    """Seed 003's budget: the runs its issue asks for against about 12 CPU-hours."""
    def spent(names) -> tuple[float, int, int, list[str]]:
        minutes, runs_done, wall, missing = 0.0, 0, 0, []
        for name in names:
            done = [r for r in (load(runs, name), *(r for _, r in seed_repeats(runs, name))) if r is not None]
            minutes += sum(core_minutes(r) for r in done)
            runs_done += len(done)
            wall += sum(r.get("cpu_seconds") is None for r in done)
            missing += [] if done else [name]
        return minutes, runs_done, wall, missing

    minutes, done, wall, missing = spent(SEED003_ASKED)
    todo = sum(estimated_minutes(name) for name in missing)
    text = (f"**Budget.** The runs the issue asks for ({len(SEED003_ASKED)} recipes, {done} runs counting "
            f"seeds) took {minutes / 60:.1f} core-hours of the {SEED003_BUDGET_HOURS} "
            f"({done - wall} measured as processor time, {wall} as the wall time of one-thread runs, "
            "an overestimate where the machine was shared)")
    if missing:
        text += (f"; not run yet: {', '.join(f'`{name}`' for name in missing)}, estimated at "
                 f"{todo / 60:.1f} core-hours more, {(minutes + todo) / 60:.1f} in all")
    extra = [name for name in group_recipes("seed003", recipes) if name not in SEED003_ASKED]
    extra_minutes, extra_done, _, _ = spent(extra)
    return ["", text + f". Outside it, the {extra_done} runs of the other rows (Whisper's MP-x, weighted and "
            f"RNN rows) took {extra_minutes / 60:.1f} core-hours."]


#: What issue 20 asks for: the three heads in the paper's setting, the cheap-peak heads whose fixes were
#: chosen there (with the bilinear scale's search and its scaled run) and Figure 2's filter shapes.
SEED002_ASKED = (*(f"seed002-cnn_tf-{head}" for head in ("gap", "bilinear", "attention")),
                 *(f"seed002-cnn_tf-{head}-cheap-peak" for head in ("gap", "bilinear", "attention")),
                 "seed002-cnn_tf-bilinear-cheap-peak-scale", "seed002-cnn_tf-bilinear-cheap-peak-scaled")
SEED002_BUDGET_HOURS = 20


def uncounted_minutes(folder: Path) -> float:
    """Wall minutes of a run's resumed folds' earlier calls whose processor time was not kept (folds
    resumed before 2026-12-07): one training thread each, so about as many core-minutes."""
    minutes = 0.0
    for path in folder.glob("folds/*/predictions.json"):
        for member in json.loads(path.read_text()).get("members") or []:
            if "earlier_cpu_seconds" not in member:
                minutes += member.get("earlier_seconds", 0.0) / 60
    return minutes


def seed002_budget(runs: Path) -> list[str]:
    """Issue 20's budget: its runs against about 20 core-hours."""
    done = {name: r for name in SEED002_ASKED if (r := load(runs, name)) is not None}
    shapes = [read_results(path) for path in sorted((runs / "seed002" / "filter-shapes").glob("*/results.json"))]
    minutes = sum(core_minutes(r) + uncounted_minutes(runs / "seed002" / name) for name, r in done.items())
    minutes += sum(core_minutes(r) for r in shapes)
    missing = [name for name in SEED002_ASKED if name not in done]
    text = (f"**Budget.** Issue 20's runs ({len(done)} of its {len(SEED002_ASKED)} recipes and the "
            f"{len(shapes)} filter shapes of Figure 2) took {minutes / 60:.1f} core-hours of the "
            f"{SEED002_BUDGET_HOURS} (processor time where a run kept it, else the wall time of a one-thread run)")
    if missing:
        todo = sum(estimated_minutes(name) for name in missing)
        text += (f"; not run yet: {', '.join(f'`{name}`' for name in missing)}, estimated at "
                 f"{todo / 60:.1f} core-hours more, {(minutes + todo) / 60:.1f} in all")
    return ["", text + "."]


def group_readme(runs: Path, group: str, recipes: Path | None = None) -> str:
    info = GROUPS[group]
    lines = [
        f"# recipes/{group}: {info['title']}",
        "",
        "Generated by `python benchmarks/results_table.py` (do not edit by hand; all groups' figures are also "
        "in [docs/results.md](../../docs/results.md)).",
        "",
        f"- Paper: {info['paper']}.",
        f"- Reproduces: {info['table']}",
        f"- Runs: `runs/{group}/<recipe>/` (`results.json`, `report.md`, `confusion.png`, `curves.png`); "
        "rerunning a row's command resumes an unfinished run.",
        "",
        "Figures are % pooled over all test predictions; *paper* is the paper's own figure for the same "
        "configuration (its corpus and protocol where they differ from ours).",
        "",
        *(seed001_lines(runs, None, "##") if group == "seed001" else seed004_lines(runs, "##") if group == "seed004"
          else group_table(runs, group, recipes)),
        *(seed003_table1(runs) + seed003_recognizers(runs) + seed003_budget(runs, recipes)
          if group == "seed003" else []),
        *(seed002_budget(runs) if group == "seed002" else []),
    ]
    if group == "product":
        lines += ["", "## Shipped models", "",
                  "`serkit models` lists them; each card records the recipe and configuration hash it was "
                  "trained from:", "", *shipped_models(recipes)]
    lines += comparison_lines(runs, group)
    if group == "seed003":
        lines += ["", "## Each layer on its own", "",
                  "Pooled UA / WA (%) with the layer fixed (MP-x, linear SVM): "
                  "`python benchmarks/whisper_layers.py` writes them to `runs/seed003/whisper-layers/`.", "",
                  *layer_table(runs)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=REPO / "runs")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results.md")
    parser.add_argument("--recipes", type=Path, default=REPO / "recipes",
                        help="where each group's README.md is written (recipes/<group>/README.md)")
    args = parser.parse_args()
    plot = args.out.parent / "seed001-transfer.png"
    lines = [
        "# Results",
        "",
        "Every figure names its protocol. Under leave-one-speaker-out (`loso`) the test speaker is never "
        "seen in training or validation; early stopping, the kept epoch, the SVM's cost and the Whisper layer are "
        "chosen on *training* speakers (`validation: speakers`), never on the test fold. Normalisation "
        "statistics are fitted on the training part only unless a row says `per-speaker` (a declared "
        "variant). Pooled figures are computed over all test predictions; the 95% interval resamples "
        "speakers. Machine: 2-core AMD EPYC VM, CPU only, one training thread per run (a run fitted on a GPU names it in its minutes cell: the CPU is the reference); minutes count fitting and predicting every fold, with features from the cache (extracting them for all of EMO-DB takes seconds, ComParE about half a minute); "
        "runs from 2026-12-06 on also record their processor time (`cpu_seconds` in results.json, CPU-minutes in "
        "report.md), the core-time whatever else shared the machine; "
        "a fold resumed after an interruption counts the interrupted call too, up to its last checkpoint (before "
        "2026-11-22 only the resumed call counted: fold 04 of seed002-cnn_tf-attention-cheap lost about 3 minutes that way; "
        "its processor time too since 2026-12-07, before which a resumed fold's CPU-minutes counted its last call "
        "only: seed002-cnn_tf-attention's 180 CPU-minutes leave out the earlier calls of folds 00, 02, 06, 07 and 08, "
        "97 wall-minutes on a core each). "
        "Code: the `cnn` and `cnn_blstm` rows (all but seed 000's cnn on spectrogram) were trained before "
        "commit 316ab69 (2026-11-22), in PyTorch's "
        "default memory layout and with masked batch norm on every batch. Since then convolutional models train "
        "in channels-last layout, and batches without padding take BatchNorm2d's own kernel: the same computation "
        "up to float rounding and about 2.7x faster per step, so a rerun of those rows gives figures that may "
        "differ slightly, and takes fewer minutes than the table says. Since commit d8f70b6 (2026-12-07) a batch "
        "that holds padding takes a masked batch norm with its gradient written out instead of autograd through "
        "masked sums: the same computation up to float rounding, 2-6x faster on seed 002's first layers "
        "(docs/benchmarks.md, \"Masked batch norm\"), so every convolutional row run before it may also differ "
        "slightly on a rerun (fold 00 of seed002-cnn_tf-attention ran its first 30 epochs before it). "
        "Since commit 9eb9d81 (2026-12-07) that masked batch norm computes through PyTorch's fused "
        "batch-norm kernels (the same computation up to float rounding, 2.6-3.6x faster again per layer "
        "in bf16): seed002-cnn_tf-attention's folds 07 (from epoch 27) to 09 and the later paper-setting "
        "heads ran with it.",
        "",
        "Reruns after the architecture rework of 2026-12-03 (typed artifacts, fitters, one settings search; "
        "`serkit cv --config recipes/GROUP/NAME.yaml --root ../shared/data/emodb --out DIR --jobs 2 --threads 1`): "
        "`baseline-svm-compare` gives the recorded figures bit for bit (82.5 UA). `loso-blstm-mfcc` gives "
        "72.1 UA pooled, against 71.3 recorded on 2026-11-22; the code as it stood before the rework gives the "
        "same 72.1, fold by fold and epoch by epoch, so the difference predates the rework (code changed "
        "between 2026-11-22 and 2026-12-03), and the row now shows the rerun (its 12 minutes were measured "
        "with two folds at once beside other work: not comparable with the other rows). `emodb-4class-best` gives 96.0 "
        "UA pooled against 96.4 recorded: nine of ten folds are identical (the same layer and cost chosen, "
        "the same predictions); in speaker 11's fold the inner leave-one-speaker-out score differs in the "
        "fourth digit with the Whisper features recomputed (their float rounding depends on the thread count "
        "they were computed with), and its test UA is 94.6 instead of 97.7. That row keeps the recorded run, "
        "which the shipped accurate model's card cites.",
        "",
        "Generated by `python benchmarks/results_table.py` from `runs/<group>/<recipe>/results.json`; the "
        "recipes are grouped by what they reproduce, and each group's README (`recipes/<group>/README.md`) "
        "repeats its rows beside the paper's table: "
        + ", ".join(f"[{g}](../recipes/{g}/README.md)" for g in GROUPS) + ".",
        "",
        *seed000_section(args.runs),
        "",
        *seed001_lines(args.runs, plot if transfer_plot(args.runs, plot) else None),
        "",
        *seed004_lines(args.runs),
        "",
        *loco_lines(args.runs),
        "",
        *loso_section(args.runs, LOSO_ROWS, "## EMO-DB 4 classes, leave-one-speaker-out",
                      "Protocol **loso** (10 folds, one test speaker each), validation on held-out training speakers. "
                      "The `seed002-cnn_tf-*-cheap` rows use serkit's cheaper variant of seed 002's setting, as each "
                      "recipe says: an 800-point DFT (200 x 200 inputs, not 400 x 200), 2 s training windows every "
                      "2 s, 10 epochs instead of 50 with the milestones scaled. The paper's setting runs from "
                      "`recipes/seed002/seed002-cnn_tf-{gap,bilinear,attention}.yaml` (not run: about 9 hours per head before "
                      "commit 316ab69, an estimated 3.5 since, and about 1.5 in bf16 since the engine keeps freed memory "
                      "for reuse; per-segment scaling by the peak, recalibration and bf16, as below). In the cheap variant, SGD at the paper's learning rate "
                      "0.05 fails in two ways. With the attention and bilinear heads the training UA itself stays near "
                      "chance in most folds; the cause is the input, not the rate (see the `-cheap-peak` rows and "
                      "[seed002.md](seed002.md)): min-max scaled as the paper's words say, nearly every bin of the "
                      "mu-law spectrogram sits at -1. The gap head trains (training UA "
                      "0.6-0.7 by epoch 4) but its validation UA sits at chance (0.25) for 5 to 7 epochs: with 2 s "
                      "training hops an epoch has only 4-5 batches, batch norm's running averages (momentum 0.1) lag "
                      "far behind the weights, and in evaluation mode the network predicts one class. Training for 20 "
                      "epochs does not cure it: in the six folds of a 20-epoch attention variant that ran (four "
                      "to the end; its recipe, `seed002-cnn_tf-attention-cheap20`, is deleted, superseded by "
                      "`-cheap-recal`) the validation UA fell back to chance for seven epochs in one and for good in "
                      "another, once the learning rate was low. `seed002-cnn_tf-gap-cheap-recal` re-estimates the "
                      "running statistics from the training windows at the end of every epoch "
                      "(`recalibrate_batch_norm`). The three rows without it are undertrained, not a verdict on the "
                      "heads. The `-cheap-peak` rows take both fixes: the magnitude divided by its peak before the "
                      "mu-law (`mulaw-seed002-800:scale=peak`), and recalibration; they train in bf16 "
                      "(`train.precision`, checked on fold 00's validation speakers in [seed002.md](seed002.md))."),
        "",
        *loso_section(args.runs, SEVEN_CLASS_ROWS, "## EMO-DB 7 classes, leave-one-speaker-out",
                      "serkit's best configuration on all seven EMO-DB classes (535 utterances; chosen on training speakers "
                      "among those run on seven classes: Whisper base MP-x, see below), and the ComParE + SVM baseline."),
        "",
        budget_line(args.runs),
        "",
        *whisper_section(args.runs),
        "",
        *comparison_section(args.runs),
        "",
    ]
    args.out.write_text("\n".join(lines))
    for group in GROUPS:
        if (args.recipes / group).is_dir():
            (args.recipes / group / "README.md").write_text(group_readme(args.runs, group, args.recipes))


if __name__ == "__main__":
    main()

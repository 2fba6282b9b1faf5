"""A cross-validation run as figures and prose: confusion.png, curves.png, report.md."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402

from serkit.artifacts import CvResults, FoldResult  # noqa: E402
from serkit.outputs import atomic_write_bytes, atomic_write_text  # noqa: E402


def write_report(out_dir: Path, summary: CvResults, results: Sequence[FoldResult]) -> None:
    if summary.confusion is not None:  # a regression has none
        plot_confusion(out_dir / "confusion.png", summary)
    plot_curves(out_dir / "curves.png", results, summary)
    atomic_write_text(out_dir / "report.md", report_markdown(summary, results))


def plot_confusion(path: Path, summary: CvResults) -> None:
    """Pooled confusion, row-normalised colours with counts written in each cell."""
    counts = np.asarray(summary.confusion["counts"], dtype=float)
    labels = summary.confusion["labels"]
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2, 1.1 * len(labels) + 1.5))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            colour = "white" if share[i, j] > 0.5 else "black"
            ax.text(j, i, f"{int(counts[i, j])}\n{share[i, j]:.0%}", ha="center", va="center",
                    color=colour, fontsize=8)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("reference")
    pooled = summary.pooled
    ax.set_title(f"{summary.model} / {summary.features}\n{summary.protocol}: "
                 f"UA {pooled['ua']:.3f}, WA {pooled['wa']:.3f}", fontsize=9)
    _save(fig, path)


def plot_curves(path: Path, results: Sequence[FoldResult], summary: CvResults) -> None:
    """Training and validation accuracy (a regression's mean CCC) per epoch, one faint line per
    fold and their mean (seed 000, Fig. 3).  Classical baselines have no epochs: the plot says so."""
    figure = "ccc" if summary.task == "regression" else "wa"
    fig, ax = plt.subplots(figsize=(6, 4))
    curves: dict[str, list[list[float]]] = {f"train_{figure}": [], f"validation_{figure}": []}
    for result in results:
        for member in result.members or []:
            for key in curves:
                values = [row.get(key) for row in member["history"]]
                if values and all(v is not None for v in values):
                    curves[key].append(values)
    styles = {f"train_{figure}": ("tab:blue", "training"), f"validation_{figure}": ("tab:orange", "validation")}
    for key, runs in curves.items():
        colour, name = styles[key]
        for run in runs:
            ax.plot(range(1, len(run) + 1), run, color=colour, alpha=0.15, linewidth=1)
        if runs:
            longest = max(map(len, runs))
            mean = [np.mean([r[e] for r in runs if len(r) > e]) for e in range(longest)]
            ax.plot(range(1, longest + 1), mean, color=colour, linewidth=2, label=f"{name} (mean of folds)")
    if not any(curves.values()):
        ax.text(0.5, 0.5, f"{summary.model}: no training epochs", ha="center", va="center",
                transform=ax.transAxes)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean CCC" if figure == "ccc" else "accuracy (WA)")
    ax.set_ylim(-1 if figure == "ccc" else 0, 1)
    ax.grid(alpha=0.3)
    if any(curves.values()):
        ax.legend(loc="lower right")
    ax.set_title(f"{summary.model} / {summary.features} ({summary.protocol})", fontsize=9)
    _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> None:
    """A figure as PNG, written atomically like every file of a run."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def report_markdown(summary: CvResults, results: Sequence[FoldResult] = ()) -> str:
    mean, std, pooled, ci = summary.mean, summary.std, summary.pooled, summary.ci95

    def sd(key: str) -> str:
        return "-" if std.get(key) is None else f"{std[key]:.3f}"

    lines = [
        f"# {summary.recipe}: {summary.model} on {summary.features}",
        "",
        f"- reproduces: {summary.reproduces or '-'}",
        f"- corpus: {summary.corpus}, " + ("every utterance with a transcript" if summary.task == "ctc" else
                                           f"classes ({summary.class_set}): {', '.join(summary.classes)}"),
        f"- protocol: **{summary.protocol}**"
        + (" (speaker-dependent: speakers shared between training and test)" if summary.speaker_dependent else ""),
        f"- validation: {summary.validation}; normalisation: {summary.normalisation}",
        f"- utterances tested: {summary.n_utterances} in {len(summary.folds)} folds; "
        f"{summary.seconds / 60:.1f} minutes" + ("" if summary.cpu_seconds is None else
                                                f" ({summary.cpu_seconds / 60:.1f} CPU-minutes)")
        + ("" if not summary.machines else f" on {'; '.join(summary.machines)}"),
        f"- config hash {summary.config_hash}, data hash {summary.data_hash}",
        *init_lines(results[0].init if results else None),
        "",
        "| figure | pooled | 95% CI (speaker bootstrap) | mean over folds | std |",
        "| --- | --- | --- | --- | --- |",
    ]
    figures = _figure_names(summary)
    for key, name in figures:
        low, high = ci.get(key) or (None, None)
        interval = "-" if low is None else f"{low:.3f}-{high:.3f}"
        lines.append(f"| {name} | {_number(pooled[key])} | {interval} | {_number(mean[key])} | {sd(key)} |")
    names = [name for _, name in figures]
    lines += ["", f"| fold | test speakers | n | {' | '.join(names)} | chosen epoch |",
              "| --- | --- | --- | " + "--- | " * len(names) + "--- |"]
    for fold in summary.folds:
        values = " | ".join(_number(fold[key]) for key, _ in figures)
        lines.append(f"| {fold['name']} | {' '.join(map(str, fold['test_speakers']))} | {fold['n_test']} | "
                     f"{values} | {fold.get('chosen_epoch') or '-'} |")
    lines += target_corpus_lines(summary, figures)
    if summary.utterances:
        lines += ["", *utterance_lines(summary.utterances)]
    pictures = ["![curves](curves.png)"] if summary.confusion is None else ["![confusion](confusion.png)", "",
                                                                            "![curves](curves.png)"]
    lines += ["", *pictures, ""]
    return "\n".join(lines)


def _figure_names(summary: CvResults) -> list[tuple[str, str]]:
    """The figures a run reports, as (key, heading): WA, UA, F1, CCC and RMSE per target, or a
    frame task's FER and PER."""
    if summary.task == "ctc":
        found = [("cer", "CER"), ("wer", "WER"), ("cer_beam", "CER (beam)"), ("wer_beam", "WER (beam)")]
        return [(key, name) for key, name in found if key in summary.pooled]
    if summary.task == "frame":
        found = [("fer", "FER"), ("per", "PER"), ("per_runs", "PER (runs)"), ("frame_ua", "frame UA")]
        return [(key, name) for key, name in found if key in summary.pooled]
    if summary.task != "regression":
        return [("wa", "WA"), ("ua", "UA"), ("f1", "macro-F1")]
    return [(f"{figure}_{target}", f"{figure.upper()} {target}") for target in summary.targets
            for figure in ("ccc", "rmse")]


def target_corpus_lines(summary: CvResults, figures: list[tuple[str, str]]) -> list[str]:
    """A cross-corpus run (each fold tests one corpus): the figures per target corpus and their
    mean, each row naming its protocol."""
    targets = [fold.get("test_corpora") or [] for fold in summary.folds]
    if not all(len(t) == 1 for t in targets) or len({t[0] for t in targets}) != len(targets):
        return []
    names = [name for _, name in figures]
    lines = ["", "Per target corpus (each trained without it):", "",
             f"| target corpus | protocol | n | {' | '.join(names)} |", "| --- | --- | --- | " + "--- | " * len(names)]
    for fold, (target,) in zip(summary.folds, targets):
        values = " | ".join(_number(fold[key]) for key, _ in figures)
        lines.append(f"| {target} | {fold['protocol']} | {fold['n_test']} | {values} |")
    means = " | ".join(_number(summary.mean[key]) for key, _ in figures)
    lines.append(f"| **mean of {len(targets)} target corpora** | {summary.protocol} | {summary.n_utterances} | "
                 f"{means} |")
    return lines


def utterance_lines(found: dict) -> list[str]:
    """Emotion frames: the utterances decided from their frames, as seed 001 reports them (E, UE)."""
    pooled, mean, ci = found["pooled"], found["mean"], found["ci95"]
    lines = [f"Utterances decided from their frames ({found['rule']}; silence excluded):", "",
             "| figure | pooled | 95% CI (speaker bootstrap) | mean over folds |", "| --- | --- | --- | --- |"]
    for key, name, flip in (("error", "E", "wa"), ("unweighted_error", "UE", "ua"), ("wa", "WA", None),
                            ("ua", "UA", None), ("f1", "macro-F1", None)):
        low, high = ci.get(flip or key) or (None, None)
        if flip and low is not None:  # an error's interval is one minus its accuracy's
            low, high = 1 - high, 1 - low
        interval = "-" if low is None else f"{low:.3f}-{high:.3f}"
        lines.append(f"| {name} | {_number(pooled[key])} | {interval} | {_number(mean[key])} |")
    others = ", ".join(f"{rule} {_number(p['ua'])}" for rule, p in found["rules_pooled"].items())
    return lines + ["", f"Pooled UA by each rule: {others}."]


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def init_lines(init: dict | None) -> list[str]:
    """What a model started from (``init``): the folder, the layers copied and frozen."""
    if not init:
        return []
    frozen = ", ".join(init["frozen"]) or "none"
    head = f"; the new output layer trained alone for {init['head_epochs']} epochs first" if init.get("head_epochs") else ""
    return [f"- initialised from {init['from']} ({init.get('model')}): {init['tensors_copied']} tensors copied "
            f"(layers {', '.join(init['layers_copied'])}), frozen: {frozen}{head}"]


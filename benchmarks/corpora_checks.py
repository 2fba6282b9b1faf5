"""Data checks on EMO-DB, nEMO and ASED (``serkit.corpora.checks``), written to docs/corpora.md.

Reads EMO-DB from ``$SERKIT_DATA/emodb`` (default ``../shared/data/emodb``)
and nEMO and ASED from ``$SERKIT_CORPORA/nemo`` and ``$SERKIT_CORPORA/ased``
(``tools/extract_corpora.py`` puts them there), bad files left out and
reported, and checks them together: duplicates within and across corpora,
empty and clipped files, label counts per speaker, labels given away by file
length.  A corpus that is absent is named in the section, not silently
dropped.  The findings replace the "Data checks" section of docs/corpora.md.

    SERKIT_CORPORA=/work/corpora .venv/bin/python benchmarks/corpora_checks.py [--stdout]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

import pandas as pd

from serkit.corpora import read_corpus, validate_table
from serkit.corpora.checks import (
    CLIP_RUN,
    OFFSET_DBFS,
    QUIET_DBFS,
    SAME_TAKE,
    SATURATED_SHARE,
    WRAP_LEVEL,
    DataReport,
    check_corpora,
)
from machine import write_section  # benchmarks/machine.py

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "corpora.md"
TITLE = "Data checks"
COMMAND = "SERKIT_CORPORA=/work/corpora .venv/bin/python benchmarks/corpora_checks.py"


def corpus_roots() -> dict[str, Path]:
    data = Path(os.environ.get("SERKIT_DATA", REPO.parent / "shared" / "data"))
    corpora = os.environ.get("SERKIT_CORPORA")
    roots = {"emodb": data / "emodb"}
    if corpora:
        roots |= {"nemo": Path(corpora) / "nemo", "ased": Path(corpora) / "ased"}
    return roots


def section(report: DataReport, roots: dict[str, Path], absent: list[str]) -> str:
    def name(path: str) -> str:
        # a corpus-relative name: corpus/path under its root
        for corpus, root in roots.items():
            base = os.path.abspath(root)  # as the readers give paths
            if path.startswith(f"{base}/"):
                return f"{corpus}/{os.path.relpath(path, base)}"
        return path

    corpus_of = {f.path: name(f.path).split("/")[0] for f in report.facts}
    lines = [
        f"## {TITLE}",
        "",
        f"Written by `{COMMAND}` on {datetime.date.today()} (`serkit.corpora.checks`; its docstring "
        f"defines each check). Quiet: peak at most {QUIET_DBFS:g} dBFS. Clipped: {CLIP_RUN} or more "
        f"samples in a run at the file's peak, a sample an integer overflow flipped (opposite sign to "
        f"both neighbours, all beyond {WRAP_LEVEL:g} of full scale), or at least {SATURATED_SHARE:g} "
        f"of samples within 1% of full scale. DC offset: a constant offset (the level of the file's "
        f"digital silence, else its mean) at least {OFFSET_DBFS:g} dBFS off zero (prediction takes it off, training "
        f"does not). Same take: normalised cross-correlation at least "
        f"{SAME_TAKE:g} between two files of one speaker and sentence (at 8 kHz).",
        "",
    ]
    if absent:
        lines += [f"Not checked (absent): {', '.join(absent)}.", ""]
    lines += [
        "| corpus | files | skipped | quiet | clipped | DC offset | identical samples (groups) "
        "| same takes (pairs) | label from length alone, UA | chance |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for corpus, leak in report.duration_leaks.items():
        def count(items) -> int:
            return sum(1 for item in items if corpus_of[item] == corpus)

        groups = [d for d in report.duplicates if corpus_of[d.paths[0]] == corpus]
        lines.append(
            f"| {corpus} | {sum(1 for c in corpus_of.values() if c == corpus)} "
            f"| {sum(1 for s in report.skipped if name(s['path']).startswith(corpus + '/'))} "
            f"| {count(f.path for f in report.quiet)} | {count(f.path for f in report.clipped)} "
            f"| {count(f.path for f in report.biased)} "
            f"| {sum(d.kind == 'samples' for d in groups)} | {sum(d.kind == 'take' for d in groups)} "
            f"| {leak.accuracy:.3f} ({leak.durations} distinct lengths) | {leak.chance:.3f} |"
        )
    cross = [d for d in report.duplicates if len({corpus_of[p] for p in d.paths}) > 1]
    lines += ["", f"Duplicates across corpora: {len(cross) or 'none'}.", ""]
    lines += _listing("Identical samples", [
        f"{', '.join(map(name, d.paths))}" for d in report.duplicates if d.kind == "samples"])
    lines += _listing("Same takes", [
        f"{name(d.paths[0])} ~ {name(d.paths[1])}: {d.similarity:.3f}"
        for d in report.duplicates if d.kind == "take"])
    lines += _listing("Clipped files (runs at peak, overflowed samples, share near full scale)", [
        f"{name(f.path)}: {f.clipped_runs}, {f.wrapped}, {f.saturated:.5f}" for f in report.clipped])
    lines += _listing("Files with a DC offset", [
        f"{name(f.path)}: {f.offset:+.4f}" for f in report.biased])
    lines += _listing("Skipped (unreadable) and quiet files", [
        *(f"{name(s['path'])}: {s['reason']}" for s in report.skipped),
        *(f"{name(f.path)}: peak {f.peak:.4f}" for f in report.quiet)])
    lines += _listing("Speakers without some label of their corpus", [
        f"{speaker}: {', '.join(labels)}" for speaker, labels in report.missing_labels.items()])
    lines += ["<details><summary>Label counts per speaker</summary>", ""]
    for corpus, counts in report.label_counts.groupby(level="corpus"):
        table = counts.droplevel("corpus").loc[:, lambda t: t.sum() > 0]
        lines += [f"**{corpus}**", "", _markdown(table), ""]
    lines += ["</details>", ""]
    return "\n".join(lines)


def _listing(title: str, items: list[str]) -> list[str]:
    if not items:
        return [f"{title}: none.", ""]
    return [f"<details><summary>{title}: {len(items)}</summary>", "", *(f"- {i}" for i in items), "",
            "</details>", ""]


def _markdown(table: pd.DataFrame) -> str:
    header = ["speaker", *map(str, table.columns)]
    rows = [[str(speaker), *map(str, row)] for speaker, row in zip(table.index, table.to_numpy())]
    return "\n".join("| " + " | ".join(r) + " |" for r in [header, ["---"] * len(header), *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stdout", action="store_true", help="print the section instead of writing it")
    args = parser.parse_args(argv)
    roots = corpus_roots()
    present = {c: r for c, r in roots.items() if r.is_dir()}
    absent = [f"{c} ({r})" for c, r in roots.items() if c not in present]
    absent += [] if "nemo" in roots else ["nemo and ased (SERKIT_CORPORA is not set)"]
    if not present:
        print("no corpus found:", ", ".join(absent), file=sys.stderr)
        return 1
    tables = [read_corpus(c, r, skip_bad=True) for c, r in present.items()]
    table = validate_table(pd.concat(tables, ignore_index=True))
    table.attrs["skipped"] = [s for t in tables for s in t.attrs["skipped"]]
    text = section(check_corpora(table), present, absent)
    if args.stdout:
        print(text)
    else:
        write_section(TITLE, text, DOC)
        print(f"wrote the {TITLE!r} section of {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

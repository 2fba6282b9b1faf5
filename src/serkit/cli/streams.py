"""``serkit streams``: the semi-synthetic continuous test bed (:mod:`serkit.corpora.streams`)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from serkit.cli.common import friendly_errors, out, progress_bar
from serkit.errors import ConfigError

_MINUTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*\.\.\s*(\d+(?:\.\d+)?)\s*$")


def register(app: typer.Typer) -> None:
    """Add the ``streams`` command to ``app``."""
    app.command("streams")(streams)


@friendly_errors
def streams(
    corpus: Annotated[str, typer.Option("--corpus", "-c", help="A categorical corpus reader (emodb, nemo, ased...), "
                                        "or several, comma-separated (emodb,nemo,ased): one test bed of all their speakers.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Empty folder for the RECOLA-layout test bed.")],
    root: Annotated[
        list[str] | None, typer.Option("--root", "-r", help="Folder holding the corpus (default $SERKIT_CORPORA/<corpus>); "
                                       "with several corpora NAME=FOLDER, once per corpus not under $SERKIT_CORPORA.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the speaker split, orders, pauses and noise.")] = 0,
    minutes: Annotated[str, typer.Option(help="Shortest..longest recording, in minutes.")] = "1..5",
    classes: Annotated[str | None, typer.Option(help="Class set to keep first, e.g. 4class (default: all).")] = None,
    lag: Annotated[float, typer.Option(help="The annotator's reaction lag, seconds.")] = 2.0,
    smoothing: Annotated[float, typer.Option(help="Time constant of the annotator's smoothing, seconds.")] = 1.0,
) -> None:
    """Semi-synthetic long recordings of one speaker each, with arousal/valence traces, in RECOLA's layout.

    Read the result with --corpus recola --root OUT; docs/streams.md says how it is made.
    """
    from serkit.corpora import select_classes
    from serkit.corpora.annotator import Annotator
    from serkit.corpora.streams import MANIFEST, StreamSettings, make_streams

    settings = StreamSettings(minutes=_minutes(minutes), annotator=Annotator(lag=lag, smoothing=smoothing))
    started = time.perf_counter()
    with progress_bar(f"reading {corpus}") as progress:
        table = _read(corpus, root or [], progress)
    if classes:
        table = select_classes(table, classes)
    with progress_bar("speakers") as progress:
        manifest = make_streams(table, out_dir, seed=seed, settings=settings, progress=progress)
    totals = manifest["totals"]
    per_part = ", ".join(f"{part} {len(speakers)}" for part, speakers in manifest["split"].items())
    out.print(f"wrote {totals['recordings']} semi-synthetic recordings, {totals['minutes']:.1f} minutes, "
              f"{totals['utterances']} utterances ({totals['unused']} left out) to {out_dir}; speakers: {per_part}; "
              f"{time.perf_counter() - started:.1f} s", highlight=False)
    out.print(f"manifest: {out_dir / MANIFEST}; read it with --corpus recola --root {out_dir}", highlight=False)


def _read(corpus: str, roots: list[str], progress: Any) -> Any:
    """One corpus's table, or several corpora's in one (speakers prefixed with their corpus)."""
    from serkit.corpora import read_corpus
    from serkit.corpora.multi import read_corpora

    names = [name.strip() for name in corpus.split(",") if name.strip()]
    if len(names) == 1:
        if len(roots) > 1:
            raise ConfigError(f"--root given {len(roots)} times for one corpus")
        root = roots[0].split("=", 1)[-1] if roots else None
        return read_corpus(names[0], root, progress=progress)
    named = dict(entry.split("=", 1) for entry in roots if "=" in entry)
    if len(named) != len(roots) or set(named) - set(names):
        raise ConfigError(f"--root with several corpora takes NAME=FOLDER for NAME among {', '.join(names)}")
    return read_corpora(names, named)


def _minutes(text: str) -> tuple[float, float]:
    match = _MINUTES.match(text)
    if not match:
        raise ConfigError(f"--minutes {text!r}: give shortest..longest, e.g. 1..5")
    return float(match[1]), float(match[2])

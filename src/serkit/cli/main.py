"""The ``serkit`` command line: the only layer that talks to a terminal.

Every command is a thin shell over the library: it parses options, calls the
library with a progress callback, and renders the result.  A
:class:`~serkit.errors.SerkitError` becomes a one-line message and exit
status 1, never a traceback.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.logging import RichHandler
from rich.table import Table

from serkit.cli import experiments as experiment_commands
from serkit.cli import inference as inference_commands
from serkit.cli import serving as serving_commands
from serkit.cli import streams as streams_commands
from serkit.cli.cluster import ExecutorOpt, features_on_ray
from serkit.cli.common import err, friendly_errors, out, progress_bar
from serkit.cli.experiments import RunOptions as RunOptions  # where scripts and tests have always found it
from serkit.errors import SerkitError
from serkit.outputs import output_folder

app = typer.Typer(
    help="serkit: speech emotion recognition — corpora, features, honest evaluation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
corpus_app = typer.Typer(help="Read corpora and describe them.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False)],
    )


# -- corpus -------------------------------------------------------------------

CorpusOpt = Annotated[str, typer.Option("--corpus", "-c", help="Corpus reader name (see `serkit corpus list`).")]
RootOpt = Annotated[Path, typer.Option("--root", "-r", help="Folder holding the corpus.")]
SkipBadOpt = Annotated[
    bool, typer.Option("--skip-bad", help="Report bad files at the end and carry on with the rest.")
]


@corpus_app.command("list")
@friendly_errors
def corpus_list() -> None:
    """List the corpus readers and the layout each expects."""
    from serkit.corpora import list_corpora

    table = Table("corpus", "expected layout")
    for name, layout in list_corpora().items():
        table.add_row(name, layout)
    out.print(table)


@corpus_app.command("info")
@friendly_errors
def corpus_info(
    corpus: CorpusOpt,
    root: RootOpt,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    skip_bad: SkipBadOpt = False,
) -> None:
    """Utterances, speakers, hours, and counts per label and per speaker."""
    from serkit.corpora import corpus_summary, read_corpus

    with progress_bar(f"reading {corpus}") as progress:
        table = read_corpus(corpus, root, skip_bad=skip_bad, progress=progress)
    summary = corpus_summary(table)
    if as_json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        _print_summary(summary)
    _report_skipped(table.attrs.get("skipped", []))


def _print_summary(summary: dict[str, Any]) -> None:
    out.print(
        f"[bold]{summary['corpus']}[/]: {summary['utterances']} utterances, "
        f"{summary['speakers']} speakers, {summary['hours']:.2f} hours ({summary['hours'] * 60:.1f} minutes)"
    )
    labels = Table("label", "utterances")
    for label, count in summary["labels"].items():
        labels.add_row(str(label), str(count))
    out.print(labels)
    per_speaker = summary.get("per_speaker", {})
    names = list(summary["labels"])
    speakers = Table("speaker", *names, "total")
    for speaker, counts in per_speaker.items():
        row = [str(counts.get(n, 0)) for n in names]
        speakers.add_row(str(speaker), *row, str(sum(counts.values())))
    if per_speaker:
        out.print(speakers)


def _report_skipped(skipped: list[dict[str, str]]) -> None:
    if not skipped:
        return
    err.print(f"[yellow]skipped {len(skipped)} bad file(s):[/]")
    for item in skipped:
        err.print(f"  {item['path']}: {item['reason']}", highlight=False, soft_wrap=True)


# -- features -----------------------------------------------------------------


@app.command("kinds")
@friendly_errors
def kinds(
    describe: Annotated[bool, typer.Option("--describe", "-d", help="Also print each preset's description.")] = False,
) -> None:
    """List the feature presets (the names `--kind` and `--features` accept)."""
    from serkit.features.presets import all_presets

    presets = all_presets().values()
    table = Table("kind", "family", "output", "source")
    table.columns[0].no_wrap = True
    for preset in presets:
        feature = preset.feature
        shape = f"frames, hop {feature.hop}" if feature.frame_level else "one vector"
        table.add_row(preset.name, feature.family, shape, preset.source)
    out.print(table)
    if describe:
        for preset in presets:
            out.print(f"[bold]{preset.name}[/]: {preset.description}", highlight=False)


@app.command("features")
@friendly_errors
def features(
    kind: Annotated[str, typer.Option("--kind", "-k", help="Feature preset, e.g. logmel-seed001 or NAME:key=value.")],
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Audio files or folders (instead of --corpus/--root).")
    ] = None,
    corpus: Annotated[str | None, typer.Option("--corpus", "-c", help="Corpus reader name.")] = None,
    root: Annotated[Path | None, typer.Option("--root", "-r", help="Folder holding the corpus.")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write one .npy per file and features.json here.")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: every core).")] = None,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache", help="Feature cache folder (default $SERKIT_CACHE or ~/.cache/serkit).")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the cache.")] = False,
    skip_bad: SkipBadOpt = False,
    executor: ExecutorOpt = "local",
) -> None:
    """Extract a feature for a corpus or for files, using every core and the cache."""
    from serkit.features.cache import FeatureCache
    from serkit.features.extract import extract
    from serkit.features.presets import get_preset

    preset = get_preset(kind)
    if out_dir is not None:
        output_folder(out_dir)  # before the extraction, not after it
    files = _input_files(paths, corpus, root, skip_bad)
    cache = None if no_cache else FeatureCache(cache_dir)
    if executor != "local":  # into the cache, with an index of where each file's array is
        return _report_skipped(features_on_ray(preset, files, executor, cache, workers, skip_bad, out_dir))
    with progress_bar(f"{preset.name}") as progress:
        result = extract(
            preset.feature, files, cache=cache, workers=workers, skip_bad=skip_bad, progress=progress
        )
    _print_extraction(preset, result)
    if out_dir is not None:
        _write_features(out_dir, preset, result)
    _report_skipped([{"path": p, "reason": r} for p, r in result.errors])


def _input_files(
    paths: list[Path] | None, corpus: str | None, root: Path | None, skip_bad: bool
) -> list[str]:
    if bool(paths) == bool(corpus or root):
        raise SerkitError("give either audio files/folders or --corpus with --root")
    if corpus or root:
        if not (corpus and root):
            raise SerkitError("--corpus and --root go together")
        from serkit.corpora import read_corpus

        return list(read_corpus(corpus, root, skip_bad=skip_bad)["path"])
    from serkit.features.base import find_audio

    files: list[str] = []
    for path in paths or []:
        files.extend(map(str, find_audio(path)) if path.is_dir() else [str(path)])
    return files


def _print_extraction(preset: Any, result: Any) -> None:
    shapes = [a.shape for a in result.features.values()]
    table = Table("kind", "files", "failed", "shape (first)", "frames (min-max)")
    frames = [s[-1] for s in shapes] if preset.feature.frame_level and shapes else []
    table.add_row(
        preset.name,
        str(len(shapes)),
        str(len(result.errors)),
        str(shapes[0]) if shapes else "-",
        f"{min(frames)}-{max(frames)}" if frames else "-",
    )
    out.print(table)


def _write_features(out_dir: Path, preset: Any, result: Any) -> None:
    import numpy as np

    out_dir.mkdir(parents=True, exist_ok=True)
    index = {}
    for i, (path, array) in enumerate(result.features.items()):
        name = f"{i:05d}_{Path(path).stem}.npy"
        np.save(out_dir / name, array)
        index[path] = {"file": name, "shape": list(array.shape)}
    manifest = {"kind": preset.name, "feature": preset.feature.to_dict(), "files": index}
    (out_dir / "features.json").write_text(json.dumps(manifest, indent=2) + "\n")
    out.print(f"wrote {len(index)} arrays and features.json to {out_dir}")


# The experiments (cv, grid, train), the later stages' commands (predict, models, export, serve) and the
# continuous test bed (streams) live in their own modules.
experiment_commands.register(app)
inference_commands.register(app)
serving_commands.register(app)
streams_commands.register(app)

"""``serkit predict``, ``serkit models`` and ``serkit export``: the inference commands.

:func:`register` adds them to the main app; the work is done by
:mod:`serkit.inference`, this module only parses options and renders results.
"""

from __future__ import annotations

import csv
import glob
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

FORMATS = ("table", "json", "csv")
GLOB_CHARS = set("*?[")


def register(app: typer.Typer) -> None:
    """Add ``predict``, ``models`` and ``export`` to ``app``."""
    from serkit.cli.common import err, friendly_errors, out, progress_bar
    from serkit.errors import SerkitError

    @app.command("predict")
    @friendly_errors
    def predict(
        paths: Annotated[list[str], typer.Argument(help="Audio files, folders (searched recursively) or globs.")],
        model: Annotated[
            str | None,
            typer.Option("--model", "-m", help="Model folder, shipped model name (`serkit models`) or FILE.onnx; "
                         "default: the shipped default model."),
        ] = None,
        output: Annotated[str, typer.Option("--format", "-f", help="table | json | csv.")] = "table",
        segment: Annotated[
            str, typer.Option(help="auto (segment recordings longer than 8 s; 35 s for a recognizer), none, or SECONDS "
                              "(segment every file into pieces of at most SECONDS).")
        ] = "auto",
        batch_size: Annotated[int, typer.Option(help="Model inputs per forward pass.")] = 32,
        max_duration: Annotated[float, typer.Option(help="Longest recording accepted, in seconds.")] = 3600.0,
        posteriors: Annotated[bool, typer.Option(
            "--posteriors", help="A frame model's JSON also gives each class's posterior per frame.")] = False,
        adapt: Annotated[bool, typer.Option(
            "--adapt", help="Declared label-free adaptation: standardise features by the statistics of what is "
            "predicted (at least 30 s of audio: a folder, many files, a long recording; a continuous model: each "
            "recording by its own, at least 10 s); every output says so.")
        ] = False,
        traces: Annotated[Path | None, typer.Option(
            "--traces", help="A continuous model: write each file's trace to DIR/<file>.csv (time,arousal,valence: "
            "a row per frame, time its centre in seconds).", metavar="DIR")] = None,
        plot: Annotated[Path | None, typer.Option(
            "--plot", help="A continuous model: plot each file's trace against time to DIR/<file>.png.",
            metavar="DIR")] = None,
    ) -> None:
        """Predict the emotion of each file: label, class probabilities, and a timeline for long ones."""
        from serkit.inference import InferenceConfig, Prediction, load_model
        from serkit.inference.frames import FramePredictor

        if output not in FORMATS:
            raise SerkitError(f"--format must be one of {', '.join(FORMATS)}, not {output!r}")
        config = InferenceConfig(segment=segment, batch_size=batch_size, max_duration=max_duration,
                                 posteriors=posteriors)
        predictor = load_model(model, config)
        if adapt:
            from serkit.inference.adapt import adapting

            predictor = adapting(predictor)
        trace_outputs = [(option, folder, kind) for option, folder, kind in
                         (("--traces", traces, "csv"), ("--plot", plot, "png")) if folder is not None]
        if trace_outputs:  # checked before any prediction: a bad folder is one line, not minutes later
            from serkit.inference.traces import check_traced
            from serkit.outputs import output_folder

            for option, folder, _ in trace_outputs:
                check_traced(predictor.spec, option)
                output_folder(folder, option)
        files, unmatched = expand_paths(paths)
        with progress_bar("predicting") as progress:
            predictions = predictor.predict_files(files, progress=progress)
        if adapt:  # never silently on: the table and csv say it here, each json element carries it
            err.print(_adaptation_note(predictor, predictions), highlight=False)
        if trace_outputs:
            from serkit.inference.traces import write_traces

            for option, folder, kind in trace_outputs:
                written = write_traces(predictions, folder, kind)
                err.print(f"{option}: wrote {len(written)} {kind.upper()} file(s) to {folder}", highlight=False)
        predictions += [Prediction(p, None, error=f"{p}: {reason}") for p, reason in unmatched]
        # a frame model's rows are its runs of equal labels, without a column per class
        columns = () if isinstance(predictor, FramePredictor) and not predictor.spec.regression else predictor.labels
        if output == "json":
            print(json.dumps([p.to_dict() for p in predictions], indent=2, ensure_ascii=False))
        elif output == "csv":
            write_csv(predictions, columns)
        else:
            out.print(prediction_table(predictions, columns))
        failed = [p for p in predictions if not p.ok]
        if failed:
            if output == "table":
                for p in failed:
                    err.print(f"[bold red]error:[/] {p.error}", highlight=False, soft_wrap=True)
            err.print(f"[red]{len(failed)} of {len(predictions)} file(s) failed[/]", highlight=False)
            raise typer.Exit(1)

    # the same command under the name a ctc model's users look for (issue 14)
    app.command("transcribe", help="Alias of `serkit predict` (the same options), for ctc models: "
                "a transcript per file.")(predict)

    @app.command("models")
    @friendly_errors
    def models() -> None:
        """List the shipped emotion models (with a summary of each card) and the pretrained
        speech recognizers whose layers serve as features."""
        from rich.table import Table

        from serkit.features.whisper.registry import list_recognizers, recognizer_status
        from serkit.inference.registry import DEFAULT_MODEL, SHIPPED_MODELS, shipped_models

        shipped = shipped_models()
        if shipped:
            table = Table("name", "summary", title="emotion models")
            for entry in shipped:
                table.add_row(entry.name + (" (used by default)" if entry.name == DEFAULT_MODEL else ""),
                              entry.summary)
            out.print(table)
        else:
            err.print(f"no shipped models are installed (in {SHIPPED_MODELS})")
        recognizers = Table("name", "what", "packages", "status", title="recognizers (feature kinds)")
        for recognizer in list_recognizers():
            recognizers.add_row(recognizer.name, recognizer.description, ", ".join(recognizer.requirements),
                                recognizer_status(recognizer))
        out.print(recognizers)

    @app.command("export")
    @friendly_errors
    def export(
        model: Annotated[str, typer.Option("--model", "-m", help="Model folder or shipped model name.")],
        out_file: Annotated[Path, typer.Option("--out", "-o", help="File to write (FILE.onnx).")],
        export_format: Annotated[str, typer.Option("--format", help="Only onnx.")] = "onnx",
    ) -> None:
        """Export a model as one self-contained ONNX file that `serkit predict --model` accepts."""
        from serkit.inference import resolve_model
        from serkit.inference.export import export_onnx

        if export_format != "onnx":
            raise SerkitError(f"--format: only onnx is supported, not {export_format!r}")
        source = resolve_model(model)
        if source.suffix.lower() == ".onnx":
            raise SerkitError(f"{source}: already an ONNX file")
        with progress_bar("exporting"):
            written = export_onnx(source, out_file)
        out.print(f"wrote {written} ({written.stat().st_size / 1e6:.2f} MB)", highlight=False)


def expand_paths(args: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Audio files named by ``args`` (files, folders searched recursively, globs), in order, and
    the arguments that matched nothing, with why.  A file that does not exist is kept: its own
    prediction says so."""
    from serkit.features.base import AUDIO_SUFFIXES, find_audio

    files: list[str] = []
    unmatched: list[tuple[str, str]] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            found = find_audio(path)
            files.extend(map(str, found))
            if not found:
                unmatched.append((arg, f"no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder"))
        elif not path.exists() and GLOB_CHARS & set(arg):
            matched = sorted(glob.glob(arg, recursive=True))
            for m in matched:
                files.extend(map(str, find_audio(m)) if Path(m).is_dir() else [m])
            if not matched:
                unmatched.append((arg, "no file matches this pattern"))
        else:
            files.append(arg)
    return files, unmatched


def prediction_table(predictions: list[Any], labels: tuple[str, ...]) -> Any:
    """A rich table: one row per file, and one per segment under a segmented file."""
    from rich.table import Column, Table

    from serkit.inference.frames import frame_runs

    table = Table(Column("file", overflow="fold", min_width=24), "duration", _what(predictions), *labels)
    for p in predictions:
        if not p.ok:
            table.add_row(p.path, _seconds(p.duration), "[red]failed[/]", *[""] * len(labels))
            continue
        only_short = " [dim](short speech only)[/]" if p.short_speech_only else ""
        table.add_row(p.path, _seconds(p.duration), f"[bold]{p.label or p.transcript or ''}[/]{only_short}",
                      *_outputs(p, labels, 3))
        for s in p.segments or frame_runs(p):
            table.add_row(f"  {s.start:.2f}-{s.end:.2f} s", _seconds(s.end - s.start),
                          (s.label or s.transcript or "") + (" [dim](too short)[/]" if s.too_short else ""),
                          *_outputs(s, labels, 3))
    return table


def write_csv(predictions: list[Any], labels: tuple[str, ...]) -> None:
    """One row per file (``start``/``end`` empty) and one per segment (a frame model's runs of equal
    labels); ``error`` for a failed file.  Where a file was segmented, a last column ``too_short``
    says whether a row's result rests on speech too short to trust (a file's: on such segments only)."""
    from serkit.inference.frames import frame_runs

    # --adapt: a column says on what statistics each row was standardised
    adapted = [_adaptation(p) for p in predictions]
    extra = ["adaptation"] if any(adapted) else []
    # a segmented file: a last column says which rows rest on speech too short to trust
    timed = any(p.ok and p.segments is not None for p in predictions)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["path", "start", "end", "duration", _what(predictions), *labels, "error", *extra,
                     *["too_short"] * timed])
    for p, note in zip(predictions, adapted):
        more = [note] if extra else []
        if not p.ok:
            writer.writerow([p.path, "", "", _number(p.duration), "", *[""] * len(labels), p.error, *more,
                             *[""] * timed])
            continue
        writer.writerow([p.path, "", "", _number(p.duration), p.label or p.transcript or "", *_outputs(p, labels, 6),
                         "", *more, *[_flag(p.short_speech_only)] * timed])
        for s in p.segments or frame_runs(p):
            writer.writerow([p.path, f"{s.start:.3f}", f"{s.end:.3f}", f"{s.end - s.start:.3f}", s.label or s.transcript or "",
                             *_outputs(s, labels, 6), "", *more, *[_flag(s.too_short)] * timed])


def _flag(value: bool | None) -> str:
    """A flag as JSON writes it, empty where it does not apply."""
    return "" if value is None else str(value).lower()


def _adaptation(prediction: Any) -> str:
    """``label-free: N files, S s`` (or ``label-free: own statistics, S s``) for a prediction
    made with --adapt, else empty."""
    a = getattr(prediction, "adaptation", None)
    if a and a.get("per") == "recording":
        return f"label-free: own statistics, {a['seconds']:g} s"
    return f"label-free: {a['files']} files, {a['seconds']:g} s" if a else ""


def _adaptation_note(predictor: Any, predictions: list[Any]) -> str:
    """The line saying that --adapt was on, and on what statistics."""
    a = getattr(predictor, "adaptation", None)
    if a is not None:
        return (f"label-free adaptation on: features standardised by the statistics of {a['files']} "
                f"file(s), {a['seconds']:g} s, no labels")
    adapted = [p.adaptation for p in predictions if getattr(p, "adaptation", None)]
    return (f"label-free adaptation on: each recording's features standardised by its own statistics "
            f"({len(adapted)} file(s), {sum(a['seconds'] for a in adapted):.1f} s), no labels")


def _outputs(prediction: Any, names: tuple[str, ...], digits: int) -> list[str]:
    """A classifier's probability per class, or a regression's value per target, in column order."""
    outputs = prediction.probabilities if prediction.values is None else prediction.values
    return [f"{outputs[k]:.{digits}f}" for k in names]


def _seconds(duration: float | None) -> str:
    return "" if duration is None else f"{duration:.2f} s"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _what(predictions: list[Any]) -> str:
    """The heading of the column a file's result goes in: a ctc model's transcript, else its label."""
    return "transcript" if any(getattr(p, "transcript", None) is not None for p in predictions) else "label"

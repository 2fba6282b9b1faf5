"""A continuous model's traces as files: a CSV and a plot per recording.

A continuous model (``task: regression`` with a frame model: ``dilated``,
``updown``, ``frame_blstm``, ``receptive_probe``) predicts each of its targets
(arousal, valence) on every frame of a recording, ``frame_rate`` frames per
second (:class:`~serkit.inference.frames.FramePredictor`).  Frame ``i`` stands
for the time ``i / frame_rate`` s: the centre the feature's grid gives it
(:class:`~serkit.features.base.FrameGrid`), where training sampled the gold
trace for it (:mod:`serkit.experiments.trace_targets`).

:func:`write_traces` writes ``serkit predict --traces DIR`` (``DIR/<file>.csv``:
``time,<target>...``, a row per frame) and ``--plot DIR`` (``DIR/<file>.png``:
each target against time, on the targets' range [-1, 1]).  Files are named by
the recording's name (:func:`trace_names`), written atomically.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from serkit.errors import SerkitError
from serkit.inference.predictor import Prediction
from serkit.inference.spec import ModelSpec
from serkit.outputs import atomic_write, atomic_write_text

#: Where the targets live (the labels' places on the arousal/valence plane).
TARGET_RANGE = (-1.0, 1.0)
TraceFile = Literal["csv", "png"]


def check_traced(spec: ModelSpec, option: str) -> None:
    """Raise unless the model predicts a trace (a per-frame regression) for ``option`` to write."""
    if not (spec.frame and spec.regression):
        raise SerkitError(f"{option}: {spec.source} gives no trace; traces come from a continuous model "
                          "(task: regression with a frame model: dilated, updown, frame_blstm, receptive_probe)")


def trace_times(prediction: Prediction) -> np.ndarray:
    """Each frame's centre time in seconds."""
    frames = len(next(iter(prediction.trace.values())))
    return np.arange(frames) / prediction.frame_rate


def trace_csv(prediction: Prediction) -> str:
    """``time,<target>...`` and a row per frame (seconds to the millisecond, values to 4 decimals)."""
    text = io.StringIO()
    rows = csv.writer(text, lineterminator="\n")
    rows.writerow(["time", *prediction.trace])
    columns = [np.asarray(values, dtype=float) for values in prediction.trace.values()]
    for i, t in enumerate(trace_times(prediction)):
        rows.writerow([f"{t:.3f}", *(f"{c[i]:.4f}" for c in columns)])
    return text.getvalue()


def trace_figure(prediction: Prediction, title: str | None = None) -> Figure:
    """Each target against time in seconds, y on the targets' range [-1, 1] (values beyond it
    are cut off by the axes, not changed)."""
    figure = Figure(figsize=(10, 3.2), layout="constrained")
    axes = figure.add_subplot()
    times = trace_times(prediction)
    for name, values in prediction.trace.items():
        axes.plot(times, values, linewidth=1.2, label=name)
    axes.axhline(0.0, color="0.6", linewidth=0.6)
    axes.set_ylim(*TARGET_RANGE)
    axes.set_xlim(0.0, max(float(prediction.duration or 0.0), float(times[-1]) if len(times) else 0.0) or 1.0)
    axes.set_xlabel("time (s)")
    axes.set_ylabel("predicted value")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right")
    axes.set_title(title or Path(prediction.path or "").name)
    return figure


def trace_names(paths: Sequence[str]) -> list[str]:
    """A file name (no suffix) for each recording's trace: its stem, or where two recordings
    share a stem, its path below their common folder, ``_``-joined (``a/x.wav``, ``b/x.wav``:
    ``a_x.wav``, ``b_x.wav``).  The same path twice gets the same name."""
    stems = [Path(p).stem for p in paths]
    names = []
    for path, stem in zip(paths, stems):
        twins = {os.path.abspath(p) for p, s in zip(paths, stems) if s == stem}
        if len(twins) == 1:
            names.append(stem)
            continue
        common = os.path.commonpath(sorted(twins))
        names.append("_".join(Path(os.path.abspath(path)).relative_to(common).parts))
    return names


def write_traces(predictions: Sequence[Prediction], folder: str | Path, kind: TraceFile) -> list[Path]:
    """Write each traced prediction's CSV or PNG into ``folder`` (which must exist); the
    files written, in order.  Failed predictions have none."""
    traced = [p for p in predictions if p.ok and p.trace is not None]
    written = []
    for prediction, name in zip(traced, trace_names([str(p.path) for p in traced])):
        path = Path(folder) / f"{name}.{kind}"
        if kind == "csv":
            atomic_write_text(path, trace_csv(prediction))
        else:
            figure = trace_figure(prediction)
            FigureCanvasAgg(figure)  # the Agg canvas: files only, no window, no pyplot state
            atomic_write(path, lambda temporary, f=figure: f.savefig(temporary, format="png", dpi=100))
        written.append(path)
    return written

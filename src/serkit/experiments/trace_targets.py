"""A per-frame regression's targets from time-continuous traces (RECOLA's gold standard, or the
traces ``serkit streams`` writes), on the feature's frame grid.

A corpus whose table names a trace per target (``arousal_trace``, ``valence_trace``: the RECOLA
reader) gives a frame model a value per frame: each trace sampled at the centre time of every
feature frame, linearly between the trace's points and held at its first and last value beyond
them (a trace ends up to one frame before the audio does).  Without traces, a frame model learns
the utterance's value on each of its frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from serkit.corpora.recola import read_trace
from serkit.errors import SerkitError
from serkit.features.base import FrameGrid


def trace_column(target: str) -> str:
    """The corpus table's column holding the path of target ``target``'s trace."""
    return f"{target}_trace"


def has_traces(table: pd.DataFrame, targets: Sequence[str]) -> bool:
    """Whether the table names a trace for every target (on some row: a reader's table may hold
    the column empty)."""
    return bool(targets) and all(trace_column(t) in table.columns and table[trace_column(t)].notna().any()
                                 for t in targets)


def trace_frames(row: Any, targets: Sequence[str], grid: FrameGrid, n_frames: int) -> np.ndarray:
    """``(n_frames, targets)`` float32: each target's trace at the centre of each of the
    ``n_frames`` frames of ``grid``."""
    times = grid.times(n_frames)
    columns = []
    for target in targets:
        path = getattr(row, trace_column(target), None)
        if not isinstance(path, str) or not path:
            raise SerkitError(f"{row.path}: no {target} trace; a recording without one cannot be trained "
                              "or scored frame by frame (leave it out of the split)")
        trace = read_trace(path)
        columns.append(np.interp(times, trace.times, trace.values))
    return np.stack(columns, axis=1).astype(np.float32)

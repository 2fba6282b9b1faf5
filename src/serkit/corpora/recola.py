"""RECOLA in the AVEC 2016 challenge layout (Ringeval et al., 2013; Valstar et al., 2016).

Layout expected under ``root`` (the AVEC 2016 emotion sub-challenge data)::

    root/recordings_audio/train_1.wav .. train_9.wav, dev_1.wav .. dev_9.wav, test_*.wav
    root/ratings_gold_standard/arousal/train_1.arff ...
    root/ratings_gold_standard/valence/train_1.arff ...

Each recording is about five minutes of one speaker in a spontaneous French
dyadic interaction; the name gives the partition (``train``, ``dev``,
``test``), and the speaker id is the recording's name, since AVEC 2016 does
not name the speakers.  A gold-standard file is a time-continuous trace,
one value every 40 ms, in ARFF::

    @relation GOLDSTANDARD
    @attribute Instance_name string
    @attribute frameTime numeric
    @attribute GoldStandard numeric
    @data
    'train_1',0.00,0.034

Training and development recordings must have both traces; test recordings
have none in AVEC 2016 (their ``arousal``/``valence`` are NaN and their trace
columns None) unless the files are present.  ``arousal`` and ``valence`` in
the table are the traces' means; :func:`read_trace` reads a trace itself,
and :func:`traces` the traces of one table row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serkit.corpora.scan import build_table, corpus_root, find_files
from serkit.errors import CorpusError
from serkit.progress import Progress

NAME = "recola"
LAYOUT = "recordings_audio/train_1.wav, ratings_gold_standard/{arousal,valence}/train_1.arff (AVEC 2016)"

DIMENSIONS = ("arousal", "valence")
_RECORDING = re.compile(r"^(?P<partition>train|dev|test)_\d+$")
_ATTRIBUTES = ("instance_name", "frametime", "goldstandard")


@dataclass(frozen=True)
class Trace:
    """A time-continuous rating: ``values[i]`` holds from ``times[i]`` seconds on."""

    times: np.ndarray
    values: np.ndarray

    @property
    def mean(self) -> float:
        return float(self.values.mean())


def read(root: str | Path, *, skip_bad: bool = False, progress: Progress | None = None) -> pd.DataFrame:
    """The RECOLA (AVEC 2016) table of ``root`` (see the module's layout)."""
    root = corpus_root(root, NAME)
    audio = root / "recordings_audio"
    if not audio.is_dir():
        raise CorpusError(f"{root}: no recordings_audio/ folder; RECOLA's AVEC 2016 layout is {LAYOUT}")
    records = [_record(path, root) for path in find_files(audio, "*.wav")]
    return build_table(NAME, records, root=root, skip_bad=skip_bad, progress=progress)


def traces(row: Mapping[str, Any]) -> dict[str, Trace]:
    """The time-continuous traces of one table row (a dimension with no trace is left out)."""
    return {
        dimension: read_trace(row[f"{dimension}_trace"])
        for dimension in DIMENSIONS
        if row.get(f"{dimension}_trace") is not None
    }


def read_trace(path: str | Path) -> Trace:
    """Read an AVEC gold-standard ARFF file (instance name, frame time, value per row)."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: gold-standard file not found")
    attributes, rows, in_data = [], [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("%"):
            continue
        lower = line.lower()
        if not in_data:
            if lower.startswith("@attribute"):
                attributes.append(lower.split()[1])
            elif lower.startswith("@data"):
                in_data = True
            continue
        fields = [f.strip().strip("'\"") for f in line.split(",")]
        try:
            rows.append((fields[0], float(fields[1]), float(fields[2])))
        except (ValueError, IndexError):
            raise CorpusError(f"{path}, line {number}: expected 'name',time,value, got {line!r}") from None
    if tuple(attributes) != _ATTRIBUTES:
        raise CorpusError(f"{path}: attributes {attributes} are not Instance_name, frameTime, GoldStandard")
    if not rows:
        raise CorpusError(f"{path}: no @data rows")
    names = {name for name, _, _ in rows}
    if names != {path.stem}:
        raise CorpusError(f"{path}: rows name {sorted(names)}, expected only {path.stem!r}")
    times = np.array([t for _, t, _ in rows])
    values = np.array([v for _, _, v in rows])
    if np.any(np.diff(times) <= 0) or not np.isfinite(values).all():
        raise CorpusError(f"{path}: frame times must increase and values be finite")
    return Trace(times, values)


def _record(path: Path, root: Path) -> dict:
    match = _RECORDING.match(path.stem)
    if not match:
        raise CorpusError(f"{path}: not an AVEC 2016 recording name (train_N, dev_N or test_N)")
    record = {
        "path": str(path),
        "utterance": path.stem,
        "speaker": path.stem,
        "elicitation": "spontaneous",
        "partition": match["partition"],
    }
    for dimension in DIMENSIONS:
        arff = root / "ratings_gold_standard" / dimension / f"{path.stem}.arff"
        if not arff.is_file():
            if match["partition"] != "test":
                raise CorpusError(f"{arff}: missing; every train and dev recording needs its {dimension} trace")
            continue
        record[f"{dimension}_trace"] = str(arff)
        record[dimension] = read_trace(arff).mean
    return record

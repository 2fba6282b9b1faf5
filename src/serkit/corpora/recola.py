"""RECOLA in the AVEC 2016 challenge layout (Ringeval et al., 2013; Valstar et al., 2016).

Layout expected under ``root`` (the AVEC 2016 emotion sub-challenge data)::

    root/recordings_audio/train_1.wav .. train_9.wav, dev_1.wav .. dev_9.wav, test_*.wav
    root/ratings_gold_standard/arousal/train_1.arff ...
    root/ratings_gold_standard/valence/train_1.arff ...
    root/speakers.csv                  optional speaker map (below)

Each recording is about five minutes of one speaker in a spontaneous French
dyadic interaction; the name gives the partition (``train``, ``dev``,
``test``).  AVEC 2016 does not name the speakers, so without a speaker map
the speaker id is the recording's name.  Two recordings of one speaker would
then look like two speakers to the leakage guard: ``speakers.csv`` (columns
``recording,speaker``, optionally ``gender`` and ``elicitation``; one row per
recording, every recording named) gives each recording its speaker, for real
RECOLA as for the semi-synthetic test bed of :mod:`serkit.corpora.streams`.
A gold-standard file is a time-continuous trace,
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

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serkit.corpora.scan import build_table, corpus_root, find_files
from serkit.corpora.table import ELICITATIONS, GENDERS
from serkit.errors import CorpusError
from serkit.outputs import atomic_write_text
from serkit.progress import Progress

NAME = "recola"
LAYOUT = "recordings_audio/train_1.wav, ratings_gold_standard/{arousal,valence}/train_1.arff (AVEC 2016)"
#: Terms of use, for model cards: the real RECOLA's end-user licence (a test bed made by serkit streams
#: carries its source corpora's terms instead: serkit.corpora.registry.training_licences).
LICENCE = "RECOLA end-user licence agreement"

DIMENSIONS = ("arousal", "valence")
_RECORDING = re.compile(r"^(?P<partition>train|dev|test)_\d+$")
_ATTRIBUTES = ("instance_name", "frametime", "goldstandard")
#: Seconds between gold-standard values (AVEC 2016: 25 per second).
FRAME = 0.04
_ARFF_HEADER = ("@relation GOLDSTANDARD\n\n@attribute Instance_name string\n@attribute frameTime numeric\n"
                "@attribute GoldStandard numeric\n\n@data\n\n")
#: The speaker map at the layout's root, and its columns (the first two required).
SPEAKER_MAP = "speakers.csv"
MAP_COLUMNS = ("recording", "speaker", "gender", "elicitation")


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
    paths = find_files(audio, "*.wav")
    speakers = read_speaker_map(root / SPEAKER_MAP, [p.stem for p in paths])
    records = [{**_record(path, root), **speakers.get(path.stem, {})} for path in paths]
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


def write_trace(path: Path, values: np.ndarray) -> None:
    """Write a gold-standard trace, one value per :data:`FRAME` from 0 s, in AVEC 2016's ARFF
    (the instance name is the file's stem), so that :func:`read_trace` reads it back."""
    name = path.stem
    rows = "".join(f"'{name}',{k * FRAME:.2f},{v:.6f}\n" for k, v in enumerate(values))
    atomic_write_text(path, f"{_ARFF_HEADER}{rows}")


def read_speaker_map(path: Path, recordings: Sequence[str]) -> dict[str, dict[str, str]]:
    """recording -> its table columns (``speaker``, and ``gender``/``elicitation`` where given)
    from the speaker map at ``path``; empty when there is none (each recording its own speaker).

    Every one of ``recordings`` must be named once, and only those: a recording left out would
    silently become a speaker of its own again.
    """
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = tuple(reader.fieldnames or ())
        if columns[:2] != MAP_COLUMNS[:2] or set(columns) - set(MAP_COLUMNS):
            raise CorpusError(f"{path}: columns {list(columns)}; a speaker map has recording,speaker "
                              f"and optionally {' and '.join(MAP_COLUMNS[2:])}")
        rows = list(reader)
    found: dict[str, dict[str, str]] = {}
    for number, row in enumerate(rows, 2):
        where = f"{path}, line {number}"
        if None in row or any(not row[c] for c in MAP_COLUMNS[:2]):
            raise CorpusError(f"{where}: expected recording,speaker and no more fields than the header")
        if row["recording"] in found:
            raise CorpusError(f"{where}: recording {row['recording']!r} is mapped twice")
        if row.get("gender") and row["gender"] not in GENDERS:
            raise CorpusError(f"{where}: gender {row['gender']!r} is not one of {', '.join(GENDERS)}")
        if row.get("elicitation") and row["elicitation"] not in ELICITATIONS:
            raise CorpusError(f"{where}: elicitation {row['elicitation']!r} is not one of {', '.join(ELICITATIONS)}")
        found[row["recording"]] = {c: row[c] for c in MAP_COLUMNS[1:] if row.get(c)}
    unmapped = sorted(set(recordings) - set(found))
    unknown = sorted(set(found) - set(recordings))
    if unmapped or unknown:
        problem = (f"does not map {', '.join(unmapped[:3])}" if unmapped
                   else f"maps {', '.join(unknown[:3])}, not in recordings_audio/")
        raise CorpusError(f"{path}: {problem} ({len(unmapped) + len(unknown)} in all); "
                          "a speaker map names every recording once")
    return found


def write_speaker_map(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write the speaker map of ``rows``, dicts holding :data:`MAP_COLUMNS` (the first two
    required, other keys ignored)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(MAP_COLUMNS)
    writer.writerows([row.get(column) or "" for column in MAP_COLUMNS] for row in rows)
    atomic_write_text(path, text.getvalue())


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

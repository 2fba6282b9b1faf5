"""TIMIT, the DARPA acoustic-phonetic speech corpus (Garofolo et al., 1993): no emotion labels.

Layout expected under ``root`` (the corpus's ``TIMIT`` folder, upper or lower
case alike)::

    root/TRAIN/DR1/FCJF0/SA1.WAV     NIST SPHERE audio, 16 kHz
    root/TRAIN/DR1/FCJF0/SA1.PHN     phone segments, "<start> <end> <phone>" in samples
    root/TRAIN/DR1/FCJF0/SA1.WRD     word segments, same format
    root/TRAIN/DR1/FCJF0/SA1.TXT     "<start> <end> <sentence>"
    root/TEST/...

A speaker folder is the sex (``F``/``M``), initials and a digit; dialect
regions are ``DR1``..``DR8``; a sentence is ``SA1``-``SA2`` (read by every
speaker), ``SX<n>`` (by seven) or ``SI<n>`` (by one).  soundfile reads the
SPHERE files directly.  ``partition`` is ``train`` or ``test``, ``text`` the
sentence id, ``alignment`` the ``.PHN`` file, ``transcript`` the ``.TXT``
sentence.  Copies that also hold RIFF conversions named ``SA1.WAV.wav`` are
read from the SPHERE originals only.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from serkit.corpora.scan import build_table, corpus_root, find_files
from serkit.errors import CorpusError
from serkit.progress import Progress

NAME = "timit"
LAYOUT = "TRAIN|TEST/DRn/[FM]XXXn/SA1.WAV (NIST SPHERE) with .PHN, .WRD, .TXT"

_UTTERANCE = re.compile(r"^s[aix]\d+$", re.IGNORECASE)
_SPEAKER = re.compile(r"^(?P<sex>[fm])[a-z]{3}\d$", re.IGNORECASE)
_SEX = {"f": "female", "m": "male"}


def read(root: str | Path, *, skip_bad: bool = False, progress: Progress | None = None) -> pd.DataFrame:
    """The TIMIT table of ``root`` (see the module's layout)."""
    root = corpus_root(root, NAME)
    records = [
        _record(path)
        for path in find_files(root, "*/*/*/*")
        if path.suffix.lower() == ".wav" and _UTTERANCE.match(path.stem)
    ]
    return build_table(NAME, records, root=root, skip_bad=skip_bad, progress=progress)


def _record(path: Path) -> dict:
    speaker_dir, region_dir, partition_dir = path.parents[0], path.parents[1], path.parents[2]
    speaker = _SPEAKER.match(speaker_dir.name)
    if (
        not speaker
        or not re.match(r"^dr[1-8]$", region_dir.name, re.IGNORECASE)
        or partition_dir.name.lower() not in ("train", "test")
    ):
        raise CorpusError(f"{path}: not TRAIN|TEST/DRn/[FM]XXXn/<sentence>.WAV")
    phn = _sibling(path, ".phn")
    txt = _sibling(path, ".txt")
    return {
        "path": str(path),
        "utterance": f"{speaker_dir.name.upper()}_{path.stem.upper()}",
        "speaker": speaker_dir.name.upper(),
        "gender": _SEX[speaker["sex"].lower()],
        "text": path.stem.upper(),
        "transcript": _sentence(txt) if txt else None,
        "elicitation": "read",
        "partition": partition_dir.name.lower(),
        "alignment": str(phn) if phn else None,
    }


def _sibling(path: Path, suffix: str) -> Path | None:
    for candidate in (path.with_suffix(suffix.upper()), path.with_suffix(suffix)):
        if candidate.is_file():
            return candidate
    return None


def _sentence(path: Path) -> str:
    fields = path.read_text(encoding="ascii", errors="replace").split(None, 2)
    if len(fields) < 3 or not (fields[0].isdigit() and fields[1].isdigit()):
        raise CorpusError(f"{path}: expected '<start> <end> <sentence>'")
    return fields[2].strip()

"""LibriSpeech (Panayotov et al., ICASSP 2015): read English audiobooks, no emotion labels.

Layout expected under ``root``, the ``LibriSpeech`` folder as distributed
(``root`` may also be one subset folder, with ``SPEAKERS.TXT`` one level up)::

    root/SPEAKERS.TXT
    root/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<nnnn>.flac
    root/<subset>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt

e.g. ``train-clean-5/1867/154075/1867-154075-0000.flac``.  A transcript file
holds one line per utterance, ``<utterance id> <UPPER-CASE WORDS>``; every
flac file must have its line.  ``SPEAKERS.TXT`` (``ID | SEX | SUBSET |
MINUTES | NAME``, ``;`` comments) gives each speaker's sex; without it gender
is None.  ``session`` is the book chapter, ``partition`` the subset.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from serkit.corpora.scan import build_table, corpus_root, find_files
from serkit.errors import CorpusError
from serkit.progress import Progress

log = logging.getLogger(__name__)

NAME = "librispeech"
LAYOUT = (
    "<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<nnnn>.flac with "
    "<speaker>-<chapter>.trans.txt, SPEAKERS.TXT"
)
#: Terms of use, for model cards.
LICENCE = "CC BY 4.0"

_NAME = re.compile(r"^(?P<speaker>\d+)-(?P<chapter>\d+)-\d+$")
_SEX = {"F": "female", "M": "male"}


def read(root: str | Path, *, skip_bad: bool = False, progress: Progress | None = None) -> pd.DataFrame:
    """The LibriSpeech table of ``root`` (see the module's layout)."""
    root = corpus_root(root, NAME)
    genders = _genders(root)
    records = []
    for chapter in sorted({p.parent for p in find_files(root, "**/*.flac")}):
        transcripts = _transcripts(chapter)
        records.extend(_record(path, transcripts, genders) for path in find_files(chapter, "*.flac"))
    return build_table(NAME, records, root=root, skip_bad=skip_bad, progress=progress)


def _record(path: Path, transcripts: dict[str, str], genders: dict[str, str]) -> dict:
    match = _NAME.match(path.stem)
    if not match or (path.parent.parent.name, path.parent.name) != (match["speaker"], match["chapter"]):
        raise CorpusError(f"{path}: not <speaker>/<chapter>/<speaker>-<chapter>-<nnnn>.flac")
    if path.stem not in transcripts:
        raise CorpusError(f"{path}: no line for {path.stem} in {match['speaker']}-{match['chapter']}.trans.txt")
    return {
        "path": str(path),
        "utterance": path.stem,
        "speaker": match["speaker"],
        "gender": genders.get(match["speaker"]),
        "session": match["chapter"],
        "transcript": transcripts[path.stem],
        "elicitation": "read",
        "partition": path.parents[2].name,
    }


def _transcripts(chapter: Path) -> dict[str, str]:
    path = chapter / f"{chapter.parent.name}-{chapter.name}.trans.txt"
    if not path.is_file():
        raise CorpusError(f"{path}: transcript file missing")
    transcripts = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        utterance, _, words = line.strip().partition(" ")
        if utterance:
            transcripts[utterance] = words.strip()
    return transcripts


def _genders(root: Path) -> dict[str, str]:
    for folder in (root, root.parent):
        path = folder / "SPEAKERS.TXT"
        if path.is_file():
            break
    else:
        log.warning("%s: no SPEAKERS.TXT here or one level up; gender left unknown", root)
        return {}
    genders = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith(";"):
            continue
        fields = [f.strip() for f in line.split("|", 4)]  # the last field, a name, may hold '|'
        if len(fields) < 2 or fields[1] not in _SEX:
            raise CorpusError(f"{path}, line {number}: expected 'ID | SEX | ...' with SEX F or M")
        genders[fields[0]] = _SEX[fields[1]]
    return genders

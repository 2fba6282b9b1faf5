"""RAVDESS, the Ryerson Audio-Visual Database of Emotional Speech and Song (Livingstone & Russo, 2018).

Layout expected under ``root`` (the ``Audio_Speech_Actors_01-24`` archive)::

    root/Actor_AA/03-01-EE-II-SS-RR-AA.wav      e.g. Actor_01/03-01-05-01-01-01-01.wav

The seven two-digit fields are modality (``03`` audio-only), vocal channel
(``01`` speech, ``02`` song), emotion ``EE`` (01 neutral, 02 calm, 03 happy,
04 sad, 05 angry, 06 fearful, 07 disgust, 08 surprised; mapped in
``labels.yaml``), intensity ``II`` (01 normal, 02 strong), statement ``SS``
(01 "Kids are talking by the door", 02 "Dogs are sitting by the door"),
repetition ``RR`` and actor ``AA`` (01 to 24; odd actors are male, even
female), which must match the folder.  Only audio-only speech files are read:
song files (channel ``02``), which share the folders in some copies, are
logged and left out.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from serkit.corpora.labels import map_label
from serkit.corpora.scan import build_table, corpus_root, find_files
from serkit.errors import CorpusError
from serkit.progress import Progress

log = logging.getLogger(__name__)

NAME = "ravdess"
LAYOUT = "Actor_AA/03-01-EE-II-SS-RR-AA.wav (speech, audio-only)"

_NAME = re.compile(
    r"^(?P<modality>\d\d)-(?P<channel>\d\d)-(?P<emotion>\d\d)-(?P<intensity>\d\d)-"
    r"(?P<statement>\d\d)-(?P<repetition>\d\d)-(?P<actor>\d\d)\.wav$"
)
_INTENSITY = {"01": "normal", "02": "strong"}


def read(root: str | Path, *, skip_bad: bool = False, progress: Progress | None = None) -> pd.DataFrame:
    """The RAVDESS speech table of ``root`` (see the module's layout)."""
    root = corpus_root(root, NAME)
    files = find_files(root, "Actor_*/*.wav")
    records = [r for r in map(_record, files) if r is not None]
    if len(records) < len(files):
        log.info("%s: left out %d song files", root, len(files) - len(records))
    return build_table(NAME, records, root=root, skip_bad=skip_bad, progress=progress)


def _record(path: Path) -> dict | None:
    match = _NAME.match(path.name)
    if not match:
        raise CorpusError(f"{path}: not a RAVDESS file name (03-01-EE-II-SS-RR-AA.wav)")
    if path.parent.name != f"Actor_{match['actor']}":
        raise CorpusError(f"{path}: actor {match['actor']} does not match its folder {path.parent.name}")
    if match["modality"] != "03":
        raise CorpusError(f"{path}: modality {match['modality']} is not 03 (audio-only)")
    if match["channel"] == "02":
        return None
    if match["channel"] != "01" or match["intensity"] not in _INTENSITY:
        raise CorpusError(f"{path}: vocal channel or intensity code outside RAVDESS's (01/02)")
    actor = int(match["actor"])
    return {
        "path": str(path),
        "utterance": path.stem,
        "speaker": match["actor"],
        "gender": "male" if actor % 2 else "female",
        "text": match["statement"],
        "elicitation": "acted",
        "label": map_label(NAME, match["emotion"], path),
        "original_label": match["emotion"],
        "intensity": _INTENSITY[match["intensity"]],
    }

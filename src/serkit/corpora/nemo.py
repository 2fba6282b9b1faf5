"""nEMO, a corpus of emotional speech in Polish (Christop, LREC-COLING 2024; CC BY-NC-SA 4.0).

Layout expected under ``root`` (the ``amu-cai/nEMO`` repository as distributed)::

    root/samples/{speaker}_{emotion}_{sentence}.wav      e.g. samples/EB0_anger_1.wav
    root/data.tsv                                         one row per file

``data.tsv`` has the columns ``file_id`` (the file name), ``emotion``,
``raw_text`` (orthographic transcript), ``normalized_text``, ``speaker_id``,
``gender`` and ``age``; its values may carry surrounding blanks (the
distributed ``speaker_id`` does), which are stripped.  Nine actors (EB0, IC0,
KD0, MK0 female; KS0, MP0, SM0, TP0, WR0 male) read 90 sentences, each in
the six emotions (anger, fear, happiness, neutral, sadness, surprised;
mapped in ``labels.yaml``); ``{sentence}`` (1 to 90) is the sentence's
number, the same for every recording of it, and becomes the ``text``
column.  ``raw_text`` is the transcript.  The file name's speaker and
emotion must agree with ``data.tsv``, and every wav must have its row and
every row its wav: anything else is an error, not skipped.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from serkit.corpora.labels import map_label
from serkit.corpora.scan import build_table, corpus_root, find_files
from serkit.corpora.table import GENDERS
from serkit.errors import CorpusError
from serkit.progress import Progress

NAME = "nemo"
LAYOUT = "samples/{speaker}_{emotion}_{sentence}.wav (EB0_anger_1.wav) with data.tsv"
#: Terms of use, for model cards: weights learnt from it are non-commercial and share-alike too.
LICENCE = "CC BY-NC-SA 4.0"

_NAME = re.compile(r"^(?P<speaker>[A-Z]{2}\d)_(?P<emotion>[a-z]+)_(?P<sentence>\d+)\.wav$")
_COLUMNS = ("file_id", "emotion", "raw_text", "speaker_id", "gender")


def read(root: str | Path, *, skip_bad: bool = False, progress: Progress | None = None) -> pd.DataFrame:
    """The nEMO table of ``root`` (see the module's layout)."""
    root = corpus_root(root, NAME)
    rows = _metadata(root / "data.tsv")
    files = find_files(root / "samples", "*.wav")
    unlisted = [p for p in files if p.name not in rows]
    if unlisted:
        raise CorpusError(f"{unlisted[0]}: not listed in {root / 'data.tsv'} ({len(unlisted)} files in all)")
    absent = sorted(set(rows) - {p.name for p in files})
    if absent:
        raise CorpusError(
            f"{root / 'data.tsv'}: lists {absent[0]}, which is not in samples/ ({len(absent)} in all)"
        )
    return build_table(
        NAME, [_record(path, rows[path.name]) for path in files],
        root=root, skip_bad=skip_bad, progress=progress,
    )


def _metadata(path: Path) -> dict[str, dict[str, str]]:
    """``data.tsv`` as file name -> its row, blanks around values stripped."""
    if not path.is_file():
        raise CorpusError(f"{path}: missing; nEMO's layout is {LAYOUT}")
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE)
    missing = [c for c in _COLUMNS if c not in table.columns]
    if missing:
        raise CorpusError(f"{path}: no column {', '.join(missing)} (expected {', '.join(_COLUMNS)})")
    table = table.apply(lambda column: column.str.strip())
    repeated = table["file_id"][table["file_id"].duplicated()]
    if len(repeated):
        raise CorpusError(f"{path}: {repeated.iloc[0]} is listed twice")
    return {row["file_id"]: row for row in table.to_dict("records")}


def _record(path: Path, row: dict[str, str]) -> dict:
    match = _NAME.match(path.name)
    if not match:
        raise CorpusError(f"{path}: not a nEMO file name (SPEAKER_EMOTION_SENTENCE.wav, e.g. EB0_anger_1.wav)")
    if (match["speaker"], match["emotion"]) != (row["speaker_id"], row["emotion"]):
        raise CorpusError(
            f"{path}: data.tsv gives speaker {row['speaker_id']!r} and emotion {row['emotion']!r},"
            " unlike the name"
        )
    if row["gender"] not in GENDERS:
        raise CorpusError(f"{path}: data.tsv gives gender {row['gender']!r}, expected female or male")
    return {
        "path": str(path),
        "utterance": path.stem,
        "speaker": match["speaker"],
        "gender": row["gender"],
        "text": match["sentence"],
        "transcript": row["raw_text"] or None,
        "elicitation": "acted",
        "label": map_label(NAME, match["emotion"], path),
        "original_label": match["emotion"],
    }

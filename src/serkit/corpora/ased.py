"""ASED v1, the Amharic Speech Emotional Dataset (Retta et al., ACM TALLIP 2023; no licence stated).

Layout expected under ``root`` (the ``Ethio2021/ASED_V1`` repository as distributed)::

    root/0NEmotion/xN-yy-aa-gg-bb.wav      e.g. 05Angry/a5-03-01-02-50.wav

Five folders, one per emotion: ``01Neutral`` ``02Fearful`` ``03Happy``
``04Sad`` ``05Angry``.  In the file name (the corpus README), ``x`` is the
emotion's letter (n f h s a, mapped in ``labels.yaml``; one distributed file
writes it upper-case, ``S4-04-02-01-29.wav``) and ``N`` its folder number,
``yy`` the sentence (01 to 07), ``aa`` the repetition (01, 02), ``gg`` the
speaker's sex (01 female, 02 male) and ``bb`` the speaker (01 to 65).

Sentences: each participant read 25 emotion-specific sentences, five per
emotion, always in that emotion, and two common sentences in all five.  The
counts place them: sentences 03 to 07 of a folder are its five
emotion-specific ones (the 37 speakers who have them have exactly 50 such
files, 25 sentences twice), 01 and 02 the common ones (no speaker has more
than 20 = 2 sentences x 5 emotions x 2).  The ``text`` column says so:
``c01``/``c02`` for a common sentence, the same in every emotion, and the
emotion's letter and number (``a03``) for an emotion-specific one, so that
sentence-grouped folds keep a sentence on one side.  Sentence and emotion are
confounded on every sentence but ``c01`` and ``c02``.

Five files give a speaker a sex that the speaker's other files contradict
(e.g. ``02Fearful/f2-01-01-02-15.wav``); each speaker's gender is the one most
of its files give (a tie leaves it None), which yields the README's 25 women
and 40 men, and the disagreeing files are logged (INFO).
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd

from serkit.corpora.labels import map_label
from serkit.corpora.scan import build_table, corpus_root, find_files
from serkit.errors import CorpusError
from serkit.progress import Progress

log = logging.getLogger(__name__)

NAME = "ased"
LAYOUT = "0NEmotion/xN-yy-aa-gg-bb.wav (05Angry/a5-03-01-02-50.wav)"
#: Terms of use, for model cards: none is stated, so weights learnt from it are not shipped.
LICENCE = None

_NAME = re.compile(
    r"^(?P<emotion>[A-Za-z])(?P<folder>\d)-(?P<sentence>0[1-7])-(?P<repetition>0[12])-"
    r"(?P<sex>0[12])-(?P<speaker>\d\d)\.wav$"
)
_FOLDER = re.compile(r"^0(?P<number>\d)[A-Za-z]+$")
_SEX = {"01": "female", "02": "male"}
#: Sentences spoken in every emotion (the README's two common sentences).
COMMON_SENTENCES = ("01", "02")


def read(root: str | Path, *, skip_bad: bool = False, progress: Progress | None = None) -> pd.DataFrame:
    """The ASED table of ``root`` (see the module's layout)."""
    root = corpus_root(root, NAME)
    records = [_record(path) for path in find_files(root, "*/*.wav")]
    genders = _speaker_genders(records)
    disagree = [r["path"] for r in records if r["sex"] != genders[r["speaker"]]]
    if disagree:
        log.info("ased: %d files name a sex their speaker's other files contradict; gender by most "
                 "files: %s", len(disagree), ", ".join(disagree))
    records = [
        {**{k: v for k, v in r.items() if k != "sex"}, "gender": genders[r["speaker"]]} for r in records
    ]
    return build_table(NAME, records, root=root, skip_bad=skip_bad, progress=progress)


def sentence_id(code: str, sentence: str) -> str:
    """The ``text`` id of sentence ``sentence`` of the folder of emotion letter ``code``."""
    return f"c{sentence}" if sentence in COMMON_SENTENCES else f"{code}{sentence}"


def _record(path: Path) -> dict:
    match = _NAME.match(path.name)
    if not match:
        raise CorpusError(f"{path}: not an ASED file name (xN-yy-aa-gg-bb.wav, e.g. a5-03-01-02-50.wav)")
    folder = _FOLDER.match(path.parent.name)
    if not folder or folder["number"] != match["folder"]:
        raise CorpusError(
            f"{path}: emotion number {match['folder']} does not match its folder {path.parent.name}"
        )
    code = match["emotion"].lower()
    return {
        "path": str(path),
        "utterance": path.stem,
        "speaker": match["speaker"],
        "sex": _SEX[match["sex"]],
        "text": sentence_id(code, match["sentence"]),
        "elicitation": "acted",
        "label": map_label(NAME, code, path),
        "original_label": code,
    }


def _speaker_genders(records: list[dict]) -> dict[str, str | None]:
    """Each speaker's gender: the sex most of its files name, None on a tie."""
    votes: dict[str, Counter] = defaultdict(Counter)
    for record in records:
        votes[record["speaker"]][record["sex"]] += 1
    genders = {}
    for speaker, count in votes.items():
        (first, n), *rest = count.most_common()
        genders[speaker] = None if rest and rest[0][1] == n else first
    return genders

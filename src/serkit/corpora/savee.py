"""SAVEE, the Surrey Audio-Visual Expressed Emotion database (Haq & Jackson, 2009).

Layout expected under ``root``, either as distributed (a folder per speaker)
or flat with the speaker in the name (the Kaggle copy)::

    root/AudioData/DC/a01.wav        (or root/DC/a01.wav)
    root/DC_a01.wav                  (or root/ALL/DC_a01.wav)

The four speakers ``DC``, ``JE``, ``JK``, ``KL`` are men.  The letters before
the number are the emotion (a anger, d disgust, f fear, h happiness,
n neutral, sa sadness, su surprise; mapped in ``labels.yaml``); the number
counts the sentences of that emotion.  Sentence lists differ between
emotions, so ``text`` is None.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from serkit.corpora.labels import map_label
from serkit.corpora.scan import read_tree
from serkit.errors import CorpusError
from serkit.progress import Progress

NAME = "savee"
LAYOUT = "AudioData/DC/a01.wav or DC_a01.wav (speakers DC JE JK KL; a d f h n sa su)"

_FLAT = re.compile(r"^(?P<speaker>[A-Z]{2})_(?P<emotion>[a-z]+)(?P<number>\d\d)\.wav$")
_IN_FOLDER = re.compile(r"^(?P<emotion>[a-z]+)(?P<number>\d\d)\.wav$")
_SPEAKER = re.compile(r"^[A-Z]{2}$")


def read(root: str | Path, *, skip_bad: bool = False, progress: Progress | None = None) -> pd.DataFrame:
    """The SAVEE table of ``root`` (see the module's layout)."""
    return read_tree(NAME, root, _record, skip_bad=skip_bad, progress=progress)


def _record(path: Path) -> dict:
    flat = _FLAT.match(path.name)
    in_folder = _IN_FOLDER.match(path.name) if _SPEAKER.match(path.parent.name) else None
    match = flat or in_folder
    if not match:
        raise CorpusError(f"{path}: not a SAVEE file name (DC_a01.wav, or a01.wav in a speaker folder DC/)")
    speaker = flat["speaker"] if flat else path.parent.name
    code = match["emotion"]
    return {
        "path": str(path),
        "utterance": f"{speaker}_{code}{match['number']}",
        "speaker": speaker,
        "gender": "male",
        "elicitation": "acted",
        "label": map_label(NAME, code, path),
        "original_label": code,
    }

"""TESS, the Toronto Emotional Speech Set (Dupuis & Pichora-Fuller, 2010).

Layout expected under ``root``: one folder per speaker and emotion, as the
corpus is distributed (the folders may sit one level deeper, as in the
Kaggle copy's ``TESS Toronto emotional speech set data/``)::

    root/OAF_angry/OAF_back_angry.wav
    root/YAF_pleasant_surprised/YAF_back_ps.wav

A file is ``<speaker>_<word>_<emotion>.wav``: speaker ``OAF`` (older adult
female) or ``YAF`` (younger adult female), one of 200 target words (spoken
in the carrier phrase "Say the word ..."), and the emotion (angry, disgust,
fear, happy, neutral, ps = pleasant surprise, sad; mapped in
``labels.yaml``).  Both speakers are women.  The speaker is taken from the
folder name (``OAF_angry``) where files sit in such folders, because some
distributed file names carry a misspelt prefix (``OA_bite_neutral.wav``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from serkit.corpora.labels import map_label
from serkit.corpora.scan import read_tree
from serkit.errors import CorpusError
from serkit.progress import Progress

NAME = "tess"
LAYOUT = "<speaker>_<emotion>/<speaker>_<word>_<emotion>.wav (OAF_angry/OAF_back_angry.wav)"

_NAME = re.compile(r"^(?P<speaker>[A-Za-z]+)_(?P<word>[A-Za-z]+)_(?P<emotion>[A-Za-z]+)\.wav$")
_FOLDER = re.compile(r"^(?P<speaker>[OY]AF)_")


def read(root: str | Path, *, skip_bad: bool = False, progress: Progress | None = None) -> pd.DataFrame:
    """The TESS table of ``root`` (see the module's layout)."""
    return read_tree(NAME, root, _record, skip_bad=skip_bad, progress=progress)


def _record(path: Path) -> dict:
    match = _NAME.match(path.name)
    if not match:
        raise CorpusError(
            f"{path}: not a TESS file name (<speaker>_<word>_<emotion>.wav, e.g. OAF_back_angry.wav)"
        )
    folder = _FOLDER.match(path.parent.name)
    speaker = folder["speaker"] if folder else match["speaker"]
    return {
        "path": str(path),
        "utterance": f"{speaker}_{match['word']}_{match['emotion']}",
        "speaker": speaker,
        "gender": "female",
        "text": match["word"].lower(),
        "elicitation": "acted",
        "label": map_label(NAME, match["emotion"], path),
        "original_label": match["emotion"],
    }

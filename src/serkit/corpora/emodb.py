"""EMO-DB, the Berlin Database of Emotional Speech (Burkhardt et al., Interspeech 2005).

Layout expected under ``root`` (the corpus as its authors distribute it)::

    root/wav/SSTTTEV.wav                 e.g. wav/03a01Wa.wav
    root/lablaut/SSTTTEVxx.lablaut       optional phone labels (or SSTTTEV.lablaut)

``SS`` is the speaker (03 08 09 10 11 12 13 14 15 16), ``TTT`` the text
(a01 a02 a04 a05 a07 b01 b02 b03 b09 b10, the same ten German sentences for
every speaker), ``E`` the emotion code (German initials, mapped in
``labels.yaml``: W anger, L boredom, E disgust, A fear, F happiness,
T sadness, N neutral) and ``V`` the version.  Every file in ``wav/`` must
follow that name; any other ``.wav`` there is an error, not skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from serkit.corpora.labels import map_label
from serkit.corpora.scan import build_table, corpus_root, find_files
from serkit.errors import CorpusError
from serkit.progress import Progress

NAME = "emodb"
LAYOUT = "wav/SSTTTEV.wav (03a01Wa.wav), optional lablaut/SSTTTEVxx.lablaut"
#: Terms of use, for model cards: the authors distribute it for research, without a licence file.
LICENCE = "research use as distributed by its authors (no licence file)"

# The speakers' sex, as the corpus documentation gives it.
SPEAKER_GENDER = {
    "03": "male", "08": "female", "09": "female", "10": "male", "11": "male",
    "12": "male", "13": "female", "14": "female", "15": "male", "16": "female",
}

_NAME = re.compile(r"^(?P<speaker>\d\d)(?P<text>[ab]\d\d)(?P<emotion>[A-Z])(?P<version>[a-z])\.wav$")


def read(root: str | Path, *, skip_bad: bool = False, progress: Progress | None = None) -> pd.DataFrame:
    """The EMO-DB table of ``root`` (see the module's layout)."""
    root = corpus_root(root, NAME)
    wav = root / "wav"
    if not wav.is_dir():
        raise CorpusError(f"{root}: no wav/ folder; EMO-DB's layout is {LAYOUT}")
    return build_table(
        NAME, [_record(path, root) for path in find_files(wav, "*.wav")],
        root=root, skip_bad=skip_bad, progress=progress,
    )


def _record(path: Path, root: Path) -> dict:
    match = _NAME.match(path.name)
    if not match:
        raise CorpusError(f"{path}: not an EMO-DB file name (SSTTTEV.wav, e.g. 03a01Wa.wav)")
    speaker, code = match["speaker"], match["emotion"]
    if speaker not in SPEAKER_GENDER:
        raise CorpusError(f"{path}: speaker {speaker!r} is not one of EMO-DB's ten speakers")
    return {
        "path": str(path),
        "utterance": path.stem,
        "speaker": speaker,
        "gender": SPEAKER_GENDER[speaker],
        "text": match["text"],
        "elicitation": "acted",
        "label": map_label(NAME, code, path),
        "original_label": code,
        "alignment": _alignment(root / "lablaut", path.stem),
    }


def _alignment(folder: Path, stem: str) -> str | None:
    # The distribution names most label files SSTTTEVxx.lablaut, a few SSTTTEV.lablaut.
    for name in (f"{stem}xx.lablaut", f"{stem}.lablaut"):
        if (folder / name).is_file():
            return str(folder / name)
    return None

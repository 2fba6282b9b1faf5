"""CREMA-D, the Crowd-sourced Emotional Multimodal Actors Dataset (Cao et al., 2014).

Layout expected under ``root`` (the corpus's repository)::

    root/AudioWAV/AAAA_SSS_EEE_LL.wav     e.g. AudioWAV/1001_DFA_ANG_XX.wav
    root/VideoDemographics.csv            optional: ActorID,Age,Sex,Race,Ethnicity

(the wav files may also sit directly in ``root``).  ``AAAA`` is the actor
(1001 to 1091), ``SSS`` the sentence (IEO, TIE, IOM, IWW, TAI, MTI, IWL, ITH,
DFA, ITS, TSI, WSI), ``EEE`` the emotion (ANG, DIS, FEA, HAP, NEU, SAD;
mapped in ``labels.yaml``) and ``LL`` the intensity (LO, MD, HI, or XX
unspecified).  Actors' sex comes from ``VideoDemographics.csv`` when present,
else gender is None.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from serkit.corpora.labels import map_label
from serkit.corpora.scan import build_table, corpus_root, find_files
from serkit.corpora.table import GENDERS
from serkit.errors import CorpusError
from serkit.progress import Progress

NAME = "cremad"
LAYOUT = "AudioWAV/1001_DFA_ANG_XX.wav, optional VideoDemographics.csv"

_NAME = re.compile(r"^(?P<actor>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emotion>[A-Z]{3})_(?P<level>[A-Z]{2})\.wav$")
_INTENSITY = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}


def read(root: str | Path, *, skip_bad: bool = False, progress: Progress | None = None) -> pd.DataFrame:
    """The CREMA-D table of ``root`` (see the module's layout)."""
    root = corpus_root(root, NAME)
    audio = root / "AudioWAV" if (root / "AudioWAV").is_dir() else root
    genders = _genders(root / "VideoDemographics.csv")
    records = [_record(path, genders) for path in find_files(audio, "*.wav")]
    return build_table(NAME, records, root=root, skip_bad=skip_bad, progress=progress)


def _record(path: Path, genders: dict[str, str]) -> dict:
    match = _NAME.match(path.name)
    if not match:
        raise CorpusError(f"{path}: not a CREMA-D file name (1001_DFA_ANG_XX.wav)")
    if match["level"] not in _INTENSITY:
        raise CorpusError(f"{path}: unknown intensity {match['level']!r} (LO, MD, HI, XX)")
    return {
        "path": str(path),
        "utterance": path.stem,
        "speaker": match["actor"],
        "gender": genders.get(match["actor"]),
        "text": match["sentence"],
        "elicitation": "acted",
        "label": map_label(NAME, match["emotion"], path),
        "original_label": match["emotion"],
        "intensity": _INTENSITY[match["level"]],
    }


def _genders(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    table = pd.read_csv(path, dtype=str)
    if not {"ActorID", "Sex"} <= set(table.columns):
        raise CorpusError(f"{path}: expected columns ActorID and Sex")
    genders = {}
    for actor, sex in zip(table["ActorID"], table["Sex"]):
        gender = str(sex).strip().lower()
        if gender not in GENDERS:
            raise CorpusError(f"{path}: actor {actor} has sex {sex!r}, expected Female or Male")
        genders[str(actor).strip()] = gender
    return genders

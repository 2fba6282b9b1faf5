"""EMOVO, an Italian emotional speech corpus (Costantini et al., LREC 2014).

Layout expected under ``root``: a folder per actor, as distributed::

    root/f1/dis-f1-b1.wav        actors f1 f2 f3 (women), m1 m2 m3 (men)

A file is ``<emotion>-<actor>-<sentence>.wav``: emotion (dis disgusto,
gio gioia, neu neutral, pau paura, rab rabbia, sor sorpresa, tri tristezza;
mapped in ``labels.yaml``), actor (must match its actor folder) and sentence
(``b1``..``b3``, ``d1``..``d2``, ``l1``..``l4``, ``n1``..``n5``: the same 14
sentences for every actor and emotion).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from serkit.corpora.labels import map_label
from serkit.corpora.scan import read_tree
from serkit.errors import CorpusError
from serkit.progress import Progress

NAME = "emovo"
LAYOUT = "<actor>/<emotion>-<actor>-<sentence>.wav (f1/dis-f1-b1.wav)"

_NAME = re.compile(r"^(?P<emotion>[a-z]{3})-(?P<actor>(?P<sex>[fm])\d)-(?P<sentence>[a-z]\d+)\.wav$")
_ACTOR_FOLDER = re.compile(r"^[fm]\d$")
_SEX = {"f": "female", "m": "male"}


def read(root: str | Path, *, skip_bad: bool = False, progress: Progress | None = None) -> pd.DataFrame:
    """The EMOVO table of ``root`` (see the module's layout)."""
    return read_tree(NAME, root, _record, skip_bad=skip_bad, progress=progress)


def _record(path: Path) -> dict:
    match = _NAME.match(path.name)
    if not match:
        raise CorpusError(
            f"{path}: not an EMOVO file name (<emotion>-<actor>-<sentence>.wav, e.g. dis-f1-b1.wav)"
        )
    if _ACTOR_FOLDER.match(path.parent.name) and path.parent.name != match["actor"]:
        raise CorpusError(f"{path}: actor {match['actor']} does not match its folder {path.parent.name}")
    return {
        "path": str(path),
        "utterance": path.stem,
        "speaker": match["actor"],
        "gender": _SEX[match["sex"]],
        "text": match["sentence"],
        "elicitation": "acted",
        "label": map_label(NAME, match["emotion"], path),
        "original_label": match["emotion"],
    }

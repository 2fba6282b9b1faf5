"""IEMOCAP, the Interactive Emotional Dyadic Motion Capture database (Busso et al., 2008).

Layout expected under ``root`` (``IEMOCAP_full_release`` as distributed)::

    root/Session1 .. Session5/
        dialog/EmoEvaluation/<dialog>.txt          label file, one per dialog
        dialog/transcriptions/<dialog>.txt         optional transcripts
        sentences/wav/<dialog>/<utterance>.wav     one file per utterance

A dialog is ``Ses01F_impro01`` (improvised) or ``Ses01F_script01_1``
(scripted); an utterance ``<dialog>_<F|M><nnn>``, whose letter is the sex of
the actor speaking (``Ses01F_impro01_M000`` is session 1's male actor, speaker
``Ses01M``).  Sub-folders of ``EmoEvaluation`` (``Categorical/``,
``Attribute/``, ``Self-evaluation/``) hold the individual annotations and are
not read.

A label file holds one block per utterance, whose first line is::

    [6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]

the turn's times, its name, the majority category (``neu hap sad ang exc fru
sur fea dis oth``, or ``xxx`` without a majority; mapped in ``labels.yaml``)
and the mean [valence, activation, dominance] on a 1-to-5 scale; the
per-annotator lines that follow (``C-E2:``, ``A-E3:`` ...) are not read.
Every labelled utterance must have its wav file (a missing one is a bad file
under the ``skip_bad`` rule); a wav file without a label is logged and left
out.  ``text`` is the script or improvisation (``script01_1``, ``impro01``):
the same one is performed in every session, so sentence-independent splits
can group on it.
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

NAME = "iemocap"
LAYOUT = "Session1-5/dialog/EmoEvaluation/<dialog>.txt, Session1-5/sentences/wav/<dialog>/<utt>.wav"

_TURN = re.compile(
    r"^\[(?P<start>[\d.]+) - (?P<end>[\d.]+)\]\t(?P<utterance>\S+)\t(?P<code>\S+)\t"
    r"\[(?P<v>[-\d.]+), (?P<a>[-\d.]+), (?P<d>[-\d.]+)\]\s*$"
)
_UTTERANCE = re.compile(r"^Ses(?P<session>\d\d)[FM]_(?P<text>(?:impro|script)\w*?)_(?P<sex>[FM])\d{3}$")
_TRANSCRIPT = re.compile(r"^(?P<utterance>Ses\S+) \[[\d.]+-[\d.]+\]: ?(?P<text>.*)$")
_SEX = {"F": "female", "M": "male"}


def read(root: str | Path, *, skip_bad: bool = False, progress: Progress | None = None) -> pd.DataFrame:
    """The IEMOCAP table of ``root`` (see the module's layout)."""
    root = corpus_root(root, NAME)
    sessions = sorted(p for p in root.glob("Session*") if p.is_dir())
    if not sessions:
        raise CorpusError(f"{root}: no Session1..Session5 folders; IEMOCAP's layout is {LAYOUT}")
    records = []
    for session in sessions:
        labelled = {}
        for label_file in find_files(session / "dialog" / "EmoEvaluation", "*.txt"):
            transcripts = _transcripts(session / "dialog" / "transcriptions" / label_file.name)
            for record in _label_file(label_file, session):
                record["transcript"] = transcripts.get(record["utterance"])
                labelled[record["utterance"]] = record
        wavs = find_files(session / "sentences" / "wav", "*/*.wav")
        unlabelled = [p for p in wavs if p.stem not in labelled]
        if unlabelled:
            log.warning("%s: %d wav files have no label in EmoEvaluation, left out (first: %s)",
                        session, len(unlabelled), unlabelled[0])
        records.extend(labelled.values())
    return build_table(NAME, records, root=root, skip_bad=skip_bad, progress=progress)


def _label_file(path: Path, session: Path) -> list[dict]:
    dialog = path.stem
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.startswith("["):
            continue  # header, blank and per-annotator lines
        turn = _TURN.match(line)
        if not turn:
            raise CorpusError(f"{path}, line {number}: not an EmoEvaluation turn line: {line!r}")
        utterance = turn["utterance"]
        name = _UTTERANCE.match(utterance)
        if not name or not utterance.startswith(dialog + "_"):
            raise CorpusError(
                f"{path}, line {number}: utterance {utterance!r} is not named <{dialog}>_<F|M><nnn>"
            )
        wav = session / "sentences" / "wav" / dialog / f"{utterance}.wav"
        records.append({
            "path": str(wav),
            "utterance": utterance,
            "speaker": f"Ses{name['session']}{name['sex']}",
            "gender": _SEX[name["sex"]],
            "session": f"Session{int(name['session'])}",
            "text": name["text"],
            "elicitation": "improvised" if name["text"].startswith("impro") else "scripted",
            "label": map_label(NAME, turn["code"], path),
            "original_label": turn["code"],
            "valence": float(turn["v"]),
            "arousal": float(turn["a"]),
            "dominance": float(turn["d"]),
        })
    return records


def _transcripts(path: Path) -> dict[str, str]:
    """``utterance -> words`` of a transcription file (lines ``<utt> [start-end]: words``)."""
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return {m["utterance"]: m["text"].strip() or None for m in map(_TRANSCRIPT.match, lines) if m}

"""A frame task's targets: one class per feature frame, phones from an alignment or emotions.

:class:`FrameTargets` says what a frame recipe learns (built from its
``frame_target``, ``phone_set`` and ``silence`` by
:func:`serkit.experiments.fold_data.frame_targets`).

* **Phones** (``frame_target: phones``).  Without a ``phone_set``, the
  alignment's symbols as they are (EMO-DB's lablaut: German SAMPA with the
  labellers' own marks, ``!t`` a stop's release, ``tasp`` its aspiration);
  with ``phone_set: compact-de``, folded to that set's classes
  (:mod:`serkit.corpora.phone_sets`).  Either way a segment whose phone field
  is empty (it only carries a mark, ``-lar``: where laryngealisation ends)
  continues the phone before it, since the labeller split that phone where the
  mark starts or ends; lablaut's ``.`` (and, in a phone set, its other pause
  symbols) is the pause class :data:`PAUSE`.
* **Emotions** (``frame_target: emotion``).  The utterance's label on every
  frame; with ``silence: webrtcvad[:N]``, frames webrtcvad (aggressiveness N,
  :data:`DEFAULT_AGGRESSIVENESS` unless given) calls non-speech are
  :data:`SILENCE` (seed 001's fifth class).  The detector decides 10 ms frames
  of the 16 kHz signal (:mod:`serkit.audio.vad`); a feature frame takes the
  decision of the 10 ms frame holding its centre (the last whole one past it).
* **Frames.**  Frame ``i`` of the feature's grid (its centre ``i * hop``,
  :class:`~serkit.features.base.FrameGrid`) takes the segment that holds its
  centre; frames before the first segment or past the last get :data:`PAUSE`, so the targets
  always have the feature's frame count (nothing is cropped).
* **Classes.**  A phone set's classes, the same in every fold; raw symbols:
  the sorted symbols of the training part only, plus :data:`UNKNOWN` (a
  validation or test symbol never seen in training is scored as ``<unk>``,
  which the model never predicts, so it always counts as an error, never
  silently dropped); emotions with silence: the class set's labels, then
  :data:`SILENCE`; emotions without: as raw symbols.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from serkit.audio import load_audio
from serkit.audio.vad import VAD_RATE, speech_flags
from serkit.corpora.alignment import Alignment, read_alignment
from serkit.corpora.phone_sets import PAUSE, PhoneSet, phone_set
from serkit.errors import SerkitError
from serkit.features.base import FrameGrid
from serkit.training.tasks import UNKNOWN_CLASS

# the class the frame task never predicts, as FrameClassification excludes it from decisions
UNKNOWN = UNKNOWN_CLASS
#: Emotion frames a voice activity detector calls non-speech (recipe ``silence``).
SILENCE = "silence"
#: Alignment symbols that mark a pause rather than a phone (lablaut's final ``.``) without a phone set.
PAUSE_SYMBOLS = frozenset({"."})
#: webrtcvad's aggressiveness under ``silence: webrtcvad``: of 0-3, the one whose non-speech frames
#: agree best (Cohen's kappa) with lablaut's pauses on EMO-DB (docs/seed001-targets.md).
DEFAULT_AGGRESSIVENESS = 3
#: The detector's frame, one feature hop of seed 001's grid.
VAD_FRAME_MS = 10

@dataclasses.dataclass(frozen=True)
class FrameTargets:
    """What a frame task learns per frame of ``grid``: ``kind`` is the recipe's ``frame_target``."""

    grid: FrameGrid
    kind: str = "phones"
    #: ``phones`` only: the phone set the alignment's symbols fold to (None: the symbols as they are).
    phone_set: str | None = None
    #: ``emotion`` only: webrtcvad's aggressiveness for the silence class (None: no silence class).
    silence: int | None = None

    @classmethod
    def from_fields(cls, grid: FrameGrid, frame_target: str, phone_set: str | None = None,
                    silence: str | None = None) -> FrameTargets:
        """From a recipe's fields; ``silence`` is ``webrtcvad`` or ``webrtcvad:N``."""
        level = None
        if silence is not None:
            level = int(silence.partition(":")[2] or DEFAULT_AGGRESSIVENESS)
        return cls(grid, frame_target, phone_set, level)

    def symbols(self, path: str, alignment: str | None, label: str, n_frames: int) -> np.ndarray:
        """One class name per frame of an utterance (its audio ``path``, ``alignment`` file, ``label``)."""
        if self.kind == "emotion":
            if self.silence is None:
                return np.full(n_frames, label, dtype=object).astype(str)
            return emotion_frames(label, load_audio(path, VAD_RATE), n_frames, self.grid, self.silence)
        phones = None if self.phone_set is None else phone_set(self.phone_set)
        return phone_frames(read_alignment(alignment), n_frames, self.grid, phones, alignment)

    def classes(self, train_frames: Sequence[np.ndarray], labels: Sequence[str]) -> tuple[str, ...]:
        """The class list (see the module docstring) from the training part's frames and the class set."""
        if self.phone_set is not None:
            return phone_set(self.phone_set).classes
        if self.kind == "emotion" and self.silence is not None:
            return (*labels, SILENCE)
        seen = set().union(*(set(f.tolist()) for f in train_frames)) if train_frames else set()
        return (*sorted(seen - {UNKNOWN}), UNKNOWN)


def check_alignments(table: pd.DataFrame, corpus: str, frame_target: str, phones: str | None = None) -> None:
    """Refuse a corpus table whose rows lack the alignment ``frame_target`` reads, or (with a phone
    set ``phones``) whose alignments hold a symbol the set does not fold (one line naming it)."""
    column = table["alignment"] if "alignment" in table else pd.Series([None] * len(table), dtype=object)
    missing = column.isna()
    if missing.any():
        example = table.loc[missing, "path"].iloc[0]
        raise SerkitError(f"frame_target {frame_target}: {int(missing.sum())} of {len(table)} utterances of "
                          f"corpus {corpus} have no phone alignment (the table's alignment column), e.g. {example}")
    if phones is not None:
        for path in column:
            _phones(read_alignment(path), phone_set(phones), path)


def phone_frames(alignment: Alignment, n_frames: int, grid: FrameGrid, phones: PhoneSet | None = None,
                 source: str = "") -> np.ndarray:
    """One phone per frame of ``grid`` (``n_frames`` of them): the alignment's symbols, or with
    ``phones`` their classes in that set (an unknown symbol is an error naming ``source``)."""
    symbols = np.asarray(_phones(alignment, phones, source) + [PAUSE], dtype=object)
    centres = grid.times(n_frames)
    # the segment holding each frame's centre: the first whose end lies beyond it; none before the first
    index = np.searchsorted(alignment.ends, centres, side="right")
    if len(alignment):
        index[centres < alignment.starts[0]] = len(symbols) - 1
    return symbols[np.minimum(index, len(symbols) - 1)].astype(str)


def emotion_frames(label: str, signal: np.ndarray, n_frames: int, grid: FrameGrid, aggressiveness: int) -> np.ndarray:
    """``label`` on the frames of ``grid`` webrtcvad calls speech in ``signal`` (at :data:`VAD_RATE`),
    :data:`SILENCE` on the others."""
    speech = speech_on_grid(speech_flags(signal, VAD_RATE, aggressiveness, VAD_FRAME_MS), n_frames, grid)
    return np.where(speech, label, SILENCE).astype(str)


def speech_on_grid(flags: np.ndarray, n_frames: int, grid: FrameGrid, frame_ms: int = VAD_FRAME_MS) -> np.ndarray:
    """Per-``frame_ms`` detector decisions on ``grid``: each frame takes the decision of the detector
    frame holding its centre, the last one where the centre lies past them (none at all: non-speech)."""
    if not len(flags):
        return np.zeros(n_frames, dtype=bool)
    # integer arithmetic: centre sample i * hop at the grid's rate, in whole detector frames
    index = (np.arange(n_frames) * grid.hop * 1000) // (grid.sample_rate * frame_ms)
    return flags[np.minimum(index, len(flags) - 1)]


def encode_frames(frames: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Class indices of one utterance's frame symbols; an unseen symbol is :data:`UNKNOWN`."""
    index = {symbol: i for i, symbol in enumerate(classes)}
    codes = [index.get(symbol, index.get(UNKNOWN)) for symbol in frames.tolist()]
    if None in codes:  # a class list without <unk> (a phone set's, emotions') holds every symbol
        raise SerkitError(f"frame class {frames[codes.index(None)]!r} is not one of {', '.join(classes)}")
    return np.array(codes, dtype=np.int64)


def _phones(alignment: Alignment, phones: PhoneSet | None, source: str) -> list[str]:
    found, previous = [], PAUSE
    for label in alignment.labels:
        if phones is not None:
            phone = phones.phone(label, source) or previous
        else:
            phone = PAUSE if label in PAUSE_SYMBOLS else (label or previous)
        found.append(phone)
        previous = phone
    return found

"""A frame task's targets: the corpus's phone alignments as one symbol per feature frame.

* **Symbols.**  The alignment's phone symbols as they are (EMO-DB's lablaut:
  German SAMPA with the labellers' own marks such as ``!t`` for a glottalised
  or ``tasp`` for an aspirated stop); serkit has no mapping to a smaller set.
  Two kinds of segment are not phones: lablaut's ``.`` (the pause that ends
  every utterance) becomes the pause class :data:`PAUSE`, and a segment whose
  phone field is empty (it only carries a mark, ``-lar``: where
  laryngealisation ends) continues the phone before it, since the labeller
  split that phone where the mark starts or ends.
* **Frames.**  Frame ``i`` of the feature's grid (its centre ``i * hop``,
  :class:`~serkit.features.base.FrameGrid`) takes the segment that holds its
  centre; frames past the last segment get :data:`PAUSE`, so the targets
  always have the feature's frame count (nothing is cropped).
* **Classes.**  The sorted symbols of the training part only, plus
  :data:`UNKNOWN`: a validation or test symbol never seen in training is
  scored as ``<unk>``, which the model never predicts, so it always counts
  as an error (never silently dropped).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from serkit.corpora.alignment import Alignment, read_alignment
from serkit.errors import SerkitError
from serkit.features.base import FrameGrid

PAUSE = "<p>"
UNKNOWN = "<unk>"
#: Emotion frames a voice activity detector calls non-speech (recipe ``silence``).
SILENCE = "silence"
#: Alignment symbols that mark a pause rather than a phone (lablaut's final ``.``).
PAUSE_SYMBOLS = frozenset({"."})


def check_alignments(table: pd.DataFrame, corpus: str, frame_target: str) -> None:
    """Refuse a corpus table whose rows lack the alignment ``frame_target`` reads (one line)."""
    column = table["alignment"] if "alignment" in table else pd.Series([None] * len(table), dtype=object)
    missing = column.isna()
    if missing.any():
        example = table.loc[missing, "path"].iloc[0]
        raise SerkitError(f"frame_target {frame_target}: {int(missing.sum())} of {len(table)} utterances of "
                          f"corpus {corpus} have no phone alignment (the table's alignment column), e.g. {example}")


def phone_frames(alignment: Alignment, n_frames: int, grid: FrameGrid) -> np.ndarray:
    """One phone symbol per frame of ``grid`` (``n_frames`` of them), as the module describes."""
    symbols = np.asarray(_phones(alignment) + [PAUSE], dtype=object)
    # the segment holding each frame's centre: the first whose end lies beyond it
    index = np.searchsorted(alignment.ends, grid.times(n_frames), side="right")
    return symbols[np.minimum(index, len(symbols) - 1)].astype(str)


def alignment_frames(path: str, n_frames: int, grid: FrameGrid) -> np.ndarray:
    return phone_frames(read_alignment(path), n_frames, grid)


def frame_classes(frames: Sequence[np.ndarray]) -> tuple[str, ...]:
    """The class list of a training part's frame symbols, with :data:`UNKNOWN` last."""
    seen = set().union(*(set(f.tolist()) for f in frames)) if frames else set()
    return (*sorted(seen - {UNKNOWN}), UNKNOWN)


def encode_frames(frames: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Class indices of one utterance's frame symbols; an unseen symbol is :data:`UNKNOWN`."""
    index = {symbol: i for i, symbol in enumerate(classes)}
    unknown = index[UNKNOWN]
    return np.array([index.get(symbol, unknown) for symbol in frames.tolist()], dtype=np.int64)


def _phones(alignment: Alignment) -> list[str]:
    phones, previous = [], PAUSE
    for label in alignment.labels:
        phone = PAUSE if label in PAUSE_SYMBOLS else (label or previous)
        phones.append(phone)
        previous = phone
    return phones

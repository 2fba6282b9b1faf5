"""A ctc task's targets: each utterance's transcript (the corpus table's ``transcript`` column)
as a character sequence, without alignment (seed 003's recogniser).

* **Text.**  A transcript is upper-cased; every character that is neither a
  letter nor an apostrophe (punctuation, digits, hyphens) becomes a space,
  and runs of spaces become one, trimmed at both ends: ``"Well-known, isn't
  it?"`` is ``"WELL KNOWN ISN'T IT"``.  LibriSpeech's transcripts are already
  in this form.  This normalised text is the reference CER and WER score.
* **Characters.**  Index 0 is the CTC blank :data:`BLANK`; then the space
  (the word separator, when the training part has one), the apostrophe and
  the letters, each only if the training part's transcripts hold it, sorted.
* **Unseen characters.**  A validation or test character the training part
  never holds has no class: it is *dropped from the model's targets* (the CTC
  loss cannot name it) but stays in the reference text, so test CER and WER
  count it as an error, never silently forgiven.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from serkit.errors import SerkitError

BLANK = "<b>"
_NOT_IN_TEXT = re.compile(r"[^\w']|[\d_]")


def check_transcripts(table: pd.DataFrame, corpus: str) -> None:
    """Refuse a corpus table whose rows lack the transcript a ctc task reads (one line)."""
    column = table["transcript"] if "transcript" in table else pd.Series([None] * len(table), dtype=object)
    missing = ~column.map(lambda text: isinstance(text, str) and normalise_text(text) != "").astype(bool)
    if missing.any():
        example = table.loc[missing, "path"].iloc[0]
        raise SerkitError(f"task ctc: {int(missing.sum())} of {len(table)} utterances of corpus {corpus} have "
                          f"no transcript (the table's transcript column), e.g. {example}")


def normalise_text(text: str) -> str:
    """The transcript as the recogniser is scored on it (see the module)."""
    return " ".join(_NOT_IN_TEXT.sub(" ", text.upper()).split())


def character_set(texts: Iterable[str]) -> tuple[str, ...]:
    """The blank, then the characters the (normalised) training texts hold, sorted."""
    seen = set().union(*(set(t) for t in texts))
    return (BLANK, *sorted(seen))


def encode_text(text: str, characters: Sequence[str]) -> np.ndarray:
    """Class indices of a normalised text's characters; characters without a class are dropped."""
    index = {c: i for i, c in enumerate(characters) if c != BLANK}
    return np.array([index[c] for c in text if c in index], dtype=np.int64)

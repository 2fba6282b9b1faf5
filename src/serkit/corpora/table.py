"""The corpus table: one pandas DataFrame layout for every corpus.

Every reader returns a table with exactly these columns, in this order, and
passes it through :func:`validate_table` first.  One row is one audio file.
Text columns hold ``str`` or ``None`` (object dtype, never pandas' NaN);
number columns are float64 with NaN where the corpus has no value.

=================  =====  =========================================================
column             kind   meaning
=================  =====  =========================================================
``path``           path   absolute path of the audio file (unique)
``corpus``         text   reader name (``emodb``, ``iemocap``, ...; a manifest's name)
``utterance``      text   the corpus's own id of the recording, unique within the
                          corpus (``03a01Fa``, ``Ses01F_impro01_F000``, ``FCJF0_SA1``)
``speaker``        text   speaker id, unique within the corpus (``03``, ``Ses01F``)
``gender``         text   ``female``, ``male``, or None where the corpus does not say
``session``        text   recording session (IEMOCAP ``Session1``..``Session5``,
                          LibriSpeech chapter) or None
``text``           text   id of the sentence or text spoken, shared by every
                          recording of it (EMO-DB ``a01``, RAVDESS ``01``, TIMIT
                          ``SA1``, IEMOCAP script or improvisation ``script01_1``),
                          or None; sentence-independent splits group on it
``transcript``     text   what is said, where the corpus gives it (IEMOCAP,
                          LibriSpeech, TIMIT), else None
``elicitation``    text   ``acted``, ``improvised``, ``scripted``, ``spontaneous``,
                          ``read``, or None where unknown (a manifest without it)
``partition``      text   the corpus's predefined split (RECOLA ``train``/``dev``/
                          ``test``, TIMIT ``train``/``test``, the LibriSpeech subset
                          such as ``train-clean-5``), or None
``duration``       float  seconds, from the audio file's header
``label``          text   canonical emotion name (``labels.yaml`` vocabulary), or
                          None for corpora without categories (LibriSpeech, TIMIT,
                          RECOLA)
``original_label`` text   the corpus's own code (``W``, ``exc``, ``05``); None
                          exactly where ``label`` is None
``intensity``      text   acted intensity where the corpus declares one (RAVDESS
                          ``normal``/``strong``; CREMA-D ``low``/``medium``/``high``/
                          ``unspecified``), else None
``valence``        float  per-utterance valence on the corpus's own scale (IEMOCAP
                          1 to 5; RECOLA -1 to 1, the mean of the trace), NaN if absent
``arousal``        float  per-utterance arousal (activation), as ``valence``
``dominance``      float  per-utterance dominance (IEMOCAP), NaN if absent
``alignment``      path   time-aligned phone labels for the file (EMO-DB
                          ``lablaut/*.lablaut``, TIMIT ``.PHN``), read with
                          :func:`serkit.corpora.alignment.read_alignment`; or None
``arousal_trace``  path   time-continuous arousal gold standard (RECOLA ARFF),
                          read with :func:`serkit.corpora.recola.read_trace`; or None
``valence_trace``  path   time-continuous valence gold standard, as above
=================  =====  =========================================================

``table.attrs`` carries what is not per row: ``skipped`` (the bad files left
out with ``skip_bad=True``, each ``{"path", "reason"}``), ``root`` (the folder
read) and, after :func:`serkit.corpora.selection.select_classes`, ``class_set``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from serkit.corpora.labels import vocabulary
from serkit.errors import CorpusError


@dataclass(frozen=True)
class Column:
    """One column of the corpus table: its name, kind and meaning."""

    name: str
    #: ``path`` (absolute path or None), ``text`` (str or None) or ``float`` (NaN if absent).
    kind: str
    #: True when no row may leave it empty.
    required: bool
    description: str


COLUMNS: tuple[Column, ...] = (
    Column("path", "path", True, "absolute path of the audio file, unique"),
    Column("corpus", "text", True, "reader or manifest name"),
    Column("utterance", "text", True, "the corpus's own recording id, unique within the corpus"),
    Column("speaker", "text", True, "speaker id, unique within the corpus"),
    Column("gender", "text", False, "'female', 'male', or None where unknown"),
    Column("session", "text", False, "recording session, or None"),
    Column("text", "text", False, "id of the sentence or text spoken, or None"),
    Column("transcript", "text", False, "what is said, where the corpus gives it, or None"),
    Column("elicitation", "text", False, "acted, improvised, scripted, spontaneous, read, or None"),
    Column("partition", "text", False, "the corpus's predefined split, or None"),
    Column("duration", "float", True, "seconds, from the audio header"),
    Column("label", "text", False, "canonical emotion name, or None without categories"),
    Column("original_label", "text", False, "the corpus's own label code, None where label is"),
    Column("intensity", "text", False, "declared acting intensity, or None"),
    Column("valence", "float", False, "per-utterance valence, corpus scale, NaN if absent"),
    Column("arousal", "float", False, "per-utterance arousal, corpus scale, NaN if absent"),
    Column("dominance", "float", False, "per-utterance dominance, corpus scale, NaN if absent"),
    Column("alignment", "path", False, "phone label file (lablaut, PHN), or None"),
    Column("arousal_trace", "path", False, "time-continuous arousal file (ARFF), or None"),
    Column("valence_trace", "path", False, "time-continuous valence file (ARFF), or None"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)

GENDERS = ("female", "male")
ELICITATIONS = ("acted", "improvised", "scripted", "spontaneous", "read")


def make_table(
    records: Iterable[Mapping[str, Any]], attrs: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """A validated table from one dict per file; keys left out are empty (None or NaN)."""
    records = list(records)
    unknown = {key for record in records for key in record} - set(COLUMN_NAMES)
    if unknown:
        raise CorpusError(f"not columns of the corpus table: {', '.join(sorted(unknown))}")
    data = {
        c.name: pd.Series(
            [r.get(c.name) for r in records], dtype=np.float64 if c.kind == "float" else object
        )
        for c in COLUMNS
    }
    table = pd.DataFrame(data, columns=list(COLUMN_NAMES))
    table.attrs.update(attrs or {})
    return validate_table(table)


def validate_table(table: pd.DataFrame) -> pd.DataFrame:
    """Check ``table`` against the schema and return it with canonical dtypes.

    Raises :class:`CorpusError` naming the first offending file and the
    reason.  Missing text written as NaN (as pandas writes it) becomes None.
    """
    missing = [n for n in COLUMN_NAMES if n not in table.columns]
    extra = [n for n in table.columns if n not in COLUMN_NAMES]
    if missing or extra:
        raise CorpusError(
            "corpus table does not follow the schema: "
            + "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"unknown {', '.join(map(str, extra))}" if extra else "",
                )
                if part
            )
        )
    attrs = dict(table.attrs)
    table = pd.DataFrame(
        {
            c.name: (
                table[c.name].astype(np.float64)
                if c.kind == "float"
                else pd.Series([_text(v) for v in table[c.name]], index=table.index, dtype=object)
            )
            for c in COLUMNS
        }
    )
    table.attrs.update(attrs)

    for c in COLUMNS:
        values = table[c.name]
        if c.kind == "float":
            _check(table, ~np.isinf(values), f"{c.name} is infinite")
        else:
            _check(table, [v is None or isinstance(v, str) for v in values], f"{c.name} is not text")
            _check(table, [v is None or v != "" for v in values], f"{c.name} is an empty string")
        if c.required:
            _check(table, values.notna(), f"{c.name} is missing")
    _check(table, [os.path.isabs(p) for p in table["path"]], "path is not absolute")
    _check(table, ~table["path"].duplicated(), "path occurs twice")
    _check(table, ~table.duplicated(["corpus", "utterance"]), "utterance id occurs twice in its corpus")
    _check(table, table["duration"] > 0, "duration is not positive")
    _check(table, table["gender"].isna() | table["gender"].isin(GENDERS), "gender is not female/male")
    _check(
        table,
        table["elicitation"].isna() | table["elicitation"].isin(ELICITATIONS),
        f"elicitation is not one of {', '.join(ELICITATIONS)}",
    )
    known = vocabulary()
    _check(table, table["label"].isna() | table["label"].isin(known), "label is not in the vocabulary")
    _check(
        table,
        table["label"].isna() == table["original_label"].isna(),
        "label and original_label must be both given or both None",
    )
    return table


def _text(value: Any) -> Any:
    """None for pandas' missing markers, the value itself otherwise."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _check(table: pd.DataFrame, ok: Any, reason: str) -> None:
    ok = np.asarray(ok, dtype=bool)
    if not ok.all():
        row = table.iloc[int(np.argmin(ok))]
        bad = int((~ok).sum())
        raise CorpusError(
            f"{row['path']}: {reason} ({row['corpus']}, {bad} row{'s' if bad > 1 else ''} in all)"
        )

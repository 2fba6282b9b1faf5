"""Corpora: every corpus on disk becomes one table with the same columns.

``read_corpus("emodb", root)`` returns the table (:mod:`serkit.corpora.table`
documents its columns); ``select_classes(table, "4class")`` keeps the rows of
a named class set, merging and excluding as ``labels.yaml`` declares;
``corpus_summary(table)`` counts it.  Each reader module documents the exact
layout it expects; ``list_corpora()`` gives them in one line each.
"""

from serkit.corpora.alignment import Alignment, read_alignment
from serkit.corpora.labels import (
    ClassSet,
    class_set,
    class_sets,
    corpus_codes,
    get_class_set,
    vocabulary,
)
from serkit.corpora.recola import Trace, read_trace, traces
from serkit.corpora.registry import list_corpora, read_corpus
from serkit.corpora.scan import audio_duration
from serkit.corpora.selection import select_classes
from serkit.corpora.summary import corpus_summary
from serkit.corpora.table import COLUMN_NAMES, COLUMNS, Column, make_table, validate_table

__all__ = [
    "COLUMNS",
    "COLUMN_NAMES",
    "Alignment",
    "ClassSet",
    "Column",
    "Trace",
    "audio_duration",
    "class_set",
    "class_sets",
    "corpus_codes",
    "corpus_summary",
    "get_class_set",
    "list_corpora",
    "make_table",
    "read_alignment",
    "read_corpus",
    "read_trace",
    "select_classes",
    "traces",
    "validate_table",
    "vocabulary",
]

"""Several corpora as one table, for cross-corpus protocols and multi-corpus training.

:func:`read_corpora` reads each corpus with its own reader (its own root, or
``$SERKIT_CORPORA/<name>``) and :func:`combine_tables` stacks the tables.
The ``corpus`` column already names each row's corpus; what must change is
every value a protocol groups on, since corpora number their speakers and
sentences independently (EMO-DB's sentence ``a03`` is not ASED's ``a03``, and
two corpora may both have a speaker ``01``): ``speaker``, ``text`` and
``session`` get the corpus as a prefix (``emodb:03``), so that the leakage
guard and held-out validation see each corpus's speakers as their own.

Labels are already canonical names (``labels.yaml``), so one class set
selects from every corpus alike; :func:`check_classes_in_every_corpus`
refuses a set one of the corpora lacks a class of (``emodb7`` over nEMO,
which has no boredom), since a cross-corpus figure over a class that a
corpus cannot show is not a figure over that set.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from serkit.corpora.registry import read_corpus
from serkit.corpora.table import validate_table
from serkit.errors import ConfigError, CorpusError

log = logging.getLogger(__name__)

#: Columns whose values are made unique per corpus by a ``corpus:`` prefix.
PREFIXED = ("speaker", "text", "session")
SEPARATOR = ":"


def read_corpora(
    names: Sequence[str], roots: Mapping[str, str | Path | None] | None = None, *, skip_bad: bool = False
) -> pd.DataFrame:
    """``names`` read one by one (``roots[name]``, else ``$SERKIT_CORPORA/<name>``) into one table."""
    roots = roots or {}
    return combine_tables([read_corpus(name, roots.get(name), skip_bad=skip_bad) for name in names])


def combine_tables(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The tables stacked, grouped values prefixed with their corpus; ``attrs["corpora"]`` keeps
    each corpus's own attrs (root, skipped files).  Two tables of one corpus are refused."""
    names = [_corpus_name(table) for table in tables]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise CorpusError(f"corpus {', '.join(twice)} given twice")
    prefixed = [table.assign(**{column: _prefixed(table[column], name) for column in PREFIXED})
                for table, name in zip(tables, names)]
    combined = pd.concat(prefixed, ignore_index=True)
    combined.attrs = {"corpora": {name: dict(table.attrs) for name, table in zip(names, tables)}}
    log.info("combined %s", ", ".join(f"{name} ({len(table)} rows)" for name, table in zip(names, tables)))
    return validate_table(combined)


def check_classes_in_every_corpus(table: pd.DataFrame, classes: Sequence[str], class_set: str) -> None:
    """Refuse a class set one of the table's corpora has no example of a class of."""
    for corpus, rows in table.groupby("corpus", sort=True):
        missing = [c for c in classes if c not in set(rows["label"])]
        if missing:
            raise ConfigError(
                f"classes {class_set}: {corpus} has no {', '.join(missing)}; a set of several corpora needs "
                "every class in every corpus (4class, 5class)"
            )


def _corpus_name(table: pd.DataFrame) -> str:
    names = sorted(set(table["corpus"]))
    if len(names) != 1:
        raise CorpusError(f"combine_tables takes one table per corpus; one holds {', '.join(names) or 'no rows'}")
    return names[0]


def _prefixed(values: pd.Series, corpus: str) -> pd.Series:
    return values.map(lambda v: None if v is None else f"{corpus}{SEPARATOR}{v}")


#: How a recipe writes several corpora in one string (``emodb+nemo+ased``), as it joins features.
JOIN = "+"


def corpus_names(spec: str) -> tuple[str, ...]:
    """The corpora a recipe's ``corpus`` names (one, or several joined by ``+``)."""
    return tuple(spec.split(JOIN))

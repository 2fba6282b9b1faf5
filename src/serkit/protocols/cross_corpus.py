"""Cross-corpus protocols: test on a corpus the model never heard (a table of several corpora).

* ``loco`` (leave one corpus out): one fold per corpus, which is the test
  part; the others train.  The mean over its folds is the mean over target
  corpora.
* ``train:A,B test:C``: one fold, trained on corpora A and B, tested on C.
  Corpora of the table that it does not name are left out of the fold
  (recorded as dropped).

Fold names say the test corpus (``test nemo``).  The validation part comes
from the training side as under any protocol, so its speakers belong to the
training corpora only (held-out speakers are drawn from each training corpus,
:class:`~serkit.protocols.validation.HeldOutSpeakers`).  Speakers are grouped
as everywhere: :mod:`serkit.corpora.multi` makes them unique per corpus, and
the guard still refuses a speaker or identical audio on two sides.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from serkit.errors import CorpusError
from serkit.protocols.base import Protocol, Split, check_enough_groups, column_values


@dataclass(frozen=True)
class LeaveOneCorpusOut(Protocol):
    """One fold per corpus: that corpus is the test part."""

    @property
    def name(self) -> str:
        return "loco"

    def splits(self, table: pd.DataFrame, rows: np.ndarray, seed: int, hashes: np.ndarray) -> Iterator[Split]:
        corpora = column_values(table, "corpus", rows, self.name)
        distinct = np.unique(corpora)
        check_enough_groups(len(distinct), 2, "corpora", self.name)
        for corpus in distinct:
            test = corpora == corpus
            yield Split(fold_name(corpus), rows[~test], rows[test])


@dataclass(frozen=True)
class TrainTestCorpora(Protocol):
    """One fold: ``train`` corpora against the ``test`` corpus."""

    train: tuple[str, ...]
    test: str

    def __post_init__(self) -> None:
        if not self.train or self.test in self.train or len(set(self.train)) != len(self.train):
            raise CorpusError(f"protocol {self.name!r}: name distinct training corpora and another to test on")

    @property
    def name(self) -> str:
        return f"train:{','.join(self.train)} test:{self.test}"

    def splits(self, table: pd.DataFrame, rows: np.ndarray, seed: int, hashes: np.ndarray) -> Iterator[Split]:
        corpora = column_values(table, "corpus", rows, self.name)
        absent = [c for c in (*self.train, self.test) if c not in set(corpora)]
        if absent:
            raise CorpusError(f"{self.name}: the table holds no {', '.join(absent)} "
                              f"(its corpora: {', '.join(sorted(set(corpora)))})")
        test = corpora == self.test
        train = np.isin(corpora, self.train)
        yield Split(fold_name(self.test), rows[train], rows[test], dropped=rows[~train & ~test])


def fold_name(corpus: str) -> str:
    """A cross-corpus fold's name: the corpus it tests."""
    return f"test {corpus}"

"""Predefined splits: the corpus's own partition, one fold.

``predefined`` reads the table's ``partition`` column, which readers fill for
corpora that come split: rows marked ``train`` train, rows marked ``test``
test.  Test rows without any annotation are left out: RECOLA's test labels
are withheld in AVEC 2016, so its papers (seed 004) report the development
partition, and then the ``dev`` rows are the test part.  Where both a usable
``test`` and a ``dev`` partition exist, ``dev`` rows are left out of the fold
unless the validation strategy takes them.  A corpus with no partition but a
customary split uses that (IEMOCAP: sessions 1-4 against session 5, as seeds
001 and 003 split it).  ``predefined:COLUMN=VALUE[,VALUE]`` tests on the rows
with those values and trains on the rest (``predefined:session=Session5``).

The validation part comes from the strategy as for any protocol: held-out
training speakers by default, or ``--validation predefined`` to validate on
the ``dev`` partition (which then needs a ``test`` partition to test on).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from serkit.errors import CorpusError
from serkit.protocols.base import Protocol, Split, column_values

PARTITION = "partition"
TRAIN_VALUES = ("train", "training")
TEST_VALUES = ("test",)
DEV_VALUES = ("dev", "devel", "development", "validation")
#: Columns any of which makes a row usable as a test row (the table's targets).
ANNOTATIONS = (
    "label", "valence", "arousal", "dominance", "arousal_trace", "valence_trace",
    "transcript", "alignment",
)
#: corpus -> (column, test values) for corpora that come without a partition.
CUSTOMARY_SPLITS = {"iemocap": ("session", ("Session5",))}


@dataclass(frozen=True)
class Predefined(Protocol):
    column: str = PARTITION
    #: Values of ``column`` that make the test part; empty means the partition rule above.
    test_values: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        if not self.test_values:
            return "predefined"
        return f"predefined:{self.column}={','.join(self.test_values)}"

    def splits(
        self, table: pd.DataFrame, rows: np.ndarray, seed: int, hashes: np.ndarray
    ) -> Iterator[Split]:
        column, test_values = self.column, self.test_values
        if not test_values and (column not in table or table[column].iloc[rows].isna().all()):
            column, test_values = _customary_split(table, rows, self.name)
        values = column_values(table, column, rows, self.name)
        unused = np.zeros(len(rows), dtype=bool)
        if test_values:
            test = np.isin(values, test_values)
            train = ~test
            name = f"test {column}={','.join(test_values)}"
        else:
            train = np.isin(values, TRAIN_VALUES)
            test = np.isin(values, TEST_VALUES) & _annotated(table, rows)
            unused = np.isin(values, TEST_VALUES) & ~test
            name = "test partition"
            if test.any():
                unused |= np.isin(values, DEV_VALUES)
            else:
                test = np.isin(values, DEV_VALUES)
                name = "dev partition (test labels withheld)"
            unknown = sorted(set(values[~train & ~test & ~unused]))
            if unknown:
                raise CorpusError(
                    f"{self.name}: partition values {unknown} are neither training nor test "
                    f"(expected {list(TRAIN_VALUES + TEST_VALUES + DEV_VALUES)})"
                )
        if not test.any():
            raise CorpusError(
                f"{self.name}: no annotated rows to test on among {len(rows)} rows (a dev "
                "partition that the validation strategy takes cannot be tested on)"
            )
        if not train.any():
            raise CorpusError(f"{self.name}: no rows to train on among {len(rows)} rows")
        yield Split(name, rows[train], rows[test], dropped=rows[unused])


def _annotated(table: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    present = [c for c in ANNOTATIONS if c in table.columns]
    if not present:
        return np.ones(len(rows), dtype=bool)
    return table[present].iloc[rows].notna().any(axis=1).to_numpy()


def _customary_split(
    table: pd.DataFrame, rows: np.ndarray, needed_by: str
) -> tuple[str, tuple[str, ...]]:
    corpora = set(table["corpus"].iloc[rows]) if "corpus" in table.columns else set()
    if len(corpora) == 1 and (corpus := corpora.pop()) in CUSTOMARY_SPLITS:
        return CUSTOMARY_SPLITS[corpus]
    raise CorpusError(
        f"{needed_by}: this table has no {PARTITION!r} values and no customary split; "
        "name one, e.g. predefined:session=Session5"
    )

"""Predefined splits: the corpus's own partition, one fold.

``predefined`` reads the table's ``partition`` column, which readers fill for
corpora that come split: rows marked ``train`` train, rows marked ``test``
test.  Where a corpus withholds its test labels (RECOLA in AVEC 2016, whose
papers report the development partition, as seed 004 does), the ``dev`` rows
are the test part; where both exist, ``dev`` rows are left out of the fold
unless the validation strategy takes them.  ``predefined:COLUMN=VALUE[,VALUE]`` instead tests on the
rows with those values and trains on the rest (``predefined:session=5``:
IEMOCAP sessions 1-4 against session 5).

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
        values = column_values(table, self.column, rows, self.name)
        unused = np.zeros(len(rows), dtype=bool)
        if self.test_values:
            test = np.isin(values, self.test_values)
            train = ~test
            label = f"{self.column} {','.join(self.test_values)}"
        else:
            train = np.isin(values, TRAIN_VALUES)
            test = np.isin(values, TEST_VALUES)
            label = "test"
            if test.any():
                unused = np.isin(values, DEV_VALUES)
            else:
                test = np.isin(values, DEV_VALUES)
                label = "dev"
            unknown = sorted(set(values[~train & ~test & ~unused]))
            if unknown:
                raise CorpusError(
                    f"{self.name}: partition values {unknown} are neither training nor test "
                    f"(expected {list(TRAIN_VALUES + TEST_VALUES + DEV_VALUES)})"
                )
        if not test.any():
            raise CorpusError(f"{self.name}: no rows to test on among {len(rows)} rows")
        if not train.any():
            raise CorpusError(f"{self.name}: no rows to train on among {len(rows)} rows")
        yield Split(f"{label} partition", rows[train], rows[test], dropped=rows[unused])

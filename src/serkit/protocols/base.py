"""What every protocol shares: a split of a table's rows before validation is carved out.

A protocol sees the corpus table (one row per utterance, see
:mod:`serkit.corpora`) and the positions of the rows it may use, and yields
one :class:`Split` per fold: the training side (from which the validation
strategy later takes its part) and the test part.  Positions are integer
positions into the table (``table.iloc``), never index labels, so a fold
stays valid whatever index the table carries.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd

from serkit.errors import CorpusError

EMPTY = np.empty(0, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Split:
    """One fold as a protocol defines it: test rows, training side, rows no part may use."""

    name: str
    training: np.ndarray
    test: np.ndarray
    #: Rows that share a group with the test part on one key but not on every
    #: key (the crossed protocol): they may be neither trained nor tested on.
    dropped: np.ndarray = field(default_factory=lambda: EMPTY)


class Protocol(ABC):
    """A way to split a corpus table into folds.

    Subclasses are frozen dataclasses whose fields are the protocol's
    parameters; ``name`` is the string the CLI accepts for them.
    """

    #: True only for a protocol that lets a speaker sit on both sides.
    speaker_dependent: ClassVar[bool] = False
    #: Table columns whose values the guard keeps on one side only.
    grouped_by: ClassVar[tuple[str, ...]] = ("speaker",)
    #: Columns whose values a held-out validation part takes whole.
    held_out_by: ClassVar[tuple[str, ...]] = ("speaker",)

    @property
    @abstractmethod
    def name(self) -> str:
        """The protocol as the CLI names it (``speaker-kfold:5``)."""

    @abstractmethod
    def splits(
        self, table: pd.DataFrame, rows: np.ndarray, seed: int, hashes: np.ndarray
    ) -> Iterator[Split]:
        """Folds over ``rows`` (positions into ``table``), deterministic for a ``seed``.

        ``hashes`` holds each row's audio content hash, for protocols that must
        keep identical audio together.
        """


def column_values(table: pd.DataFrame, column: str, rows: np.ndarray, needed_by: str) -> np.ndarray:
    """``table[column]`` at ``rows`` as strings; a missing column or value is a CorpusError."""
    if column not in table.columns:
        raise CorpusError(f"{needed_by} needs a {column!r} column, which this corpus table lacks")
    values = table[column].iloc[rows]
    missing = values.isna().to_numpy()
    if missing.any():
        where = _example_path(table, rows[missing][0])
        raise CorpusError(
            f"{needed_by} needs a {column!r} for every row; {int(missing.sum())} rows have none "
            f"(e.g. {where})"
        )
    return values.astype(str).to_numpy()


def optional_values(table: pd.DataFrame, column: str, rows: np.ndarray) -> np.ndarray | None:
    """``table[column]`` at ``rows`` as strings (missing values as ``"?"``), or None."""
    if column not in table.columns:
        return None
    values = table[column].iloc[rows]
    return values.astype(str).where(values.notna(), "?").to_numpy()


def check_enough_groups(n_groups: int, needed: int, what: str, needed_by: str) -> None:
    if n_groups < needed:
        raise CorpusError(f"{needed_by} needs at least {needed} {what}; this table has {n_groups}")


def _example_path(table: pd.DataFrame, position: int) -> str:
    if "path" in table.columns:
        return str(table["path"].iloc[position])
    return f"row {position}"

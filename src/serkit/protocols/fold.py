"""The fold record: which rows train, validate and test, and what that means.

A :class:`Fold` is what every result names: its protocol, whether it is
speaker-dependent, how its validation part was chosen, the rows of each
part (integer positions into the table it was made from), the speakers (and
other grouped values) on each side and the label counts per part.  It turns
into a JSON-able dict and back, so that a run can store the exact split it
used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

PARTS = ("train", "validation", "test")


@dataclass(frozen=True)
class Fold:
    protocol: str
    index: int
    name: str
    speaker_dependent: bool
    #: How the validation part was chosen (``speakers``, ``predefined``, ``none``).
    validation_strategy: str
    #: Columns whose values no two parts share (empty for a speaker-dependent fold).
    grouped_by: tuple[str, ...]
    #: Rows of the table the positions point into; a guard against a changed table.
    n_rows: int
    train: tuple[int, ...]
    validation: tuple[int, ...]
    test: tuple[int, ...]
    #: Rows that no part may use (the crossed protocol's half-shared rows).
    dropped: tuple[int, ...]
    #: column -> part -> sorted values, for ``speaker`` and every grouped column.
    groups: Mapping[str, Mapping[str, tuple[str, ...]]]
    #: part -> label -> number of rows.
    counts: Mapping[str, Mapping[str, int]]
    seed: int

    @property
    def parts(self) -> dict[str, tuple[int, ...]]:
        return {"train": self.train, "validation": self.validation, "test": self.test}

    @property
    def may_select_model(self) -> bool:
        """False when there is no validation part: nothing may stop early or choose a model."""
        return len(self.validation) > 0

    def speakers(self, part: str) -> tuple[str, ...]:
        return tuple(self.groups.get("speaker", {}).get(part, ()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "index": self.index,
            "name": self.name,
            "speaker_dependent": self.speaker_dependent,
            "validation_strategy": self.validation_strategy,
            "may_select_model": self.may_select_model,
            "grouped_by": list(self.grouped_by),
            "n_rows": self.n_rows,
            "seed": self.seed,
            "sizes": {part: len(rows) for part, rows in self.parts.items()},
            "train": list(self.train),
            "validation": list(self.validation),
            "test": list(self.test),
            "dropped": list(self.dropped),
            "groups": {
                column: {part: list(values) for part, values in sides.items()}
                for column, sides in self.groups.items()
            },
            "counts": {part: dict(c) for part, c in self.counts.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fold:
        return cls(
            protocol=data["protocol"],
            index=int(data["index"]),
            name=data["name"],
            speaker_dependent=bool(data["speaker_dependent"]),
            validation_strategy=data["validation_strategy"],
            grouped_by=tuple(data["grouped_by"]),
            n_rows=int(data["n_rows"]),
            train=tuple(data["train"]),
            validation=tuple(data["validation"]),
            test=tuple(data["test"]),
            dropped=tuple(data["dropped"]),
            groups={c: {p: tuple(v) for p, v in s.items()} for c, s in data["groups"].items()},
            counts={p: dict(c) for p, c in data["counts"].items()},
            seed=int(data["seed"]),
        )


def build_fold(
    table: pd.DataFrame,
    *,
    protocol: str,
    index: int,
    name: str,
    speaker_dependent: bool,
    validation_strategy: str,
    grouped_by: tuple[str, ...],
    train: np.ndarray,
    validation: np.ndarray,
    test: np.ndarray,
    dropped: np.ndarray,
    seed: int,
) -> Fold:
    """A :class:`Fold` over ``table`` whose groups and counts are read from the table."""
    parts = {"train": train, "validation": validation, "test": test}
    return Fold(
        protocol=protocol,
        index=index,
        name=name,
        speaker_dependent=speaker_dependent,
        validation_strategy=validation_strategy,
        grouped_by=grouped_by,
        n_rows=len(table),
        train=_positions(train),
        validation=_positions(validation),
        test=_positions(test),
        dropped=_positions(dropped),
        groups={
            col: {part: group_values(table, col, rows) for part, rows in parts.items()}
            for col in dict.fromkeys(("speaker", *grouped_by))
            if col in table.columns
        },
        counts={part: label_counts(table, rows) for part, rows in parts.items()},
        seed=seed,
    )


def with_training_share(table: pd.DataFrame, fold: Fold, share: float, seed: int) -> Fold:
    """``fold`` training on ``share`` of each training speaker's rows (at least one each, drawn
    with ``seed`` and the fold's index), the others dropped; validation and test unchanged."""
    if share >= 1:
        return fold
    rng = np.random.default_rng([seed, fold.index, 1])
    train = np.asarray(fold.train, dtype=np.int64)
    speakers = table["speaker"].iloc[train].astype(str).to_numpy()
    kept = [rng.permutation(rows)[: max(1, int(np.ceil(share * len(rows))))]
            for rows in (train[speakers == s] for s in sorted(set(speakers)))]
    kept_rows = np.concatenate(kept)
    return build_fold(
        table, protocol=fold.protocol, index=fold.index, name=fold.name, speaker_dependent=fold.speaker_dependent,
        validation_strategy=fold.validation_strategy, grouped_by=fold.grouped_by, train=kept_rows,
        validation=np.asarray(fold.validation, dtype=np.int64), test=np.asarray(fold.test, dtype=np.int64),
        dropped=np.concatenate([np.asarray(fold.dropped, dtype=np.int64), np.setdiff1d(train, kept_rows)]),
        seed=fold.seed,
    )


def group_values(table: pd.DataFrame, column: str, rows: Any) -> tuple[str, ...]:
    """Sorted distinct values of ``column`` at ``rows`` (positions), missing ones left out."""
    values = table[column].iloc[np.asarray(rows, dtype=np.int64)]
    return tuple(sorted(values.dropna().astype(str).unique()))


def label_counts(table: pd.DataFrame, rows: Any) -> dict[str, int]:
    """Rows per label at ``rows``; empty when the table has no categorical labels."""
    if "label" not in table.columns:
        return {}
    labels = table["label"].iloc[np.asarray(rows, dtype=np.int64)]
    counts = labels.dropna().astype(str).value_counts()
    return {label: int(counts[label]) for label in sorted(counts.index)}


def _positions(rows: np.ndarray) -> tuple[int, ...]:
    return tuple(int(r) for r in np.sort(np.asarray(rows, dtype=np.int64)))

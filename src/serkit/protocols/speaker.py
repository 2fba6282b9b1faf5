"""Speaker-independent folds: leave-one-speaker-out and k-fold grouped by speaker.

Leave-one-speaker-out is seed 001's and seed 002's protocol (and seed 003's
ten folds).  The k-fold variant puts whole speakers into ``k`` test folds,
balancing the label and gender mix across folds with scikit-learn's
``StratifiedGroupKFold`` (on the label-and-gender pair of each row).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from serkit.protocols.base import (
    Protocol,
    Split,
    check_enough_groups,
    column_values,
    optional_values,
)


@dataclass(frozen=True)
class LeaveOneSpeakerOut(Protocol):
    """One fold per speaker: that speaker is the test part."""

    @property
    def name(self) -> str:
        return "loso"

    def splits(
        self, table: pd.DataFrame, rows: np.ndarray, seed: int, hashes: np.ndarray
    ) -> Iterator[Split]:
        speakers = column_values(table, "speaker", rows, self.name)
        distinct = np.unique(speakers)
        check_enough_groups(len(distinct), 2, "speakers", self.name)
        for speaker in distinct:
            test = speakers == speaker
            yield Split(f"speaker {speaker}", rows[~test], rows[test])


@dataclass(frozen=True)
class SpeakerKFold(Protocol):
    """``k`` folds of whole speakers, stratified by label and gender."""

    k: int = 5

    @property
    def name(self) -> str:
        return f"speaker-kfold:{self.k}"

    def splits(
        self, table: pd.DataFrame, rows: np.ndarray, seed: int, hashes: np.ndarray
    ) -> Iterator[Split]:
        speakers = column_values(table, "speaker", rows, self.name)
        check_enough_groups(len(np.unique(speakers)), self.k, "speakers", self.name)
        for i, (train, test) in enumerate(
            stratified_group_folds(table, rows, speakers, self.k, seed), start=1
        ):
            yield Split(f"fold {i}/{self.k}", rows[train], rows[test])


def stratified_group_folds(
    table: pd.DataFrame, rows: np.ndarray, groups: np.ndarray, k: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train, test)`` index arrays into ``rows`` of ``k`` folds of whole ``groups``.

    Rows are stratified by their label-and-gender pair, so that each fold gets
    a similar mix of both.
    """
    strata = np.full(len(rows), "", dtype=object)
    for column in ("label", "gender"):
        values = optional_values(table, column, rows)
        if values is not None:
            strata = strata + "|" + values.astype(object)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # Stratification is best effort: a label-gender pair rarer than k only
        # makes the balance rougher, which sklearn warns about.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        return list(splitter.split(rows, strata, groups=groups))

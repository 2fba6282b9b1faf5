"""Seed 000's stratified random k-fold: speakers overlap, so it is speaker-dependent.

Seed 000 reports 5-fold cross-validation on EMO-DB (271 training and 68 test
utterances of the 339 in four classes) without keeping speakers apart.  The
protocol is here so that its figures can be reproduced, and every fold it
makes says ``speaker_dependent=True`` and carries the suffix in its name, so
that no result from it passes for a speaker-independent one.

Speakers may overlap but identical audio may not: the folds are drawn over
distinct content hashes, so byte-identical copies always land together.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from serkit.protocols.base import Protocol, Split, check_enough_groups

SPEAKER_DEPENDENT = "(speaker-dependent)"


@dataclass(frozen=True)
class RandomKFold(Protocol):
    speaker_dependent: ClassVar[bool] = True
    grouped_by: ClassVar[tuple[str, ...]] = ()

    k: int = 5

    @property
    def name(self) -> str:
        return f"random-kfold:{self.k} {SPEAKER_DEPENDENT}"

    def splits(
        self, table: pd.DataFrame, rows: np.ndarray, seed: int, hashes: np.ndarray
    ) -> Iterator[Split]:
        row_hashes = hashes[rows]
        distinct, first, inverse = np.unique(row_hashes, return_index=True, return_inverse=True)
        check_enough_groups(len(distinct), self.k, "distinct recordings", self.name)
        labels = table["label"].iloc[rows[first]] if "label" in table.columns else None
        if labels is not None and labels.notna().all():
            splitter = StratifiedKFold(self.k, shuffle=True, random_state=seed)
            folds = splitter.split(distinct, labels.astype(str).to_numpy())
        else:  # continuous targets: nothing to stratify on
            folds = KFold(self.k, shuffle=True, random_state=seed).split(distinct)
        for i, (_, test_audio) in enumerate(folds, start=1):
            test = np.isin(inverse, test_audio)
            yield Split(f"fold {i}/{self.k}", rows[~test], rows[test])

"""The whole corpus as one training side: for a model to ship, never for a figure.

``all`` yields one fold whose test part is empty: every row is trained on,
apart from the validation part its strategy holds out (whole speakers by
default).  ``serkit train`` uses it; its figures come from cross-validation
of the same recipe, never from this fold.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from serkit.protocols.base import EMPTY, Protocol, Split


@dataclass(frozen=True)
class WholeCorpus(Protocol):
    @property
    def name(self) -> str:
        return "all"

    def splits(self, table: pd.DataFrame, rows: np.ndarray, seed: int, hashes: np.ndarray) -> Iterator[Split]:
        yield Split("all", rows, EMPTY)

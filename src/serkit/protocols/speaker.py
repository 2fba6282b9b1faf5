"""Speaker-independent folds: leave-one-speaker-out and k-fold grouped by speaker.

Leave-one-speaker-out is seed 001's and seed 002's protocol (and seed 003's
ten folds).  The k-fold variant puts whole speakers into ``k`` test folds,
balancing label counts and the speakers' genders across folds (see
:func:`balanced_group_folds`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

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
        folds = balanced_group_folds(table, rows, speakers, self.k, seed)
        for i, test in enumerate(folds, start=1):
            train = np.setdiff1d(np.arange(len(rows)), test)
            yield Split(f"fold {i}/{self.k}", rows[train], rows[test])


def balanced_group_folds(
    table: pd.DataFrame,
    rows: np.ndarray,
    groups: np.ndarray,
    k: int,
    seed: int,
    by_gender: bool = True,
) -> list[np.ndarray]:
    """Test index arrays (into ``rows``) of ``k`` folds of whole ``groups``.

    Each fold gets ``len(groups) // k`` or one more groups, chosen so that its
    label counts are as close as they can be to a ``k``-th of the table's, and
    (``by_gender``) its speakers' genders too.  scikit-learn's
    ``StratifiedGroupKFold`` does this greedily, one group at a time, which on
    EMO-DB's ten speakers balances labels no better than a random pairing; a
    local search (swap two groups between folds while that lowers the
    imbalance, from a few seeded starts) does, and the tests compare the two.
    """
    names, group_of_row = np.unique(groups, return_inverse=True)
    features = [_scaled(_count_matrix(group_of_row, _labels(table, rows), len(names)))]
    genders = optional_values(table, "gender", rows) if by_gender else None
    if genders is not None:
        _, first_row = np.unique(group_of_row, return_index=True)
        _, gender_of_group = np.unique(genders[first_row], return_inverse=True)
        features.append(_scaled(np.eye(gender_of_group.max() + 1)[gender_of_group]))
    x = np.hstack(features)
    rng = np.random.default_rng(seed)
    best = min(
        (_swap_descent(x, k, rng.permutation(len(names)) % k) for _ in range(_STARTS)),
        key=lambda result: result[0],
    )[1]
    return [np.flatnonzero(best[group_of_row] == f) for f in range(k)]


_STARTS = 8


def _labels(table: pd.DataFrame, rows: np.ndarray) -> np.ndarray | None:
    labels = optional_values(table, "label", rows)
    return None if labels is None or (labels == "?").all() else labels


def _count_matrix(group_of_row: np.ndarray, labels: np.ndarray | None, n_groups: int) -> np.ndarray:
    """Rows per group and label (one column of row counts when there are no labels)."""
    if labels is None:
        return np.bincount(group_of_row, minlength=n_groups)[:, None].astype(float)
    _, label_of_row = np.unique(labels, return_inverse=True)
    counts = np.zeros((n_groups, label_of_row.max() + 1))
    np.add.at(counts, (group_of_row, label_of_row), 1)
    return counts


def _scaled(counts: np.ndarray) -> np.ndarray:
    # Dividing by the square root of each column's total makes the squared
    # distance to the target a chi-square statistic, so rare labels count.
    return counts / np.sqrt(counts.sum(axis=0))


def _swap_descent(x: np.ndarray, k: int, fold: np.ndarray) -> tuple[float, np.ndarray]:
    """Steepest descent over pairwise swaps of ``J = sum_f |sum_{g in f} x_g - target|^2``.

    Swapping groups ``a`` (fold ``i``) and ``b`` (fold ``j``) with ``d = x_b - x_a``
    changes ``J`` by ``2 d.(r_i - r_j) + 2|d|^2`` (``r`` the folds' residuals),
    which is evaluated for all pairs at once.
    """
    target = x.sum(axis=0) / k
    gram = x @ x.T
    sq = np.diag(gram)
    distance = sq[:, None] + sq[None, :] - 2 * gram
    n = len(x)
    while True:
        residual = np.zeros((k, x.shape[1]))
        np.add.at(residual, fold, x)
        residual -= target
        p = x @ residual.T  # p[g, f] = x_g . r_f
        own = p[np.arange(n), fold]
        delta = 2 * (p[:, fold].T - own[None, :] - own[:, None] + p[:, fold]) + 2 * distance
        delta[fold[:, None] == fold[None, :]] = np.inf
        a, b = np.unravel_index(np.argmin(delta), delta.shape)
        if not delta[a, b] < -1e-12:
            return float((residual**2).sum()), fold
        fold[a], fold[b] = fold[b], fold[a]

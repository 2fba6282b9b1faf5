"""A run's features, extracted once through its executor: the corpus's, and the augmented copies
of the rows its folds train on (``train.waveform_augment.copies``), both cached."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from serkit.experiments.executors import LocalExecutor, RayExecutor
from serkit.experiments.fold_data import copy_features
from serkit.experiments.recipe import Recipe
from serkit.features.cache import FeatureCache
from serkit.features.presets import get_preset
from serkit.progress import StageProgress, for_stage
from serkit.protocols import Fold


def corpus_features(
    recipe: Recipe,
    table: pd.DataFrame,
    cache: FeatureCache | None,
    workers: int | None,
    progress: StageProgress | None,
    executor: LocalExecutor | RayExecutor | None = None,
) -> Mapping[str, np.ndarray]:
    feature = get_preset(recipe.features).feature
    return (executor or LocalExecutor()).features(feature, list(table["path"]), cache, workers,
                                                  for_stage(progress, "features"))


def training_copies(
    recipe: Recipe,
    table: pd.DataFrame,
    folds: Sequence[Fold],
    cache: FeatureCache | None,
    workers: int | None,
    progress: StageProgress | None,
    executor: LocalExecutor | RayExecutor | None = None,
) -> list[Mapping[str, np.ndarray]]:
    """Each augmented copy's features (``train.waveform_augment.copies``) of every row that
    ``folds`` train on, extracted and cached once for all folds and seeds; none without copies."""
    rows = sorted({i for fold in folds for i in fold.train})
    paths = list(table["path"].iloc[rows])
    return [(executor or LocalExecutor()).features(feature, paths, cache, workers,
                                                   for_stage(progress, f"augmented copy {k}"))
            for k, feature in enumerate(copy_features(recipe), 1)] if paths else []

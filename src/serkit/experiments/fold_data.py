"""A fold's parts as fitters take them: arrays, labels, ids and speakers, row-aligned."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from serkit.errors import SerkitError
from serkit.experiments.ctc_targets import character_set, normalise_text
from serkit.experiments.recipe import Recipe
from serkit.experiments.frame_targets import FrameTargets
from serkit.experiments.trace_targets import has_traces, trace_frames
from serkit.features.augmented import augmented_copies
from serkit.features.base import Feature, FrameGrid
from serkit.features.presets import get_preset
from serkit.features.whisper import layer_block
from serkit.models.registry import is_frame_model
from serkit.protocols import Fold


@dataclasses.dataclass(frozen=True)
class Part:
    """One part of a fold: feature arrays, labels, ids (paths), speakers and corpora, row-aligned."""

    arrays: list[np.ndarray]
    labels: list[str]
    ids: list[str]
    speakers: list[str]
    #: Regression targets, one ``(outputs,)`` array per row, or ``(frames, outputs)`` from traces
    #: (None for classification).
    values: list[np.ndarray] | None = None
    #: A frame task's targets: one symbol per feature frame of each row (None otherwise).
    frames: list[np.ndarray] | None = None
    #: A ctc task's targets: each row's normalised transcript (None otherwise).
    transcripts: list[str] | None = None
    #: Each row's corpus (per-corpus normalisation and corpus-balanced sampling go by it).
    corpora: list[str] | None = None
    #: The training part's augmented copies: per row, the feature arrays of its perturbed copies
    #: (``train.waveform_augment.copies``; None otherwise).
    copies: list[list[np.ndarray]] | None = None

    def __len__(self) -> int:
        return len(self.ids)


@dataclasses.dataclass(frozen=True)
class FoldData:
    train: Part
    validation: Part
    test: Part
    labels: tuple[str, ...]
    #: The regression targets' names (empty for classification).
    targets: tuple[str, ...] = ()

    @classmethod
    def from_fold(
        cls, table: pd.DataFrame, fold: Fold, features: dict[str, np.ndarray], labels: Sequence[str],
        targets: Sequence[str] = (), frames: FrameTargets | None = None, transcripts: bool = False,
        traces: FrameGrid | None = None, copies: Sequence[Mapping[str, np.ndarray]] = (),
    ) -> FoldData:
        """The fold's parts; with a frame task's ``frames`` (:func:`frame_targets`), each row's
        class per feature frame, and ``labels`` become the frame classes (:mod:`.frame_targets`);
        with ``transcripts`` (a ctc task), each row's text, and ``labels`` the training part's
        characters (:mod:`.ctc_targets`); with ``traces`` (the grid of a per-frame regression on a
        corpus with traces), each row's ``(frames, targets)`` values (:mod:`.trace_targets`); with
        ``copies`` (each copy's features by path, :func:`copy_features`), the training rows' copies."""
        columns = [target_column(t) for t in targets]

        def part(rows: Sequence[int]) -> Part:
            sub = table.iloc[list(rows)]
            paths = list(sub["path"])
            values = list(sub[columns].to_numpy(dtype=np.float32)) if columns else None
            if traces is not None:
                values = [trace_frames(row, targets, traces, features[row.path].shape[-1]) for row in sub.itertuples()]
            symbols = None if frames is None else [
                frame_symbols(frames, row, features[row.path].shape[-1]) for row in sub.itertuples()]
            texts = [normalise_text(str(t)) for t in sub["transcript"]] if transcripts else None
            return Part([features[p] for p in paths], list(sub["label"]), paths, list(sub["speaker"]), values,
                        symbols, texts, list(sub["corpus"]))

        train = part(fold.train)
        if copies:
            train = dataclasses.replace(train, copies=[[c[p] for c in copies] for p in train.ids])
        classes = tuple(labels) if frames is None else frames.classes(train.frames, labels)
        if transcripts:
            classes = character_set(train.transcripts)
        return cls(train, part(fold.validation), part(fold.test), classes, tuple(targets))


def frame_symbols(frames: FrameTargets, row: Any, n_frames: int) -> np.ndarray:
    """One class name per frame of a table row (its phones, or its label and silence)."""
    return frames.symbols(row.path, getattr(row, "alignment", None), row.label, n_frames)


def frame_targets(recipe: Recipe) -> FrameTargets | None:
    """What a frame recipe learns per frame (its grid, frame_target, phone_set, silence); None for
    other tasks."""
    grid = frame_grid(recipe)
    if grid is None:
        return None
    return FrameTargets.from_fields(grid, recipe.frame_target, recipe.phone_set, recipe.silence)


def trace_grid(recipe: Recipe, table: pd.DataFrame) -> FrameGrid | None:
    """The grid a per-frame regression samples its corpus's traces on; None where there are no
    traces (each frame then learns its utterance's value) or the task is another."""
    if recipe.task != "regression" or not is_frame_model(recipe.model) or not has_traces(table, recipe.targets):
        return None
    return selected_feature(recipe).grid


def target_column(name: str) -> str:
    """The corpus table's column holding regression target ``name`` (on [-1, 1])."""
    return f"target_{name}"


def frame_grid(recipe: Recipe) -> FrameGrid | None:
    """The frame grid a frame task's targets follow (the feature's); None for other tasks."""
    if recipe.task != "frame":
        return None
    grid = selected_feature(recipe).grid
    if grid is None:
        raise SerkitError(f"task frame: features {recipe.features} give one vector per utterance, not frames")
    return grid


def selected_feature(recipe: Recipe) -> Feature:
    """The extractor whose output the model reads: the preset's, narrowed to ``recipe.layer``."""
    feature = get_preset(recipe.features).feature
    if recipe.layer is None:
        return feature
    if getattr(feature.config, "layer", 0) is not None:
        raise SerkitError(f"layer: {recipe.layer} needs a feature that stacks every layer, "
                          f"not {recipe.features}")
    return type(feature)(feature.config, layer=recipe.layer)


def select_layer(recipe: Recipe, part: Part) -> Part:
    """The part with only layer ``recipe.layer`` (or those layers, stacked in order) of an
    all-layers feature (as it is otherwise)."""
    if recipe.layer is None:
        return part
    layers = selected_feature(recipe).layers  # checks that the feature stacks layers
    n_layers = get_preset(recipe.features).feature.n_layers

    def select(x: np.ndarray) -> np.ndarray:
        if len(layers) == 1:  # a view, not a copy
            return layer_block(x, layers[0], n_layers)
        return np.concatenate([layer_block(x, k, n_layers) for k in layers])

    copies = None if part.copies is None else [[select(x) for x in row] for row in part.copies]
    return dataclasses.replace(part, arrays=[select(x) for x in part.arrays], copies=copies)


def copy_features(recipe: Recipe) -> list[Feature]:
    """The features of the augmented copies a recipe trains on (``train.waveform_augment.copies``;
    none without): the recipe's corpus feature computed from each perturbed copy."""
    augment = recipe.train.waveform_augment
    if not augment.copies:
        return []
    return augmented_copies(get_preset(recipe.features).feature, augment.copies, augment.gain_db, augment.tempo)

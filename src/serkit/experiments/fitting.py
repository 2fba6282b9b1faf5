"""Fit one fold: training and validation parts in, test predictions out.

Two kinds of model: neural ones (:mod:`serkit.models`, trained by
:class:`~serkit.training.Trainer`) and classical scikit-learn baselines
(:mod:`serkit.models.classical`).  Both follow one rule: everything that is
fitted or chosen (normaliser statistics, weights, the stopping epoch, the
SVM's cost) sees the training and validation parts only.  The test part is
touched once, to predict it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serkit.audio import load_audio
from serkit.errors import SerkitError
from serkit.evaluation import unweighted_average_recall
from serkit.experiments.recipe import Recipe
from serkit.features.normalise import GlobalNormaliser, SpeakerNormaliser, normalise_utterance
from serkit.features.presets import get_preset
from serkit.features.shaping import SegmentRule, fix_length
from serkit.models import build_model, model_config
from serkit.models.classical import build_classical
from serkit.protocols import Fold
from serkit.training import (
    FeatureDataset,
    Recording,
    Trainer,
    UtteranceClassification,
    WaveformDataset,
    build_seeded,
)

log = logging.getLogger(__name__)

#: Costs the linear SVM chooses from, on the validation part.
SVM_COSTS = (1e-4, 1e-3, 1e-2, 1e-1)

Progress = Callable[[int, int], None]


@dataclasses.dataclass(frozen=True)
class Part:
    """One part of a fold: feature arrays, labels, ids (paths) and speakers, row-aligned."""

    arrays: list[np.ndarray]
    labels: list[str]
    ids: list[str]
    speakers: list[str]

    def __len__(self) -> int:
        return len(self.ids)


@dataclasses.dataclass(frozen=True)
class FoldData:
    train: Part
    validation: Part
    test: Part
    labels: tuple[str, ...]

    @classmethod
    def from_fold(
        cls, table: pd.DataFrame, fold: Fold, features: dict[str, np.ndarray], labels: Sequence[str]
    ) -> FoldData:
        def part(rows: Sequence[int]) -> Part:
            sub = table.iloc[list(rows)]
            paths = list(sub["path"])
            return Part([features[p] for p in paths], list(sub["label"]), paths, list(sub["speaker"]))

        return cls(part(fold.train), part(fold.validation), part(fold.test), tuple(labels))


def fit_fold(
    recipe: Recipe, data: FoldData, fold_dir: Path, *, threads: int | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Train on the fold, predict its test part; a JSON-able dict of predictions and choices."""
    if recipe.classical:
        return _fit_classical(recipe, data)
    return _fit_neural(recipe, data, fold_dir, threads, progress)


# -- neural models --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A fold's parts as model inputs, and the fitted normaliser they went through."""

    task: UtteranceClassification
    train: FeatureDataset
    validation: FeatureDataset | None
    test: FeatureDataset | None
    #: The fitted global normaliser as JSON (None for the other normalisations).
    normaliser: dict[str, Any] | None


def prepare(recipe: Recipe, data: FoldData) -> Prepared:
    preset = get_preset(recipe.features)
    (train, validation, test), transform, normaliser = _normalised(recipe, data)
    task = UtteranceClassification(data.labels)
    parts = ((data.train, train, True), (data.validation, validation, False), (data.test, test, False))
    datasets = [_dataset(recipe, preset, part, arrays, task, training) for part, arrays, training in parts]
    if recipe.train.waveform_augment.active:
        datasets[0] = _waveform_dataset(recipe, preset, data.train, task, transform)
    return Prepared(task, *datasets, normaliser=normaliser)


def train_member(
    recipe: Recipe, prepared: Prepared, seed: int, out_dir: Path, threads: int | None, progress: Progress | None
) -> tuple[Trainer, Any]:
    """Train one model of ``recipe`` from ``seed``; returns the trainer (holding the chosen
    weights) and its fit result."""
    config = dataclasses.replace(recipe.train, seed=seed)
    dims, n_classes = prepared.train.example(0).features.shape[0], prepared.task.n_classes
    model = build_seeded(lambda: build_model(recipe.model, dims, n_classes, **recipe.model_options), seed)
    metadata = {
        "model": model_config(model),
        "features": get_preset(recipe.features).feature.to_dict(),
        "feature_preset": recipe.features,
        "normalisation": recipe.normalisation,
        "normaliser": prepared.normaliser,
        "fixed_frames": recipe.fixed_frames,
        "segments": dataclasses.asdict(recipe.segments) if recipe.segments else None,
        "labels": list(prepared.task.labels),
    }
    trainer = Trainer(model, prepared.task, config, out_dir=out_dir, metadata=metadata,
                      progress=progress, threads=threads)
    return trainer, trainer.fit(prepared.train, prepared.validation)


def _fit_neural(
    recipe: Recipe, data: FoldData, fold_dir: Path, threads: int | None, progress: Progress | None
) -> dict[str, Any]:
    prepared = prepare(recipe, data)
    scores = np.zeros((len(data.test), len(data.labels)))
    members = []
    for seed in range(recipe.seed, recipe.seed + recipe.ensemble):
        trainer, fit = train_member(recipe, prepared, seed, fold_dir / f"seed{seed}", threads, progress)
        predicted = trainer.predict(prepared.test)
        order = {i: k for k, i in enumerate(predicted.ids)}
        scores += np.stack([predicted.scores[order[i]] for i in data.test.ids])
        members.append({"seed": seed, "chosen_epoch": fit.chosen_epoch, "selection": fit.selection,
                        "stop_reason": fit.stop_reason, "epochs_run": fit.epochs_run,
                        "history": list(fit.history)})
    scores /= recipe.ensemble
    return {
        **_predictions(data, scores),
        "chosen_epoch": members[0]["chosen_epoch"],
        "selection": members[0]["selection"],
        "members": members,
    }


Transform = Callable[[np.ndarray], np.ndarray]


def _normalised(
    recipe: Recipe, data: FoldData
) -> tuple[tuple[list[np.ndarray], ...], Transform | None, dict[str, Any] | None]:
    """Each part's arrays normalised as the recipe says, the per-array transform (for
    features computed later, from augmented audio) and the fitted normaliser as JSON."""
    parts = (data.train, data.validation, data.test)
    if recipe.normalisation == "per-speaker":
        # The declared variant: every speaker, test speakers included, by their own statistics.
        by_speaker = SpeakerNormaliser().fit(
            [x for p in parts for x in p.arrays], [s for p in parts for s in p.speakers]
        )
        arrays = tuple([by_speaker.transform(x, s) for x, s in zip(p.arrays, p.speakers)] for p in parts)
        return arrays, None, None
    fitted = GlobalNormaliser().fit(data.train.arrays) if recipe.normalisation == "global" else None
    transform = {
        "none": None,
        "utterance": normalise_utterance,
        "global": fitted.transform if fitted else None,  # fitted on the training part only
    }[recipe.normalisation]
    arrays = tuple(p.arrays if transform is None else [transform(x) for x in p.arrays] for p in parts)
    return arrays, transform, fitted.to_dict() if fitted else None


def _waveform_dataset(recipe: Recipe, preset: Any, part: Part, task: Any,
                      transform: Transform | None) -> WaveformDataset:
    """Training signals whose features are computed after augmentation (never cached)."""
    if recipe.normalisation == "per-speaker":
        raise SerkitError("waveform augmentation cannot be combined with per-speaker normalisation")
    feature = preset.feature

    def shaped(x: np.ndarray) -> np.ndarray:
        x = x if transform is None else transform(x)
        return fix_length(x, recipe.fixed_frames) if recipe.fixed_frames else x

    recordings = [Recording(load_audio(path, feature.sample_rate), target, path)
                  for path, target in zip(part.ids, task.encode(part.labels))]
    dataset = WaveformDataset(recordings, feature.process_signal, feature.sample_rate, transform=shaped)
    if recipe.segments is None:
        return dataset
    return dataset.windows(recipe.segments.window, recipe.segments.train_hop)


def _dataset(recipe: Recipe, preset: Any, part: Part, arrays: list[np.ndarray], task: Any,
             training: bool) -> FeatureDataset | None:
    """The part as model inputs (fixed length or windows, as the recipe says); None if empty."""
    if not len(part):
        return None
    if recipe.fixed_frames:
        arrays = [fix_length(x, recipe.fixed_frames) for x in arrays]
    dataset = FeatureDataset.from_arrays(arrays, task.encode(part.labels), part.ids)
    if recipe.segments is None:
        return dataset
    hop = recipe.segments.train_hop if training else recipe.segments.test_hop
    window, hop_frames = SegmentRule(recipe.segments.window, hop).frames(preset.feature.grid)
    return dataset.windows(window, hop_frames)


# -- classical baselines ------------------------------------------------------------


def _fit_classical(recipe: Recipe, data: FoldData) -> dict[str, Any]:
    train, validation, test = (_vectors(p.arrays) for p in (data.train, data.validation, data.test))
    if recipe.model == "majority":
        model = build_classical("majority").fit(train, data.train.labels)
        return {**_predictions(data, _one_hot(model.predict(test), data.labels)), "chosen": {}}
    cost, choice = _choose_cost(recipe, train, data.train.labels, validation, data.validation.labels, data.labels)
    # Refit on training + validation with the chosen cost: the test part played no part.
    both = np.concatenate([train, validation]) if len(validation) else train
    model = build_classical("svm", seed=recipe.seed, c=cost, **recipe.model_options)
    model.fit(both, data.train.labels + data.validation.labels)
    return {**_predictions(data, _one_hot(model.predict(test), data.labels)),
            "chosen": {"c": cost, "validation_ua": choice}}


def _choose_cost(recipe: Recipe, train: np.ndarray, train_labels: list[str], validation: np.ndarray,
                 validation_labels: list[str], labels: Sequence[str]) -> tuple[float, dict[str, float]]:
    if not len(validation):
        cost = recipe.model_options.get("c", 1e-3)
        return cost, {}
    options = {k: v for k, v in recipe.model_options.items() if k != "c"}
    figures = {}
    for cost in SVM_COSTS:
        model = build_classical("svm", seed=recipe.seed, c=cost, **options).fit(train, train_labels)
        figures[str(cost)] = unweighted_average_recall(validation_labels, model.predict(validation),
                                                       labels=list(labels))
    best = max(SVM_COSTS, key=lambda c: figures[str(c)])
    return best, figures


def _vectors(arrays: list[np.ndarray]) -> np.ndarray:
    """One row per utterance: functionals as they are, frame-level features as mean and std."""
    if not arrays:
        return np.zeros((0, 0))
    if arrays[0].ndim == 1:
        return np.stack(arrays)
    return np.stack([np.concatenate([x.mean(axis=1), x.std(axis=1)]) for x in arrays])


def _one_hot(predicted: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    scores = np.zeros((len(predicted), len(labels)))
    scores[np.arange(len(predicted)), [index[p] for p in predicted]] = 1.0
    return scores


def _predictions(data: FoldData, scores: np.ndarray) -> dict[str, Any]:
    labels = np.asarray(data.labels)
    return {
        "ids": data.test.ids,
        "speakers": data.test.speakers,
        "y_true": data.test.labels,
        "y_pred": labels[np.argmax(scores, axis=1)].tolist(),
        "scores": np.round(scores, 6).tolist(),
    }

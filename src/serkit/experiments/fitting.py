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
import torch

from serkit.audio import load_audio
from serkit.errors import SerkitError
from serkit.evaluation import unweighted_average_recall
from serkit.experiments.recipe import Recipe
from serkit.features.base import Feature
from serkit.features.normalise import GlobalNormaliser, SpeakerNormaliser, normalise_utterance
from serkit.features.presets import get_preset
from serkit.features.shaping import SegmentRule, fix_length
from serkit.features.whisper import layer_block
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

#: Costs each classical model chooses from, on the validation part.
CLASSICAL_COSTS = {"svm": (1e-4, 1e-3, 1e-2, 1e-1), "logistic": (1e-3, 1e-2, 1e-1, 1.0)}

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
    """Train on the fold, predict its test part; a JSON-able dict of predictions and choices.

    A recipe that searches settings (``search``) fits every candidate on the
    training part and keeps the one with the best UA on the validation part;
    only that one predicts the test part.
    """
    candidates = recipe.candidates()
    if len(candidates) == 1:
        return _fit(recipe, data, fold_dir, threads, progress).finish()
    tried, best = [], None
    for values, candidate in candidates:
        fitted = _fit(candidate, data, fold_dir / candidate_slug(values), threads, progress)
        tried.append({"values": values, "validation_ua": fitted.validation_ua})
        if fitted.validation_ua is None:
            raise SerkitError("a search needs a validation part to choose on; this fold has none")
        if best is None or fitted.validation_ua > best[1].validation_ua:
            best = (values, fitted)
    chosen, fitted = best
    return {**fitted.finish(), "search": {"chosen": chosen, "tried": tried}}


@dataclasses.dataclass(frozen=True)
class Fitted:
    """A model fitted on a fold: its UA on the validation part, and how to predict the test part."""

    validation_ua: float | None
    finish: Callable[[], dict[str, Any]]


def _fit(recipe: Recipe, data: FoldData, fold_dir: Path, threads: int | None,
         progress: Progress | None) -> Fitted:
    data = select_layer(recipe, data)
    if recipe.classical:
        return _fit_classical(recipe, data)
    return _fit_neural(recipe, data, fold_dir, threads, progress)


def candidate_slug(values: dict[str, Any]) -> str:
    return "-".join(f"{k.split('.')[-1]}={v}" for k, v in values.items())


def selected_feature(recipe: Recipe) -> Feature:
    """The extractor whose output the model reads: the preset's, narrowed to ``recipe.layer``."""
    feature = get_preset(recipe.features).feature
    if recipe.layer is None:
        return feature
    if getattr(feature.config, "layer", 0) is not None:
        raise SerkitError(f"layer: {recipe.layer} needs a feature that stacks every layer, "
                          f"not {recipe.features}")
    return type(feature)(feature.config, layer=recipe.layer)


def select_layer(recipe: Recipe, data: FoldData) -> FoldData:
    """The fold with only layer ``recipe.layer`` of an all-layers feature (as it is otherwise)."""
    if recipe.layer is None:
        return data
    selected_feature(recipe)  # checks that the feature stacks layers
    n_layers = get_preset(recipe.features).feature.n_layers

    def narrow(part: Part) -> Part:
        return dataclasses.replace(part, arrays=[layer_block(x, recipe.layer, n_layers) for x in part.arrays])

    return dataclasses.replace(data, train=narrow(data.train), validation=narrow(data.validation),
                               test=narrow(data.test))


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
    feature = selected_feature(recipe)
    (train, validation, test), transform, normaliser = _normalised(recipe, data)
    task = UtteranceClassification(data.labels)
    parts = ((data.train, train, True), (data.validation, validation, False), (data.test, test, False))
    datasets = [_dataset(recipe, feature, part, arrays, task, training) for part, arrays, training in parts]
    if recipe.train.waveform_augment.active:
        datasets[0] = _waveform_dataset(recipe, feature, data.train, task, transform)
    return Prepared(task, *datasets, normaliser=normaliser)


def model_metadata(
    recipe: Recipe, model: torch.nn.Module, labels: Sequence[str], normaliser: dict[str, Any] | None
) -> dict[str, Any]:
    """What inference needs beside the weights: the model, the feature, normalisation, input shaping, labels."""
    return {
        "model": model_config(model),
        "features": selected_feature(recipe).to_dict(),
        "feature_preset": recipe.features,
        "normalisation": recipe.normalisation,
        "normaliser": normaliser,
        "fixed_frames": recipe.fixed_frames,
        "segments": dataclasses.asdict(recipe.segments) if recipe.segments else None,
        "labels": list(labels),
    }


def train_member(
    recipe: Recipe, prepared: Prepared, seed: int, out_dir: Path, threads: int | None, progress: Progress | None
) -> tuple[Trainer, Any]:
    """Train one model of ``recipe`` from ``seed``; returns the trainer (holding the chosen
    weights) and its fit result."""
    config = dataclasses.replace(recipe.train, seed=seed)
    dims, n_classes = prepared.train.example(0).features.shape[0], prepared.task.n_classes
    model = build_seeded(lambda: build_model(recipe.model, dims, n_classes, **recipe.model_options), seed)
    metadata = model_metadata(recipe, model, prepared.task.labels, prepared.normaliser)
    trainer = Trainer(model, prepared.task, config, out_dir=out_dir, metadata=metadata,
                      progress=progress, threads=threads)
    return trainer, trainer.fit(prepared.train, prepared.validation)


def _fit_neural(
    recipe: Recipe, data: FoldData, fold_dir: Path, threads: int | None, progress: Progress | None
) -> Fitted:
    prepared = prepare(recipe, data)
    trainers, members = [], []
    for seed in range(recipe.seed, recipe.seed + recipe.ensemble):
        trainer, fit = train_member(recipe, prepared, seed, fold_dir / f"seed{seed}", threads, progress)
        trainers.append(trainer)
        members.append({"seed": seed, "chosen_epoch": fit.chosen_epoch, "selection": fit.selection,
                        "stop_reason": fit.stop_reason, "epochs_run": fit.epochs_run,
                        "earlier_seconds": fit.earlier_seconds, "history": list(fit.history)})
    validation_ua = None
    if prepared.validation is not None:  # the ensemble as it will predict: members' scores averaged
        scores = _mean_scores(trainers, prepared.validation, data.validation.ids)
        predicted = np.asarray(data.labels)[np.argmax(scores, axis=1)]
        validation_ua = unweighted_average_recall(data.validation.labels, list(predicted), labels=list(data.labels))

    def finish() -> dict[str, Any]:
        scores = _mean_scores(trainers, prepared.test, data.test.ids)
        return {**_predictions(data, scores), "chosen_epoch": members[0]["chosen_epoch"],
                "selection": members[0]["selection"], "validation_ua": validation_ua, "members": members}

    return Fitted(validation_ua, finish)


def _mean_scores(trainers: Sequence[Trainer], dataset: FeatureDataset, ids: Sequence[str]) -> np.ndarray:
    """Class scores of each item of ``ids``, averaged over the trainers' models."""
    total = np.zeros((len(ids), trainers[0].task.n_classes))
    for trainer in trainers:
        predicted = trainer.predict(dataset)
        order = {i: k for k, i in enumerate(predicted.ids)}
        total += np.stack([predicted.scores[order[i]] for i in ids])
    return total / len(trainers)


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


def _waveform_dataset(recipe: Recipe, feature: Feature, part: Part, task: Any,
                      transform: Transform | None) -> WaveformDataset:
    """Training signals whose features are computed after augmentation (never cached)."""
    if recipe.normalisation == "per-speaker":
        raise SerkitError("waveform augmentation cannot be combined with per-speaker normalisation")

    def shaped(x: np.ndarray) -> np.ndarray:
        x = x if transform is None else transform(x)
        return fix_length(x, recipe.fixed_frames) if recipe.fixed_frames else x

    recordings = [Recording(load_audio(path, feature.sample_rate), target, path)
                  for path, target in zip(part.ids, task.encode(part.labels))]
    dataset = WaveformDataset(recordings, feature.process_signal, feature.sample_rate, transform=shaped)
    if recipe.segments is None:
        return dataset
    return dataset.windows(recipe.segments.window, recipe.segments.train_hop)


def _dataset(recipe: Recipe, feature: Feature, part: Part, arrays: list[np.ndarray], task: Any,
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
    window, hop_frames = SegmentRule(recipe.segments.window, hop).frames(feature.grid)
    return dataset.windows(window, hop_frames)


# -- classical baselines ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ClassicalChoice:
    """A classical model's cost chosen on a fold's training side, ready to refit on all of it."""

    recipe: Recipe
    cost: float
    #: Mean UA of each cost where it was scored (validation part or inner folds).
    figures: dict[str, float]
    rows: np.ndarray
    labels: list[str]
    options: dict[str, Any]

    @property
    def validation_ua(self) -> float | None:
        return self.figures.get(str(self.cost))

    def estimator(self) -> Any:
        """The model refitted on training + validation with the chosen cost."""
        model = build_classical(self.recipe.model, seed=self.recipe.seed, c=self.cost, **self.options)
        return model.fit(self.rows, self.labels)


def choose_classical(recipe: Recipe, data: FoldData) -> ClassicalChoice:
    """Choose an SVM's or a logistic regression's cost on the fold's training side only."""
    options = dict(recipe.model_options)
    pooling = options.pop("pooling", "mean_std")
    train, validation = (_vectors(p.arrays, pooling) for p in (data.train, data.validation))
    both = np.concatenate([train, validation]) if len(validation) else train
    splits = _choice_splits(recipe, data, train, validation, both)
    cost, figures = _choose_cost(recipe, options, splits, data.labels)
    return ClassicalChoice(recipe, cost, figures, both, data.train.labels + data.validation.labels, options)


def _fit_classical(recipe: Recipe, data: FoldData) -> Fitted:
    pooling = recipe.model_options.get("pooling", "mean_std")
    test = _vectors(data.test.arrays, pooling)
    if recipe.model == "majority":
        model = build_classical("majority").fit(_vectors(data.train.arrays, pooling), data.train.labels)
        return Fitted(None, lambda: {**_predictions(data, _one_hot(model.predict(test), data.labels)),
                                     "chosen": {}})
    choice = choose_classical(recipe, data)

    def finish() -> dict[str, Any]:
        # Refit on training + validation with the chosen cost: the test part played no part.
        predicted = choice.estimator().predict(test)
        return {**_predictions(data, _one_hot(predicted, data.labels)),
                "chosen": {"c": choice.cost, "validation_ua": choice.figures,
                           "by": "inner-loso" if recipe.inner_cv else "validation"}}

    return Fitted(choice.validation_ua, finish)


#: ``(fit rows, fit labels, scored rows, scored labels)``: one way of scoring a candidate.
Split = tuple[np.ndarray, list[str], np.ndarray, list[str]]


def _choice_splits(recipe: Recipe, data: FoldData, train: np.ndarray, validation: np.ndarray,
                   both: np.ndarray) -> list[Split]:
    """Where candidates are scored: the validation part, or (``inner_cv``) each training-side
    speaker in turn, fitted on the others; never the test part."""
    if not recipe.inner_cv:
        return [(train, data.train.labels, validation, data.validation.labels)] if len(validation) else []
    labels = np.asarray(data.train.labels + data.validation.labels)
    speakers = np.asarray(data.train.speakers + data.validation.speakers)
    if len(set(speakers)) < 2:
        raise SerkitError("inner_cv needs at least two speakers on the training side")
    return [(both[speakers != s], list(labels[speakers != s]), both[speakers == s], list(labels[speakers == s]))
            for s in sorted(set(speakers))]


def _choose_cost(recipe: Recipe, options: dict[str, Any], splits: list[Split],
                 labels: Sequence[str]) -> tuple[float, dict[str, float]]:
    """The cost with the best mean UA over ``splits`` (the recipe's own with none)."""
    costs = CLASSICAL_COSTS[recipe.model]
    options = {k: v for k, v in options.items() if k != "c"}
    if not splits:
        return recipe.model_options.get("c", costs[len(costs) // 2]), {}
    figures = {}
    for cost in costs:
        scores = []
        for fit_x, fit_y, score_x, score_y in splits:
            model = build_classical(recipe.model, seed=recipe.seed, c=cost, **options).fit(fit_x, fit_y)
            scores.append(unweighted_average_recall(score_y, model.predict(score_x), labels=list(labels)))
        figures[str(cost)] = float(np.mean(scores))
    best = max(costs, key=lambda c: figures[str(c)])
    return best, figures


def _vectors(arrays: list[np.ndarray], pooling: str = "mean_std") -> np.ndarray:
    """One row per utterance: functionals as they are, frame-level features pooled over frames
    (``mean_std``: mean and standard deviation; ``mean``: seed 003's mean pooling)."""
    if pooling not in ("mean", "mean_std"):
        raise SerkitError(f"pooling {pooling!r}: choose mean or mean_std")
    if not arrays:
        return np.zeros((0, 0))
    if arrays[0].ndim == 1:
        return np.stack(arrays)
    if pooling == "mean":
        return np.stack([x.mean(axis=1) for x in arrays])
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

"""scikit-learn baselines on a fold: a cost chosen on the training side, then refitted on all of it.

An SVM's or a logistic regression's cost is scored on the validation part,
or (``inner_cv``) by leave-one-speaker-out over the training side (``inner_cv:
corpora``: leave one training corpus out, what a ``loco`` fold needs); the
chosen cost is refitted on training + validation, and only that model
predicts the test part.  The declared ``per-corpus`` variant standardises
the pooled rows of each corpus by that corpus's training-side rows, and an
unseen corpus's by its own (no labels).  ``majority`` predicts the training part's most
frequent class, ``random`` a class drawn uniformly (seeded by the recipe).  A mean-pooled (MP-x) model saves as serkit's ``linear``
torch model, the scaler kept as its normaliser (of utterance means).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from serkit.artifacts import ModelInfo, write_model
from serkit.errors import SerkitError
from serkit.evaluation import unweighted_average_recall
from serkit.experiments.fold_data import Part, select_layer, selected_feature
from serkit.experiments.recipe import Recipe
from serkit.features.normalise import CorpusNormaliser, GlobalNormaliser, Normalisation
from serkit.models import build_model, model_config
from serkit.models.classical import DUMMY_MODELS, build_classical, linear_layer
from serkit.training import UtteranceClassification

#: Costs each classical model chooses from.
CLASSICAL_COSTS = {"svm": (1e-4, 1e-3, 1e-2, 1e-1), "logistic": (1e-3, 1e-2, 1e-1, 1.0)}
POOLINGS = ("mean", "mean_std")

#: ``(fit rows, fit labels, scored rows, scored labels)``: one way of scoring a candidate cost.
Split = tuple[np.ndarray, list[str], np.ndarray, list[str]]


class ClassicalFitter:
    def __init__(self, recipe: Recipe, labels: tuple[str, ...]):
        self.recipe = recipe
        self.labels = tuple(labels)
        options = dict(recipe.model_options)
        self.pooling = options.pop("pooling", "mean_std")
        if self.pooling not in POOLINGS:
            raise SerkitError(f"pooling {self.pooling!r}: choose mean or mean_std")
        self.options = options
        self.cost: float | None = None
        #: Mean UA of each cost where it was scored (validation part or inner folds).
        self.figures: dict[str, float] = {}
        self.validation_ua: float | None = None
        self.estimator: Any = None
        self._by_corpus: CorpusNormaliser | None = None

    def fit(self, train: Part, validation: Part) -> ClassicalFitter:
        train, validation = select_layer(self.recipe, train), select_layer(self.recipe, validation)
        if self.recipe.normalisation == Normalisation.PER_CORPUS:  # the declared variant, on pooled rows
            side = [p for p in (train, validation) if len(p)]
            rows = np.concatenate([pooled_rows(p.arrays, self.pooling) for p in side])
            self._by_corpus = CorpusNormaliser().fit(list(rows), [c for p in side for c in p.corpora])
        if self.recipe.model in DUMMY_MODELS:
            self.estimator = build_classical(self.recipe.model, seed=self.recipe.seed).fit(
                self._rows(train), train.labels)
            return self
        rows = np.concatenate([self._rows(train), self._rows(validation)]) if len(validation) else self._rows(train)
        labels = train.labels + validation.labels
        self.cost, self.figures = self._choose_cost(self._splits(train, validation, rows))
        self.validation_ua = self.figures.get(str(self.cost))
        # Refit on training + validation with the chosen cost: the test part plays no part.
        self.estimator = self._build(self.cost).fit(rows, labels)
        return self

    @property
    def validation_score(self) -> float | None:
        return self.validation_ua

    def predict(self, test: Part) -> np.ndarray:
        predicted = self.estimator.predict(self._rows(select_layer(self.recipe, test)))
        return one_hot(predicted, self.labels)

    def record(self) -> dict[str, Any]:
        if self.recipe.model in DUMMY_MODELS:
            return {"chosen": {}}
        return {"chosen": {"c": self.cost, "validation_ua": self.figures, "by": self.chosen_by}}

    @property
    def chosen_by(self) -> str:
        if not self.recipe.inner_cv and not self.figures:  # nothing scored: the recipe's own cost
            return "recipe"
        return {False: "validation", "corpora": "inner-loco"}.get(self.recipe.inner_cv, "inner-loso")

    def save(self, model_dir: Path) -> dict[str, Any]:
        """An MP-x model as serkit's ``linear`` torch model (what inference runs)."""
        recipe = self.recipe
        if self._by_corpus is not None:
            raise SerkitError("a model fitted on per-corpus normalised rows needs each corpus's statistics to "
                              "predict: serkit train builds it with normalisation none")
        if recipe.model in DUMMY_MODELS or self.pooling != "mean":
            raise SerkitError("serkit train builds a classical model only as MP-x: svm or logistic with "
                              f"model_options {{pooling: mean}}, not {recipe.model} {recipe.model_options}")
        weights, bias, mean, scale = linear_layer(self.estimator, list(self.labels))
        # The scaler standardised each utterance's mean frame; applied to the frames before pooling
        # it gives the same vector (an affine map per dimension commutes with the mean), and kept
        # apart from the weights it is what `predict --adapt` replaces.
        seen = int(np.max(self.estimator[0].n_samples_seen_))
        normaliser = GlobalNormaliser.of_utterance_means(mean, scale, count=seen)
        model = build_model("linear", weights.shape[1], len(self.labels), dropout=0.0)
        model.load_state_dict({"classifier.weight": torch.tensor(weights, dtype=torch.float32),
                               "classifier.bias": torch.tensor(bias, dtype=torch.float32)})
        info = ModelInfo(
            model=model_config(model),
            features=selected_feature(recipe).to_dict(),
            feature_preset=recipe.features,
            labels=self.labels,
            task=UtteranceClassification(self.labels).to_dict(),
            normalisation=Normalisation.GLOBAL.value,
            normaliser=normaliser.to_dict(),
            training={"classical": recipe.model, "c": self.cost, "chosen_by": self.chosen_by},
        )
        write_model(model_dir, model.state_dict(), info)
        return {"fitted_by": f"scikit-learn {recipe.model}: its scaler as the normaliser (of utterance means), "
                              "its weights as a linear layer",
                "c": self.cost, "chosen_by": self.chosen_by, "validation_ua": self.validation_ua}

    # -- steps ------------------------------------------------------------------

    def _build(self, cost: float) -> Any:
        options = {k: v for k, v in self.options.items() if k != "c"}
        return build_classical(self.recipe.model, seed=self.recipe.seed, c=cost, **options)

    def _rows(self, part: Part) -> np.ndarray:
        rows = pooled_rows(part.arrays, self.pooling)
        if self._by_corpus is None or not len(part):
            return rows
        by_corpus = self._by_corpus.adapted(list(rows), part.corpora)  # an unseen corpus by its own rows
        return np.stack([by_corpus.transform(row, corpus) for row, corpus in zip(rows, part.corpora)])

    def _splits(self, train: Part, validation: Part, both: np.ndarray) -> list[Split]:
        """Where costs are scored: the validation part, or (``inner_cv``) each training-side
        speaker (or corpus) in turn, fitted on the others; never the test part."""
        if not self.recipe.inner_cv:
            if not len(validation):
                return []
            return [(self._rows(train), train.labels, self._rows(validation), validation.labels)]
        labels = np.asarray(train.labels + validation.labels)
        by = "corpora" if self.recipe.inner_cv == "corpora" else "speakers"
        groups = np.asarray([g for p in (train, validation) for g in (getattr(p, by) or [])])
        if len(groups) != len(labels) or len(set(groups)) < 2:
            raise SerkitError(f"inner_cv: {by} needs at least two {by} on the training side")
        return [(both[groups != g], list(labels[groups != g]), both[groups == g], list(labels[groups == g]))
                for g in sorted(set(groups))]

    def _choose_cost(self, splits: list[Split]) -> tuple[float, dict[str, float]]:
        """The cost with the best mean UA over ``splits`` (the recipe's own, or the middle one, with none)."""
        costs = CLASSICAL_COSTS[self.recipe.model]
        if not splits:
            return self.recipe.model_options.get("c", costs[len(costs) // 2]), {}
        figures = {}
        for cost in costs:
            scores = [unweighted_average_recall(score_y, self._build(cost).fit(fit_x, fit_y).predict(score_x),
                                                labels=list(self.labels))
                      for fit_x, fit_y, score_x, score_y in splits]
            figures[str(cost)] = float(np.mean(scores))
        return max(costs, key=lambda c: figures[str(c)]), figures


def pooled_rows(arrays: Sequence[np.ndarray], pooling: str = "mean_std") -> np.ndarray:
    """One row per utterance: functionals as they are, frame-level features pooled over frames
    (``mean_std``: mean and standard deviation; ``mean``: seed 003's mean pooling)."""
    if not len(arrays):
        return np.zeros((0, 0))
    if arrays[0].ndim == 1:
        return np.stack(arrays)
    if pooling == "mean":
        return np.stack([x.mean(axis=1) for x in arrays])
    return np.stack([np.concatenate([x.mean(axis=1), x.std(axis=1)]) for x in arrays])


def one_hot(predicted: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    scores = np.zeros((len(predicted), len(labels)))
    scores[np.arange(len(predicted)), [index[p] for p in predicted]] = 1.0
    return scores

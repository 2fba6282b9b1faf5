"""Fitters: one ``fit(train, validation)`` / ``predict(test)`` interface over every kind of model.

A fitter is built from a recipe and a label order, fits on a fold's training
part (choosing what it chooses -- the stopping epoch, an SVM's cost -- on the
validation part or on the training side's own speakers), and predicts class
scores for the test part, which it sees nowhere else.  ``record()`` is what a
fold's ``predictions.json`` keeps of its choices; ``save(model_dir)`` writes a
model folder that inference loads (``serkit train``).

- :class:`~serkit.experiments.fitters.neural.NeuralFitter`: models of
  :mod:`serkit.models`, trained by :class:`~serkit.training.Trainer`.
- :class:`~serkit.experiments.fitters.classical.ClassicalFitter`: scikit-learn
  baselines (SVM, logistic regression, majority).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from serkit.experiments.fold_data import Part
from serkit.experiments.recipe import Recipe
from serkit.progress import Progress


class Fitter(Protocol):
    recipe: Recipe
    #: UA on the validation part (or the inner folds) of what ``fit`` kept; None without one
    #: (and for a regression).
    validation_ua: float | None
    #: The figure settings are chosen on: that UA, or a regression's mean CCC on validation.
    validation_score: float | None

    def fit(self, train: Part, validation: Part) -> Fitter: ...

    def predict(self, test: Part) -> np.ndarray:
        """Class scores, one row per item of ``test`` in the recipe's label order."""
        ...

    def record(self) -> dict[str, Any]: ...

    def save(self, model_dir: Path) -> dict[str, Any]:
        """Write ``model.safetensors`` and ``model.json`` into ``model_dir``; returns how it was trained."""
        ...


def make_fitter(recipe: Recipe, labels: tuple[str, ...], out_dir: Path, *, threads: int | None = None,
                progress: Progress | None = None) -> Fitter:
    """The fitter of ``recipe``'s model; neural ones keep their checkpoints under ``out_dir``."""
    if recipe.classical:
        from serkit.experiments.fitters.classical import ClassicalFitter

        return ClassicalFitter(recipe, labels)
    from serkit.experiments.fitters.neural import NeuralFitter

    return NeuralFitter(recipe, labels, out_dir, threads=threads, progress=progress)

"""Classic baselines (scikit-learn): majority class, and linear models over utterance vectors.

The functionals (eGeMAPS, ComParE) come from :mod:`serkit.features.functionals`;
these estimators take the resulting ``(n_utterances, dims)`` matrix (or a
recognizer layer's mean, seed 003's MP-x).  The linear SVM and the
multinomial logistic regression are pipelines whose scaler is part of the fitted model, so standardisation is
fitted on the training part only, whatever the caller does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from serkit.errors import SerkitError

#: Chance baselines, which read no features: the training part's most frequent class, or a class
#: drawn uniformly at random (seed 003's "Random prediction").
DUMMY_MODELS = ("majority", "random")
CLASSICAL_MODELS = (*DUMMY_MODELS, "svm", "logistic")


@dataclass(frozen=True)
class SVMConfig:
    """Linear SVM (and logistic regression) settings. ``c`` is the usual inverse regularisation; class weights balance
    the classes (``balanced``) or not (None)."""

    c: float = 1e-3
    class_weight: str | None = "balanced"
    max_iter: int = 20_000


def build_classical(name: str, seed: int = 0, **options: object) -> Pipeline | DummyClassifier:
    """A fresh scikit-learn estimator: ``majority``, ``random`` (uniform, seeded), ``svm``
    (standardise, then LinearSVC) or ``logistic`` (standardise, then logistic regression)."""
    if name in DUMMY_MODELS:
        if options:
            raise SerkitError(f"{name} takes no options, got {sorted(options)}")
        if name == "random":
            return DummyClassifier(strategy="uniform", random_state=seed)
        return DummyClassifier(strategy="most_frequent")
    if name == "svm":
        config = SVMConfig(**options)  # type: ignore[arg-type]
        svm = LinearSVC(
            C=config.c, class_weight=config.class_weight, max_iter=config.max_iter, random_state=seed
        )
        return make_pipeline(StandardScaler(), svm)
    if name == "logistic":
        config = SVMConfig(**options)  # type: ignore[arg-type]
        logistic = LogisticRegression(C=config.c, class_weight=config.class_weight,
                                      max_iter=config.max_iter, random_state=seed)
        return make_pipeline(StandardScaler(), logistic)
    raise SerkitError(f"unknown classical model {name!r}; known: {', '.join(CLASSICAL_MODELS)}")


def linear_layer(estimator: Pipeline, labels: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(weights, bias, mean, scale)`` of a fitted ``svm`` or ``logistic`` pipeline, rows in the
    order of ``labels``: its scores are ``((x - mean) / scale) . weights + bias``.

    The scores equal the pipeline's ``decision_function`` (for the logistic regression, softmax of
    them is its ``predict_proba``).  This is how an MP-x model trained by scikit-learn becomes the
    ``linear`` torch model that inference runs, its scaler kept apart as the model's normaliser, so
    that declared adaptation can replace the statistics.
    """
    scaler, linear = estimator[0], estimator[-1]
    if not isinstance(scaler, StandardScaler) or not hasattr(linear, "coef_"):
        raise SerkitError("only a fitted standardise + linear model pipeline converts to a linear layer")
    classes = list(linear.classes_)
    if len(classes) < 3 or sorted(classes) != sorted(labels):
        raise SerkitError(f"the model's classes {classes} do not match the labels {labels} (three or more)")
    order = [classes.index(label) for label in labels]
    return linear.coef_[order], linear.intercept_[order], scaler.mean_, scaler.scale_

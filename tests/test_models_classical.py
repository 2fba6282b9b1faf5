"""A fitted scikit-learn linear pipeline becomes a standardiser and one linear layer with the same scores."""

from __future__ import annotations

import numpy as np
import pytest

from serkit.errors import SerkitError
from serkit.models.classical import build_classical, linear_layer


@pytest.mark.parametrize("name", ["svm", "logistic"])
def test_linear_layer_reproduces_the_pipeline(name):
    rng = np.random.default_rng(0)
    labels = ["sadness", "anger", "neutral", "happiness"]  # not scikit-learn's sorted order
    classes = rng.integers(0, 4, size=200)
    x = rng.normal(3.0, [1.0, 5.0, 0.2, 2.0, 9.0], size=(200, 5)) + np.eye(4, 5)[classes]
    y = [labels[i] for i in classes]
    model = build_classical(name, c=1.0).fit(x, y)
    weights, bias, mean, scale = linear_layer(model, labels)
    scores = ((x - mean) / scale) @ weights.T + bias
    order = [list(model[-1].classes_).index(label) for label in labels]
    np.testing.assert_allclose(scores, model.decision_function(x)[:, order], rtol=1e-6, atol=1e-8)
    if name == "logistic":
        softmax = np.exp(scores - scores.max(1, keepdims=True))
        softmax /= softmax.sum(1, keepdims=True)
        np.testing.assert_allclose(softmax, model.predict_proba(x)[:, order], atol=1e-8)


def test_linear_layer_refuses_mismatched_labels():
    x = np.random.default_rng(1).normal(size=(30, 3))
    model = build_classical("logistic").fit(x, ["a", "b", "c"] * 10)
    with pytest.raises(SerkitError, match="do not match"):
        linear_layer(model, ["a", "b", "d"])


def test_the_random_baseline_draws_every_class_alike_and_repeats_with_its_seed():
    x = np.zeros((4000, 2))
    labels = ["anger"] * 3000 + ["happiness", "neutral", "sadness"] * 333 + ["sadness"]
    draws = build_classical("random", seed=1).fit(x, labels).predict(x)
    counts = {label: int(np.sum(draws == label)) for label in sorted(set(labels))}
    assert all(900 < n < 1100 for n in counts.values()), counts  # uniform, not the training priors
    assert np.array_equal(build_classical("random", seed=1).fit(x, labels).predict(x), draws)
    assert not np.array_equal(build_classical("random", seed=2).fit(x, labels).predict(x), draws)
    with pytest.raises(SerkitError, match="random takes no options"):
        build_classical("random", c=1.0)

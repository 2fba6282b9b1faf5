"""Classification metrics against scikit-learn, and the absent-class rule."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn import metrics as skm

from serkit.evaluation import metrics

EMOTIONS = ["anger", "happiness", "neutral", "sadness"]


def _random_predictions(rng, n, labels, hit_rate=0.6, class_weights=None):
    true = rng.choice(labels, size=n, p=class_weights)
    guess = rng.choice(labels, size=n)
    return true, np.where(rng.random(n) < hit_rate, true, guess)


@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_scikit_learn_on_random_data(seed):
    rng = np.random.default_rng(seed)
    labels = EMOTIONS if seed % 2 else list(range(7))
    weights = rng.dirichlet(np.full(len(labels), 4.0))  # imbalanced, no class vanishing
    true, pred = _random_predictions(rng, 400, labels, class_weights=weights)
    assert set(true) == set(labels)  # every class present: both rules agree

    assert metrics.accuracy(true, pred, labels=labels) == pytest.approx(
        skm.accuracy_score(true, pred)
    )
    for rule in ("present", "all"):
        assert metrics.unweighted_average_recall(
            true, pred, labels=labels, classes=rule
        ) == pytest.approx(skm.recall_score(true, pred, labels=labels, average="macro"))
        assert metrics.macro_f1(true, pred, labels=labels, classes=rule) == pytest.approx(
            skm.f1_score(true, pred, labels=labels, average="macro")
        )
    np.testing.assert_array_equal(
        metrics.confusion_matrix(true, pred, labels=labels),
        skm.confusion_matrix(true, pred, labels=labels),
    )
    np.testing.assert_allclose(
        metrics.row_normalise(metrics.confusion_matrix(true, pred, labels=labels)),
        skm.confusion_matrix(true, pred, labels=labels, normalize="true"),
    )
    np.testing.assert_allclose(
        metrics.per_class_recall(true, pred, labels=labels),
        skm.recall_score(true, pred, labels=labels, average=None),
    )
    assert metrics.error_rate(true, pred, labels=labels) == pytest.approx(
        1 - skm.accuracy_score(true, pred)
    )
    assert metrics.unweighted_error_rate(true, pred, labels=labels) == pytest.approx(
        1 - skm.balanced_accuracy_score(true, pred)
    )


def test_confusion_follows_the_order_of_labels():
    true = ["sadness", "anger", "anger", "neutral"]
    pred = ["sadness", "neutral", "anger", "neutral"]
    order = ["neutral", "sadness", "anger", "happiness"]
    confusion = metrics.confusion_matrix(true, pred, labels=order)
    np.testing.assert_array_equal(confusion, skm.confusion_matrix(true, pred, labels=order))
    assert confusion[2, 0] == 1  # one anger predicted as neutral
    assert confusion[3].sum() == 0  # no happiness in the reference


def test_a_fold_lacking_a_class_averages_over_the_classes_present():
    rng = np.random.default_rng(7)
    true, pred = _random_predictions(rng, 300, EMOTIONS[:3])
    pred[:5] = "sadness"  # predicting the absent class is still a miss in the true row
    scores = metrics.classification_scores(true, pred, labels=EMOTIONS)

    present = EMOTIONS[:3]
    assert scores.absent == ("sadness",)
    assert scores.ua == pytest.approx(skm.recall_score(true, pred, labels=present, average="macro"))
    assert scores.f1 == pytest.approx(skm.f1_score(true, pred, labels=present, average="macro"))
    assert np.isnan(scores.recall[3]) and np.isfinite(scores.recall[:3]).all()
    assert np.isnan(scores.row_normalised[3]).all()
    assert scores.to_dict()["recall"]["sadness"] is None

    # "all" scores the absent class 0, as scikit-learn does with zero_division=0.
    every = metrics.classification_scores(true, pred, labels=EMOTIONS, classes="all")
    kw = dict(labels=EMOTIONS, average="macro", zero_division=0)
    assert every.ua == pytest.approx(skm.recall_score(true, pred, **kw))
    assert every.f1 == pytest.approx(skm.f1_score(true, pred, **kw))
    assert every.ua == pytest.approx(scores.ua * 3 / 4)
    assert every.wa == scores.wa == pytest.approx(skm.accuracy_score(true, pred))


def test_missing_class_changes_ua_only_through_rows_present():
    # Perfect on the classes present: UA is 1 however many classes the list has.
    true = ["anger", "anger", "neutral"]
    assert metrics.unweighted_average_recall(true, true, labels=EMOTIONS) == 1.0
    assert metrics.macro_f1(true, true, labels=EMOTIONS) == 1.0
    assert metrics.unweighted_average_recall(true, true, labels=EMOTIONS, classes="all") == 0.5


def test_worked_example():
    # anger: 2 of 3 right; neutral: 1 of 1; one anger taken for neutral.
    true = ["anger", "anger", "anger", "neutral"]
    pred = ["anger", "anger", "neutral", "neutral"]
    scores = metrics.classification_scores(true, pred, labels=["anger", "neutral"])
    assert scores.wa == pytest.approx(3 / 4)
    assert scores.ua == pytest.approx((2 / 3 + 1) / 2)
    # F1 anger = 2*2/(2*2+0+1) = 0.8, neutral = 2*1/(2*1+1+0) = 2/3
    assert scores.f1 == pytest.approx((0.8 + 2 / 3) / 2)
    assert scores.error == pytest.approx(1 / 4)
    assert scores.unweighted_error == pytest.approx(1 - (2 / 3 + 1) / 2)


def test_batched_rates_equal_one_by_one():
    rng = np.random.default_rng(3)
    stack = rng.integers(0, 6, size=(20, 5, 5))
    stack[3, 2] = 0  # a class absent from one matrix
    batch = metrics.rates_from_confusions(stack)
    for i, confusion in enumerate(stack):
        one = metrics.scores_from_confusion(confusion, labels=list("abcde"))
        assert (batch.wa[i], batch.ua[i], batch.f1[i]) == pytest.approx((one.wa, one.ua, one.f1))


def test_numpy_labels_give_json_able_scores():
    import json

    labels = np.array([3, 1, 2])
    scores = metrics.classification_scores(np.array([1, 2, 3]), np.array([1, 1, 3]), labels=labels)
    assert scores.labels == (3, 1, 2) and all(type(v) is int for v in scores.labels)
    json.dumps(scores.to_dict(), allow_nan=False)


@pytest.mark.parametrize(
    "true, pred, labels, match",
    [
        (["anger", "joy"], ["anger", "anger"], EMOTIONS, "joy"),
        (["anger"], ["rage"], EMOTIONS, "rage"),
        (["anger", "anger"], ["anger"], EMOTIONS, "2 references but 1"),
        ([], [], EMOTIONS, "no predictions"),
        (["anger"], ["anger"], [], "empty"),
        (["anger"], ["anger"], ["anger", "anger"], "repeats"),
    ],
)
def test_bad_input_is_rejected(true, pred, labels, match):
    with pytest.raises(ValueError, match=match):
        metrics.classification_scores(true, pred, labels=labels)


def test_unknown_rule_is_rejected():
    with pytest.raises(ValueError, match="classes must be"):
        metrics.unweighted_average_recall(["a"], ["a"], labels=["a"], classes="some")


def test_evaluation_imports_without_torch():
    code = "import sys, serkit.evaluation; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)

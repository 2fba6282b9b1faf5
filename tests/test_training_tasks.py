"""Tasks: losses mask padding and match the library metrics they stand in for."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from sklearn.utils.class_weight import compute_class_weight

from serkit.errors import SerkitError
from serkit.evaluation import concordance_correlation, root_mean_squared_error
from serkit.training.regression import Regression, concordance_loss_terms
from serkit.training.tasks import (
    FrameClassification,
    UtteranceClassification,
    inverse_frequency_weights,
)

LABELS = ("anger", "happiness", "neutral", "sadness")


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_concordance_loss_terms_equal_the_evaluation_ccc_over_valid_frames():
    rng = _rng()
    lengths = np.array([7, 3, 5])
    pred = rng.standard_normal((3, 7, 2))
    true = 0.5 * pred + rng.standard_normal((3, 7, 2)) + 1.0
    mask = np.arange(7)[None, :] < lengths[:, None]
    terms = concordance_loss_terms(
        torch.tensor(pred), torch.tensor(true), torch.tensor(mask)
    ).numpy()
    for d in range(2):
        expected = concordance_correlation(true[..., d][mask], pred[..., d][mask])
        assert terms[d] == pytest.approx(expected, rel=1e-6)


def test_regression_losses_ignore_padding_and_match_their_definitions():
    task = Regression(("arousal", "valence"))
    targets_list = [_rng(1).standard_normal((n, 2)).astype(np.float32) for n in (6, 2, 4)]
    targets = task.collate_targets(targets_list)
    outputs = torch.tensor(_rng(2).standard_normal((3, 6, 2)), dtype=torch.float32, requires_grad=True)
    loss = task.loss(outputs, targets)
    garbage = outputs.detach().clone()
    for i, n in enumerate((6, 2, 4)):
        garbage[i, n:] = 1e6
    assert task.loss(garbage, targets).item() == pytest.approx(loss.item())
    loss.backward()
    assert outputs.grad[1, 2:].abs().sum() == 0  # no gradient reaches padded frames

    pred = np.concatenate([outputs.detach().numpy()[i, :n] for i, n in enumerate((6, 2, 4))])
    true = np.concatenate(targets_list)
    ccc = np.mean([concordance_correlation(true[:, d], pred[:, d]) for d in range(2)])
    assert loss.item() == pytest.approx(1 - ccc, rel=1e-5)
    mse = Regression(("arousal", "valence"), loss_name="mse").loss(outputs, targets)
    assert mse.item() == pytest.approx(np.mean((true - pred) ** 2), rel=1e-5)


def test_regression_metrics_pool_frames_per_output():
    task = Regression(("arousal", "valence"))
    targets = [_rng(3).standard_normal((n, 2)) for n in (5, 8)]
    scores = [t + 0.3 * _rng(4 + i).standard_normal(t.shape) for i, t in enumerate(targets)]
    figures = task.metrics(scores, targets)
    true, pred = np.concatenate(targets), np.concatenate(scores)
    assert figures["ccc_valence"] == pytest.approx(concordance_correlation(true[:, 1], pred[:, 1]))
    assert figures["rmse_arousal"] == pytest.approx(root_mean_squared_error(true[:, 0], pred[:, 0]))
    assert figures["ccc"] == pytest.approx((figures["ccc_arousal"] + figures["ccc_valence"]) / 2)
    assert task.higher_is_better("ccc") and not task.higher_is_better("rmse_valence")
    assert not task.higher_is_better("loss")


def test_per_utterance_regression_takes_one_value_per_item():
    task = Regression(("arousal",), frame_level=False)
    targets = task.collate_targets([0.5, -1.0])
    outputs = torch.tensor([[0.4], [-0.8]])
    expected = 1 - concordance_correlation([0.5, -1.0], [0.4, -0.8])
    assert task.loss(outputs, targets).item() == pytest.approx(expected, rel=1e-5)
    assert [s.shape for s in task.scores(outputs, targets)] == [(1,), (1,)]
    with pytest.raises(SerkitError, match="target of shape"):
        task.collate_targets([np.zeros(3)])


def test_frame_classification_loss_is_cross_entropy_over_valid_frames_only():
    task = FrameClassification(LABELS)
    lengths = (5, 2, 4)
    targets_list = [_rng(5 + i).integers(0, 4, n) for i, n in enumerate(lengths)]
    targets = task.collate_targets(targets_list)
    # one output frame more than any target: outputs past the targets are padding
    outputs = torch.tensor(_rng(6).standard_normal((3, 6, 4)), dtype=torch.float32)
    loss = task.loss(outputs, targets)
    valid = torch.cat([outputs[i, :n] for i, n in enumerate(lengths)])
    expected = F.cross_entropy(valid, torch.from_numpy(np.concatenate(targets_list)))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    noisy = outputs.clone()
    noisy[1, 2:] = 1e4
    assert task.loss(noisy, targets).item() == pytest.approx(loss.item(), rel=1e-6)
    assert [s.shape[0] for s in task.scores(outputs, targets)] == list(lengths)
    with pytest.raises(SerkitError, match="output frames"):
        task.loss(outputs[:, :4], targets)


def test_weighted_cross_entropy_uses_the_class_weights():
    targets = [0, 0, 0, 1, 2]
    task = UtteranceClassification(("a", "b", "c")).with_class_weights(targets)
    logits = torch.tensor(_rng(7).standard_normal((5, 3)), dtype=torch.float32)
    weights = np.array(task.class_weights)
    log_p = torch.log_softmax(logits, -1).numpy()[np.arange(5), targets]
    expected = -(weights[targets] * log_p).sum() / weights[targets].sum()
    assert task.loss(logits, task.collate_targets(targets)).item() == pytest.approx(expected, rel=1e-6)


def test_inverse_frequency_weights_match_scikit_learn_and_zero_absent_classes():
    y = np.array([0, 0, 0, 0, 1, 3, 3])
    counts = np.bincount(y, minlength=4)
    weights = inverse_frequency_weights(counts)
    present = np.array([0, 1, 3])
    np.testing.assert_allclose(weights[present], compute_class_weight("balanced", classes=present, y=y))
    assert weights[2] == 0
    frames = FrameClassification(("a", "b")).class_counts([np.array([0, 1, 1]), np.array([1])])
    assert frames.tolist() == [1, 3]


def test_classification_metrics_agree_with_scikit_learn():
    task = UtteranceClassification(LABELS)
    true = _rng(8).integers(0, 4, 50)
    scores = list(_rng(9).dirichlet(np.ones(4), 50))
    pred = np.argmax(scores, axis=1)
    figures = task.metrics(scores, true.tolist())
    assert figures["wa"] == pytest.approx(accuracy_score(true, pred))
    assert figures["ua"] == pytest.approx(balanced_accuracy_score(true, pred))
    assert figures["f1"] == pytest.approx(f1_score(true, pred, average="macro"))
    assert task.decode(scores[0]) == LABELS[pred[0]]
    assert task.encode(["sadness", "anger"]) == [3, 0]
    with pytest.raises(SerkitError, match="not in the class set"):
        task.encode(["boredom"])


def test_windows_combine_by_their_mean_for_utterances_only():
    windows = [np.array([0.2, 0.8]), np.array([0.6, 0.4]), np.array([0.7, 0.3])]
    np.testing.assert_allclose(UtteranceClassification(("a", "b")).combine(windows), [0.5, 0.5])
    with pytest.raises(SerkitError, match="frame by frame"):
        FrameClassification(("a", "b")).combine(windows)


def test_bad_task_settings_are_refused():
    with pytest.raises(SerkitError):
        UtteranceClassification(("a",))
    with pytest.raises(SerkitError):
        UtteranceClassification(("a", "b"), class_weights=(1.0,))
    with pytest.raises(SerkitError):
        Regression(("a",), loss_name="mae")
    with pytest.raises(SerkitError, match="outputs with 2 axes"):
        task = UtteranceClassification(("a", "b"))
        task.loss(torch.zeros(2, 3, 2), task.collate_targets([0, 1]))

"""Cross-fold summaries: their invariants, the absent-class rule, and the speaker bootstrap."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from serkit.evaluation.aggregate import (
    BootstrapConfig,
    FoldPredictions,
    speaker_resample_weights,
    summarise_folds,
    summarise_regression_folds,
)

EMOTIONS = ["anger", "happiness", "neutral", "sadness"]


def _speaker_folds(rng, n_speakers=10, per_speaker=40, speakers_per_fold=2, hit_rate=0.6):
    """Grouped folds of simulated predictions; each speaker has their own accuracy."""
    folds = []
    speakers = [f"s{i:02d}" for i in range(n_speakers)]
    for start in range(0, n_speakers, speakers_per_fold):
        true, pred, who = [], [], []
        for speaker in speakers[start : start + speakers_per_fold]:
            t = rng.choice(EMOTIONS, size=per_speaker)
            skill = np.clip(hit_rate + rng.normal(0, 0.15), 0, 1)
            p = np.where(rng.random(per_speaker) < skill, t, rng.choice(EMOTIONS, per_speaker))
            true.append(t)
            pred.append(p)
            who.append([speaker] * per_speaker)
        name = f"fold{len(folds)}"
        folds.append(
            FoldPredictions(np.concatenate(true), np.concatenate(pred), np.concatenate(who), name)
        )
    return folds


def _check_invariants(summary, folds, labels):
    json.dumps(summary, allow_nan=False)  # JSON-able, with no NaN
    rows = summary["folds"]
    assert len(rows) == len(folds)
    for row, fold in zip(rows, folds):
        assert row["n_test"] == len(fold.y_true)
        assert row["test_speakers"] == sorted(set(fold.speakers.tolist()))
        present = [c for c in labels if c in set(fold.y_true.tolist())]
        assert row["absent"] == [c for c in labels if c not in present]
        assert row["wa"] == pytest.approx(skm.accuracy_score(fold.y_true, fold.y_pred))
        assert row["ua"] == pytest.approx(
            skm.recall_score(fold.y_true, fold.y_pred, labels=present, average="macro")
        )
        assert row["f1"] == pytest.approx(
            skm.f1_score(fold.y_true, fold.y_pred, labels=present, average="macro")
        )
    for name in ("wa", "ua", "f1"):
        values = [row[name] for row in rows]
        assert summary["mean"][name] == pytest.approx(np.mean(values))
        assert summary["std"][name] == pytest.approx(np.std(values, ddof=1))
    assert summary["mean"]["error"] == pytest.approx(1 - summary["mean"]["wa"])
    assert summary["mean"]["unweighted_error"] == pytest.approx(1 - summary["mean"]["ua"])

    true = np.concatenate([f.y_true for f in folds])
    pred = np.concatenate([f.y_pred for f in folds])
    counts = np.array(summary["confusion"]["counts"])
    assert summary["confusion"]["labels"] == list(labels)
    np.testing.assert_array_equal(counts, skm.confusion_matrix(true, pred, labels=labels))
    assert counts.sum() == sum(row["n_test"] for row in rows)
    # Pooled UA recomputes from the pooled confusion matrix.
    assert summary["pooled"]["ua"] == pytest.approx(np.mean(np.diag(counts) / counts.sum(axis=1)))
    assert summary["pooled"]["wa"] == pytest.approx(np.trace(counts) / counts.sum())
    assert summary["pooled"]["f1"] == pytest.approx(
        skm.f1_score(true, pred, labels=labels, average="macro")
    )
    for name in ("wa", "ua", "f1"):
        low, high = summary["ci95"][name]
        assert 0.0 <= low <= high <= 1.0


def test_summary_invariants_on_speaker_folds():
    folds = _speaker_folds(np.random.default_rng(0))
    summary = summarise_folds(folds, labels=EMOTIONS, bootstrap=BootstrapConfig(500, seed=1))
    _check_invariants(summary, folds, EMOTIONS)
    assert summary["ci95"]["unit"] == "speaker" and summary["ci95"]["n_speakers"] == 10
    # In this well-behaved case the interval holds the pooled figure.
    for name in ("wa", "ua", "f1"):
        low, high = summary["ci95"][name]
        assert low < summary["pooled"][name] < high


def test_a_fold_lacking_a_class_is_recorded_and_scored_over_classes_present():
    rng = np.random.default_rng(2)
    folds = _speaker_folds(rng)
    first = folds[0]
    keep = first.y_true != "sadness"
    folds[0] = FoldPredictions(first.y_true[keep], first.y_pred[keep], first.speakers[keep], "f0")
    summary = summarise_folds(folds, labels=EMOTIONS, bootstrap=BootstrapConfig(200))
    _check_invariants(summary, folds, EMOTIONS)
    assert summary["folds"][0]["absent"] == ["sadness"]
    assert all(row["absent"] == [] for row in summary["folds"][1:])
    assert summary["pooled"]["absent"] == []


def test_a_class_absent_from_every_fold_counts_zero_when_pooled():
    folds = _speaker_folds(np.random.default_rng(3))
    labels = EMOTIONS + ["fear"]
    summary = summarise_folds(folds, labels=labels, bootstrap=BootstrapConfig(50))
    assert summary["pooled"]["absent"] == ["fear"]
    true = np.concatenate([f.y_true for f in folds])
    pred = np.concatenate([f.y_pred for f in folds])
    assert summary["pooled"]["ua"] == pytest.approx(
        skm.recall_score(true, pred, labels=labels, average="macro", zero_division=0)
    )
    assert summary["folds"][0]["ua"] == pytest.approx(
        skm.recall_score(folds[0].y_true, folds[0].y_pred, labels=EMOTIONS, average="macro")
    )


def test_bootstrap_is_repeatable_with_its_seed():
    folds = _speaker_folds(np.random.default_rng(4))
    one = summarise_folds(folds, labels=EMOTIONS, bootstrap=BootstrapConfig(300, seed=7))
    two = summarise_folds(folds, labels=EMOTIONS, bootstrap=BootstrapConfig(300, seed=7))
    other = summarise_folds(folds, labels=EMOTIONS, bootstrap=BootstrapConfig(300, seed=8))
    assert one["ci95"] == two["ci95"]
    assert one["ci95"]["ua"] != other["ci95"]["ua"]
    assert one["ci95"]["seed"] == 7 and one["ci95"]["n_resamples"] == 300


def test_resample_weights_draw_speakers_with_replacement():
    weights = speaker_resample_weights(6, BootstrapConfig(2000, seed=0))
    assert weights.shape == (2000, 6)
    assert (weights.sum(axis=1) == 6).all()  # as many draws as speakers
    assert (weights > 1).any() and (weights == 0).any()  # repeats and omissions
    assert weights.mean(axis=0) == pytest.approx(np.ones(6), abs=0.1)


def test_bootstrap_resamples_speakers_not_utterances():
    # One speaker with 900 utterances, all right; nine with 10 each, all wrong.
    # Pooled WA is 0.9.  Resampling utterances would give a tight interval around
    # it; resampling speakers leaves out the dominant speaker in about
    # 0.9 ** 10 = 35 % of resamples, where WA is 0, so the interval reaches 0.
    true = ["anger"] * 990
    pred = ["anger"] * 900 + ["sadness"] * 90
    speakers = ["big"] * 900 + [f"s{i}" for i in range(9) for _ in range(10)]
    fold = FoldPredictions(true, pred, speakers)
    summary = summarise_folds([fold], labels=EMOTIONS, bootstrap=BootstrapConfig(1000, seed=0))
    assert summary["pooled"]["wa"] == pytest.approx(900 / 990)
    low, high = summary["ci95"]["wa"]
    assert low == 0.0
    assert high > 0.9
    assert summary["std"]["wa"] is None  # a single fold has no spread


def test_speakers_that_behave_alike_give_a_zero_width_interval():
    # Every speaker has the same predictions, so every resample of speakers has the
    # same rates, although utterances vary (an utterance bootstrap would spread).
    one_speaker_true = ["anger", "anger", "neutral", "sadness", "happiness"]
    one_speaker_pred = ["anger", "neutral", "neutral", "sadness", "anger"]
    folds = [
        FoldPredictions(one_speaker_true * 2, one_speaker_pred * 2, [f"a{i}"] * 5 + [f"b{i}"] * 5)
        for i in range(4)
    ]
    summary = summarise_folds(folds, labels=EMOTIONS, bootstrap=BootstrapConfig(200))
    for name in ("wa", "ua", "f1"):
        low, high = summary["ci95"][name]
        assert low == pytest.approx(high) == pytest.approx(summary["pooled"][name])


def test_a_speaker_in_several_folds_is_one_resampling_unit():
    # Speaker-dependent protocols (seed 000's random 5-fold) test a speaker in every fold.
    rng = np.random.default_rng(5)
    folds = []
    for _ in range(5):
        true = rng.choice(EMOTIONS, 60)
        pred = np.where(rng.random(60) < 0.5, true, rng.choice(EMOTIONS, 60))
        folds.append(FoldPredictions(true, pred, rng.choice(["x", "y", "z"], 60)))
    summary = summarise_folds(folds, labels=EMOTIONS, bootstrap=BootstrapConfig(100))
    _check_invariants(summary, folds, EMOTIONS)
    assert summary["ci95"]["n_speakers"] == 3


def test_emodb_leave_one_speaker_out_summary(emodb_wavs):
    # EMO-DB's real structure (file names SSTTTEV.wav: speaker, text, emotion), with a
    # simulated classifier; no audio is read.
    codes = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear",
             "F": "happiness", "T": "sadness", "N": "neutral"}  # fmt: skip
    labels = sorted(codes.values())
    speakers = np.array([p.name[:2] for p in emodb_wavs])
    true = np.array([codes[p.name[5]] for p in emodb_wavs])
    rng = np.random.default_rng(0)
    pred = np.where(rng.random(len(true)) < 0.7, true, rng.choice(labels, len(true)))
    folds = [
        FoldPredictions(true[speakers == s], pred[speakers == s], speakers[speakers == s], s)
        for s in np.unique(speakers)
    ]
    summary = summarise_folds(folds, labels=labels, bootstrap=BootstrapConfig(1000))
    _check_invariants(summary, folds, labels)
    assert sum(row["n_test"] for row in summary["folds"]) == len(emodb_wavs)
    assert summary["ci95"]["n_speakers"] == len(folds)


def _regression_folds(rng, n_folds=4, per_speaker=300):
    folds = []
    for f in range(n_folds):
        y = np.concatenate([np.cumsum(rng.normal(size=per_speaker)) * 0.05 for _ in range(2)])
        p = 0.8 * y + rng.normal(0.05, 0.1, size=y.size)
        folds.append(FoldPredictions(y, p, [f"r{f}a"] * per_speaker + [f"r{f}b"] * per_speaker))
    return folds


def test_regression_summary_invariants():
    folds = _regression_folds(np.random.default_rng(0))
    summary = summarise_regression_folds(folds, bootstrap=BootstrapConfig(500))
    json.dumps(summary, allow_nan=False)
    for row, fold in zip(summary["folds"], folds):
        y, p = fold.y_true, fold.y_pred
        cov = np.cov(y, p, bias=True)
        ccc = 2 * cov[0, 1] / (cov[0, 0] + cov[1, 1] + (y.mean() - p.mean()) ** 2)
        assert row["ccc"] == pytest.approx(ccc)
        assert row["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
        assert row["n_test"] == len(y) and len(row["test_speakers"]) == 2
    for name in ("ccc", "rmse"):
        values = [row[name] for row in summary["folds"]]
        assert summary["mean"][name] == pytest.approx(np.mean(values))
        assert summary["std"][name] == pytest.approx(np.std(values, ddof=1))
        low, high = summary["ci95"][name]
        assert low < summary["pooled"][name] < high
    y = np.concatenate([f.y_true for f in folds])
    p = np.concatenate([f.y_pred for f in folds])
    assert summary["pooled"]["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert summary["ci95"]["n_speakers"] == 8


def test_regression_summary_writes_an_undefined_ccc_as_null():
    constant = FoldPredictions(np.ones(4), np.ones(4), ["a"] * 4)
    folds = [constant, *_regression_folds(np.random.default_rng(1), n_folds=2)]
    summary = summarise_regression_folds(folds, bootstrap=BootstrapConfig(50))
    json.dumps(summary, allow_nan=False)
    assert summary["folds"][0]["ccc"] is None and summary["folds"][0]["rmse"] == 0.0
    assert summary["mean"]["ccc"] is None  # an undefined fold leaves the mean undefined
    assert summary["pooled"]["ccc"] is not None


def test_malformed_folds_are_rejected():
    with pytest.raises(ValueError, match="3 references, 2 predictions"):
        FoldPredictions(["anger"] * 3, ["anger"] * 2, ["s"] * 3)
    with pytest.raises(ValueError, match="empty"):
        FoldPredictions([], [], [])
    with pytest.raises(ValueError, match="no folds"):
        summarise_folds([], labels=EMOTIONS)
    with pytest.raises(ValueError, match="rage"):
        summarise_folds([FoldPredictions(["rage"], ["anger"], ["s"])], labels=EMOTIONS)


def test_error_rate_intervals_resample_speakers_with_all_their_utterances():
    from serkit.evaluation import error_rate_intervals

    # one speaker: every resample is that speaker, so the interval is the rate itself
    one = error_rate_intervals({"fer": ([1, 2], [10, 10])}, ["a", "a"])
    assert one["fer"] == [pytest.approx(0.15), pytest.approx(0.15)] and one["n_speakers"] == 1
    # a perfect and a hopeless speaker: resamples range from all-perfect to all-hopeless
    two = error_rate_intervals({"per": ([0, 0, 5, 5], [5, 5, 5, 5])}, ["a", "a", "b", "b"])
    low, high = two["per"]
    assert low == pytest.approx(0.0) and high == pytest.approx(1.0) and two["unit"] == "speaker"

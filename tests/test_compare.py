"""``serkit compare``: a paired speaker bootstrap between two systems' runs on the same test utterances."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score
from typer.testing import CliRunner

from serkit.cli.main import app
from serkit.errors import SerkitError
from serkit.evaluation import (BootstrapConfig, RunErrors, RunPredictions, paired_error_bootstrap,
                               paired_speaker_bootstrap)
from serkit.experiments import Recipe, run_cv
from serkit.features.cache import FeatureCache

LABELS = ["anger", "happiness", "neutral", "sadness"]


def system(name: str, truth: np.ndarray, speakers: np.ndarray, accuracy: np.ndarray, seed: int) -> RunPredictions:
    """Predictions right with probability ``accuracy[speaker]``, otherwise a wrong class."""
    rng = np.random.default_rng(seed)
    right = rng.random(len(truth)) < accuracy[speakers]
    wrong = (truth + rng.integers(1, 4, len(truth))) % 4
    pred = np.where(right, truth, wrong)
    return RunPredictions(name, [f"u{i}" for i in range(len(truth))], [f"s{s}" for s in speakers],
                           [LABELS[t] for t in truth], [LABELS[p] for p in pred])


@pytest.fixture(scope="module")
def utterances() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    speakers = np.repeat(np.arange(10), 40)
    truth = rng.integers(0, 4, len(speakers))
    hardness = rng.uniform(0.4, 0.9, 10)  # speakers differ: what pairing cancels
    return truth, speakers, hardness


def test_the_point_figures_are_each_systems_pooled_ua_and_a_clear_gain_is_found(utterances):
    truth, speakers, hardness = utterances
    better = system("better", truth, speakers, np.minimum(hardness + 0.1, 1.0), seed=1)
    worse = system("worse", truth, speakers, hardness, seed=2)
    found = paired_speaker_bootstrap([better], [worse], LABELS, bootstrap=BootstrapConfig(2000, seed=3))
    for side, run in (("candidate", better), ("baseline", worse)):
        assert found[side] == pytest.approx(balanced_accuracy_score(run.y_true, run.y_pred))
    assert found["difference"] == pytest.approx(found["candidate"] - found["baseline"])
    low, high = found["ci95"]
    assert 0 < low < found["difference"] < high
    assert found["p_not_better"] < 0.025
    assert (found["n_speakers"], found["n_utterances"], found["n_resamples"]) == (10, 400, 2000)


def test_a_system_against_itself_differs_by_nothing_and_is_never_better(utterances):
    truth, speakers, hardness = utterances
    one = system("one", truth, speakers, hardness, seed=1)
    found = paired_speaker_bootstrap([one], [one], LABELS, bootstrap=BootstrapConfig(500))
    assert found["difference"] == 0 and found["ci95"] == [0.0, 0.0] and found["p_not_better"] == 1.0


def test_pairing_narrows_the_interval_where_speakers_differ(utterances):
    """Both systems fail on the same hard speakers: drawn apart, the speakers move both figures;
    paired, they cancel."""
    truth, speakers, hardness = utterances
    a = system("a", truth, speakers, hardness, seed=1)
    b = system("b", truth, speakers, np.maximum(hardness - 0.03, 0.0), seed=1)  # the same draws, a bit worse
    low, high = paired_speaker_bootstrap([a], [b], LABELS, bootstrap=BootstrapConfig(2000))["ci95"]
    apart = [balanced_accuracy_score(a.y_true[m], a.y_pred[m]) - balanced_accuracy_score(b.y_true[n], b.y_pred[n])
             for m, n in independent_speaker_draws(speakers, 1000)]
    assert high - low < (np.percentile(apart, 97.5) - np.percentile(apart, 2.5)) / 2


def independent_speaker_draws(speakers: np.ndarray, n: int):
    """Row masks of two independent speaker resamples (with repeats) per draw."""
    rng = np.random.default_rng(7)
    ids = np.unique(speakers)
    for _ in range(n):
        yield (np.concatenate([np.flatnonzero(speakers == s) for s in rng.choice(ids, len(ids))]),
               np.concatenate([np.flatnonzero(speakers == s) for s in rng.choice(ids, len(ids))]))


def test_several_seeds_a_side_count_as_their_mean(utterances):
    truth, speakers, hardness = utterances
    seeds = [system(f"cand{s}", truth, speakers, hardness + 0.05, seed=s) for s in (1, 2, 3)]
    base = [system(f"base{s}", truth, speakers, hardness, seed=s) for s in (4, 5)]
    found = paired_speaker_bootstrap(seeds, base, LABELS, bootstrap=BootstrapConfig(300))
    assert found["candidate"] == pytest.approx(np.mean(list(found["runs"]["candidate"].values())))
    assert found["baseline"] == pytest.approx(np.mean(list(found["runs"]["baseline"].values())))
    assert set(found["runs"]["candidate"]) == {"cand1", "cand2", "cand3"}


def test_runs_are_paired_by_utterance_not_by_order_and_must_test_the_same_ones(utterances):
    truth, speakers, hardness = utterances
    a = system("a", truth, speakers, hardness, seed=1)
    b = system("b", truth, speakers, hardness + 0.1, seed=2)
    order = np.random.default_rng(0).permutation(len(truth))
    shuffled = RunPredictions("b", b.ids[order], b.speakers[order], b.y_true[order], b.y_pred[order])
    config = BootstrapConfig(300)
    assert paired_speaker_bootstrap([a], [shuffled], LABELS, bootstrap=config) == \
        paired_speaker_bootstrap([a], [b], LABELS, bootstrap=config)
    fewer = RunPredictions("c", b.ids[1:], b.speakers[1:], b.y_true[1:], b.y_pred[1:])
    with pytest.raises(SerkitError, match="tested different utterances"):
        paired_speaker_bootstrap([a], [fewer], LABELS)
    relabelled = RunPredictions("d", b.ids, b.speakers, np.roll(b.y_true, 1), b.y_pred)
    with pytest.raises(SerkitError, match="other speakers or references"):
        paired_speaker_bootstrap([a], [relabelled], LABELS)
    with pytest.raises(SerkitError, match="figure 'cer'"):
        paired_speaker_bootstrap([a], [b], LABELS, figure="cer")


def test_the_command_compares_two_real_runs_and_refuses_an_unfinished_one(emodb_root, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    for model in ("svm", "majority"):
        run_cv(Recipe(root=str(emodb_root), model=model, features="loudness", protocol="loso"),
               tmp_path / model, cache=cache, workers=1)
    runner = CliRunner()
    result = runner.invoke(app, ["compare", str(tmp_path / "svm"), "--against", str(tmp_path / "majority"),
                                 "--resamples", "500", "--out", str(tmp_path / "svm-vs-majority.json")])
    assert result.exit_code == 0, result.output
    found = json.loads((tmp_path / "svm-vs-majority.json").read_text())
    svm = json.loads((tmp_path / "svm" / "results.json").read_text())
    majority = json.loads((tmp_path / "majority" / "results.json").read_text())
    assert found["candidate"] == pytest.approx(svm["pooled"]["ua"])
    assert found["baseline"] == pytest.approx(majority["pooled"]["ua"]) == pytest.approx(0.25)
    assert found["protocol"] == "loso" and found["n_speakers"] == 10 and found["ci95"][0] > 0
    assert "points" in result.output and "not better in" in result.output
    (tmp_path / "majority" / "folds" / "03" / "predictions.json").unlink()
    failed = runner.invoke(app, ["compare", str(tmp_path / "svm"), "--against", str(tmp_path / "majority")])
    assert failed.exit_code != 0 and "9 fold predictions for 10 folds" in failed.output
    assert "Traceback" not in failed.output


def test_an_error_rate_is_compared_paired_and_lower_is_better():
    rng = np.random.default_rng(0)
    speakers = np.repeat([f"s{k}" for k in range(8)], 20)
    lengths = rng.integers(20, 60, speakers.size)
    ids = [f"u{k:03d}" for k in range(speakers.size)]
    baseline_errors = rng.binomial(lengths, 0.4)
    better_errors = rng.binomial(lengths, 0.3)
    baseline = RunErrors("baseline", ids, speakers, baseline_errors, lengths)
    better = RunErrors("better", ids[::-1], speakers[::-1], better_errors[::-1], lengths[::-1])  # paired by id
    found = paired_error_bootstrap([better], [baseline], "per", BootstrapConfig(n_resamples=2000))
    assert found["candidate"] == pytest.approx(better_errors.sum() / lengths.sum())
    assert found["baseline"] == pytest.approx(baseline_errors.sum() / lengths.sum())
    assert found["difference"] < 0 and found["ci95"][1] < 0 and found["p_not_better"] < 0.01
    assert found["lower_is_better"]
    worse = paired_error_bootstrap([baseline], [better], "per", BootstrapConfig(n_resamples=2000))
    assert worse["ci95"][0] > 0 and worse["p_not_better"] > 0.99
    other_references = RunErrors("other", ids, speakers, baseline_errors, lengths + 1)
    with pytest.raises(SerkitError, match="other speakers or references"):
        paired_error_bootstrap([better], [other_references], "per")
    with pytest.raises(SerkitError, match="figure 'ua'"):
        paired_error_bootstrap([better], [baseline], "ua")

"""A recipe's ``task: regression``: arousal and valence per utterance, end to end on real EMO-DB
(its labels' places on the arousal/valence plane), through cv, train, predict and ONNX."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import emodb_subset

from serkit.artifacts import CvResults, read_model_info
from serkit.errors import SerkitError
from serkit.experiments import Recipe, run_cv
from serkit.experiments.train import train_model
from serkit.features.cache import FeatureCache
from serkit.inference import load_model
from serkit.inference.export import export_onnx

SPEAKERS = ("03", "08", "09", "10")
SERKIT = str(Path(sys.executable).with_name("serkit"))


def regression_recipe(root: Path, **changes) -> Recipe:
    recipe = Recipe(root=str(root), model="blstm", features="mfcc-seed003", protocol="speaker-kfold:2",
                    validation="speakers:1", task="regression", targets=("arousal", "valence"),
                    model_options={"hidden": 16})
    return Recipe.from_dict({**recipe.to_dict(), **changes}).override(epochs=4)


@pytest.fixture(scope="module")
def regression_run(emodb_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("regression")
    root = emodb_subset(emodb_root, base, SPEAKERS)
    recipe = regression_recipe(root)
    cache = FeatureCache(base / "cache")
    summary = run_cv(recipe, base / "run", workers=1, threads=1, cache=cache)
    card = train_model(recipe, base / "model", workers=1, threads=1, cache=cache,
                       cv_results=base / "run" / "results.json")
    return base, summary, card


def test_cross_validation_reports_ccc_and_rmse_per_target(regression_run):
    base, summary, _ = regression_run
    results = CvResults.read(base / "run")
    assert results.task == "regression" and results.targets == ["arousal", "valence"]
    assert results.confusion is None and results.validation_ua is None and results.validation_ccc is not None
    for key in ("ccc_arousal", "rmse_arousal", "ccc_valence", "rmse_valence", "ccc", "rmse"):
        assert key in results.pooled and key in results.folds[0]
    # anger and happiness sit high on arousal, neutral and sadness low: even a small model beats a constant
    assert results.pooled["ccc_arousal"] > 0.05
    assert set(results.ci95) == {"ccc_arousal", "ccc_valence"}
    report = (base / "run" / "report.md").read_text()
    assert "| CCC arousal |" in report and "confusion.png" not in report
    assert not (base / "run" / "confusion.png").exists()
    fold = json.loads((base / "run" / "folds" / "00" / "predictions.json").read_text())
    assert len(fold["y_true"][0]) == 2 and fold["validation_ccc"] is not None


def test_the_trained_model_predicts_values_per_target(regression_run, emodb_root):
    base, _, card = regression_run
    assert card["task"] == "regression" and card["target_sources"] == {"labels.yaml": card["data"]["utterances"]}
    assert list(card["data"]["licences"]) == ["emodb"] and "frame_rate" not in card  # per utterance
    info = read_model_info(base / "model")
    assert info.task["kind"] == "regression" and info.labels == ("arousal", "valence")
    predictor = load_model(base / "model", backend="torch")
    clip = sorted((emodb_root / "wav").glob("11*.wav"))[0]  # a speaker it never heard
    prediction = predictor.predict_file(clip)
    assert prediction.ok and prediction.label is None and prediction.probabilities is None
    assert set(prediction.values) == {"arousal", "valence"}
    assert list(prediction.to_dict()) == ["path", "duration", "values"]
    assert "pooled CCC arousal" in (base / "model" / "README.md").read_text()


def test_onnx_and_batches_give_the_values_of_pytorch_one_file_at_a_time(regression_run, emodb_root, tmp_path):
    base, _, _ = regression_run
    clips = sorted((emodb_root / "wav").glob("12*.wav"))[:6]
    torch_model = load_model(base / "model", backend="torch")
    onnx_model = load_model(export_onnx(base / "model", tmp_path / "regression.onnx"))
    single = [torch_model.predict_file(c).values for c in clips]
    batched = [p.values for p in torch_model.predict_files(clips)]
    exported = [p.values for p in onnx_model.predict_files(clips)]
    for a, b, c in zip(single, batched, exported):
        for key in a:
            assert b[key] == pytest.approx(a[key], abs=1e-5) and c[key] == pytest.approx(a[key], abs=1e-4)


def test_predict_prints_values_as_columns(regression_run, emodb_root):
    base, _, _ = regression_run
    clip = sorted((emodb_root / "wav").glob("13*.wav"))[0]
    result = subprocess.run([SERKIT, "predict", "--model", str(base / "model"), "--format", "csv", str(clip)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()[:2]
    assert header == "path,start,end,duration,label,arousal,valence,error"
    values = row.split(",")
    assert values[4] == "" and all(-5 < float(v) < 5 for v in values[5:7])


@pytest.mark.parametrize("fields, message", [
    ({"targets": []}, "names distinct targets"),
    ({"targets": ["dominance"]}, "names distinct targets"),
    ({"model": "svm", "features": "egemaps"}, "is a classifier"),
    ({"task": "utterance"}, "targets are for task: regression"),
    ({"task": "phones"}, "task must be one of"),
])
def test_a_regression_recipe_that_does_not_fit_is_refused_when_read(tmp_path, fields, message):
    data = {**Recipe(task="regression", targets=("arousal",), model="cnn").to_dict(), **fields}
    with pytest.raises(SerkitError, match=message):
        Recipe.from_dict(data)


def test_values_of_utterance_and_regression_recipes_keep_older_hashes():
    assert np.all([Recipe().config_hash() == Recipe(task="utterance").config_hash()])


@pytest.fixture(scope="module")
def per_frame_run(emodb_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("regression-frames")
    root = emodb_subset(emodb_root, base, SPEAKERS)
    recipe = regression_recipe(root, model="frame_blstm", model_options={"hidden": 16, "num_layers": 1})
    cache = FeatureCache(base / "cache")
    run_cv(recipe, base / "run", workers=1, threads=1, cache=cache)
    train_model(recipe, base / "model", workers=1, threads=1, cache=cache)
    return base


def test_per_frame_arousal_from_the_labels_places_reports_ccc_over_frames(per_frame_run):
    results = CvResults.read(per_frame_run / "run")
    assert results.task == "regression" and "every test frame" in results.class_rule
    fold = json.loads((per_frame_run / "run" / "folds" / "00" / "predictions.json").read_text())
    assert len(fold["y_true"][0]) == 2 and len(fold["y_pred"][0]) > 50  # a row per frame
    assert results.folds[0]["n_test"] == sum(len(p) for p in fold["y_pred"])
    assert results.pooled["ccc_arousal"] is not None and -1 <= results.pooled["ccc_arousal"] <= 1
    assert read_model_info(per_frame_run / "model").task["frame_level"] is True


def test_a_per_frame_model_predicts_a_trace_onnx_alike(per_frame_run, emodb_root, tmp_path):
    clip = sorted((emodb_root / "wav").glob("11*.wav"))[0]
    torch_model = load_model(per_frame_run / "model", backend="torch")
    prediction = torch_model.predict_file(clip)
    frames = torch_model.spec.feature.process_file(clip).shape[-1]
    assert prediction.frame_rate == pytest.approx(100.0) and set(prediction.trace) == {"arousal", "valence"}
    assert len(prediction.trace["arousal"]) == frames
    assert prediction.values["arousal"] == pytest.approx(np.mean(prediction.trace["arousal"]))
    assert list(prediction.to_dict()) == ["path", "duration", "values", "frame_rate", "trace"]
    exported = load_model(export_onnx(per_frame_run / "model", tmp_path / "trace.onnx")).predict_file(clip)
    np.testing.assert_allclose(exported.trace["valence"], prediction.trace["valence"], atol=1e-4)


def test_a_per_frame_model_gives_each_file_the_same_trace_in_a_batch(per_frame_run, emodb_root):
    clips = sorted((emodb_root / "wav").glob("12*.wav"))[:5]
    model = load_model(per_frame_run / "model", backend="torch")
    single = [model.predict_file(c).trace for c in clips]
    for alone, batched in zip(single, (p.trace for p in model.predict_files(clips))):
        for name in alone:
            np.testing.assert_allclose(batched[name], alone[name], atol=1e-5)

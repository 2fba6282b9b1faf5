"""A recipe's ``task: frame``: EMO-DB's phones (lablaut) per frame, end to end on real data,
through cv (FER, PER), train, predict (a label per frame), the CLI and ONNX."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import emodb_subset

from serkit.artifacts import CvResults, read_model_info
from serkit.audio import load_audio
from serkit.errors import SerkitError
from serkit.experiments import Recipe, run_cv
from serkit.experiments.cv import load_corpus
from serkit.experiments.frame_targets import PAUSE, UNKNOWN
from serkit.experiments.train import train_model
from serkit.features.cache import FeatureCache
from serkit.inference import load_model
from serkit.inference.export import export_onnx
from serkit.inference.predictor import pad_batch

SPEAKERS = ("03", "08", "09", "10")
SERKIT = str(Path(sys.executable).with_name("serkit"))


def frame_recipe(root: Path, **changes) -> Recipe:
    recipe = Recipe(root=str(root), model="frame_blstm", features="mfcc-seed003", protocol="speaker-kfold:2",
                    validation="speakers:1", task="frame", frame_target="phones",
                    model_options={"hidden": 16, "num_layers": 1})
    data = recipe.to_dict()
    data["train"]["optimiser"]["lr"] = 0.01  # three short epochs: a larger step than the default
    return Recipe.from_dict({**data, **changes}).override(epochs=3)


@pytest.fixture(scope="module")
def frame_run(emodb_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("frame")
    root = emodb_subset(emodb_root, base, SPEAKERS, lablaut=True)
    recipe = frame_recipe(root)
    cache = FeatureCache(base / "cache")
    summary = run_cv(recipe, base / "run", workers=1, threads=1, cache=cache)
    card = train_model(recipe, base / "model", workers=1, threads=1, cache=cache,
                       cv_results=base / "run" / "results.json")
    return base, summary, card


def test_cross_validation_reports_frame_and_phone_error_rates(frame_run):
    base, _, _ = frame_run
    results = CvResults.read(base / "run")
    assert results.task == "frame" and results.frame_target == "phones"
    assert results.confusion is None and results.validation_ua is None and results.validation_frame_ua is not None
    assert math.isfinite(results.pooled["fer"]) and results.pooled["fer"] < 1.0
    assert math.isfinite(results.pooled["per"]) and set(results.mean) == {"fer", "per", "per_runs"}
    assert "Viterbi" in results.class_rule
    assert all(fold["fer"] < 1.0 and fold["validation_frame_ua"] is not None for fold in results.folds)
    report = (base / "run" / "report.md").read_text()
    assert "| FER |" in report and "| PER |" in report and "confusion.png" not in report
    fold = json.loads((base / "run" / "folds" / "00" / "predictions.json").read_text())
    assert len(fold["y_true"][0]) == len(fold["y_pred"][0]) > 50 and PAUSE in fold["y_true"][0]
    # the fold's decoder: chosen on validation, its phones scored against the reference's runs
    assert set(fold["decoder"]) >= {"lm_weight", "insertion_penalty", "min_frames", "validation_per"}
    assert len(fold["decoded"]) == len(fold["ids"]) and PAUSE not in fold["decoded"][0]
    for figure in ("fer", "per", "per_runs"):  # the speaker bootstrap's interval holds the pooled figure
        low, high = results.ci95[figure]
        assert low <= results.pooled[figure] <= high


def test_the_trained_model_labels_every_frame(frame_run, emodb_root):
    base, _, card = frame_run
    info = read_model_info(base / "model")
    assert info.task["kind"] == "frame-classification" and info.labels[-1] == UNKNOWN and PAUSE in info.labels
    assert card["task"] == "frame" and card["frame_classes"] == list(info.labels)
    predictor = load_model(base / "model", backend="torch")
    clip = sorted((emodb_root / "wav").glob("11*.wav"))[0]  # a speaker it never heard
    prediction = predictor.predict_file(clip)
    n_frames = predictor.spec.feature.compute(load_audio(clip, predictor.sample_rate)).shape[-1]
    assert prediction.ok and prediction.label is None and prediction.probabilities is None
    assert len(prediction.frames) == n_frames and set(prediction.frames) <= set(info.labels)
    assert prediction.frame_rate == pytest.approx(100.0)
    assert list(prediction.to_dict()) == ["path", "duration", "frame_rate", "frames"]
    assert "pooled FER" in (base / "model" / "README.md").read_text()
    # on request, each class's posterior per frame: distributions whose argmax is the frame's label
    detailed = predictor.with_config(posteriors=True).predict_file(clip)
    posteriors = detailed.trace  # unrounded; to_dict() writes them as "posteriors"
    assert list(detailed.to_dict()["posteriors"]) == list(info.labels)
    assert all(len(p) == n_frames for p in posteriors.values())
    table = np.array([posteriors[name] for name in info.labels])
    np.testing.assert_allclose(table.sum(axis=0), 1.0, atol=1e-3)
    assert [info.labels[k] for k in table.argmax(axis=0)] == prediction.frames


def test_onnx_and_batches_give_the_labels_of_pytorch_one_file_at_a_time(frame_run, emodb_root, tmp_path):
    base, _, _ = frame_run
    clips = sorted((emodb_root / "wav").glob("12*.wav"))[:5]
    torch_model = load_model(base / "model", backend="torch")
    onnx_model = load_model(export_onnx(base / "model", tmp_path / "frames.onnx"))
    single = [torch_model.predict_file(c).frames for c in clips]
    assert [p.frames for p in torch_model.predict_files(clips)] == single
    assert [p.frames for p in onnx_model.predict_files(clips)] == single
    spec = torch_model.spec
    x, lengths = pad_batch([spec.model_inputs(spec.feature.compute(load_audio(c, torch_model.sample_rate)))[0]
                            for c in clips])
    expected = torch_model.backend.logits(x, lengths)
    exported = onnx_model.backend.logits(x, lengths)
    for row, n in enumerate(lengths):  # the valid frames; padding's outputs are never read
        np.testing.assert_allclose(exported[row, :n], expected[row, :n], atol=1e-4)


def test_predict_prints_runs_of_equal_labels(frame_run, emodb_root):
    base, _, _ = frame_run
    clip = sorted((emodb_root / "wav").glob("13*.wav"))[0]
    result = subprocess.run([SERKIT, "predict", "--model", str(base / "model"), "--format", "csv", str(clip)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    header, first, *runs = result.stdout.splitlines()
    assert header == "path,start,end,duration,label,error"
    assert first.split(",")[1:3] == ["", ""] and runs
    cells = [row.split(",") for row in runs]
    assert float(cells[0][1]) == 0.0 and all(c[4] for c in cells)
    assert all(float(a[2]) == float(b[1]) for a, b in zip(cells, cells[1:]))  # runs follow each other


def test_a_corpus_without_alignments_is_refused_when_read(emodb_root, tmp_path):
    clips = sorted((emodb_root / "wav").glob("03*.wav"))[:4]
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,speaker,label\n" + "".join(f"{c},03,neutral\n" for c in clips))
    recipe = frame_recipe(manifest, corpus="manifest")
    with pytest.raises(SerkitError, match=r"^frame_target phones: 4 of 4 utterances .* no phone alignment") as e:
        load_corpus(recipe)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("fields, message", [
    ({"frame_target": "words"}, "frame_target 'words': a frame recipe names one of phones"),
    ({"frame_target": None}, "frame_target None"),
    ({"model": "blstm"}, "use a frame model"),
    ({"fixed_frames": 100}, "segments and fixed_frames do not apply"),
    ({"task": "utterance"}, "frame_target is for task: frame"),
    ({"task": "utterance", "frame_target": None}, "frame_blstm gives an output per frame: it needs task: frame"),
])
def test_a_frame_recipe_that_does_not_fit_is_refused_when_read(fields, message):
    data = {**frame_recipe(Path("/nowhere")).to_dict(), **fields}
    with pytest.raises(SerkitError, match=message):
        Recipe.from_dict(data)


def test_frame_blstm_gives_logits_per_frame_equal_to_each_item_alone():
    import torch

    from serkit.models import build_model

    model = build_model("frame_blstm", 13, 5, hidden=8).eval()
    x, lengths = torch.randn(2, 13, 30), torch.tensor([30, 17])
    with torch.no_grad():
        batch = model(x, lengths)
        alone = model(x[1:, :, :17], lengths[1:])
    assert batch.shape == (2, 30, 5)
    torch.testing.assert_close(batch[1, :17], alone[0], atol=1e-5, rtol=0)
    assert [name for name, _ in model.layers()] == ["rnn", "output"]

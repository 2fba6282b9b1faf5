"""Seed 002's per-segment mu-law (``mulaw``'s ``rescale: segment``): each model window is min-max
rescaled and compressed where it is cut, once, by training, cross-validation, ``serkit predict``
and the ONNX export alike; the per-utterance presets keep their hashes and outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, emodb_subset

from serkit.audio import load_audio
from serkit.errors import SerkitError
from serkit.experiments import Recipe, load_recipe, run_cv
from serkit.experiments.recipe import Segments
from serkit.features import mulaw
from serkit.features.cache import FeatureCache
from serkit.features.combined import combine
from serkit.features.normalise import Normalisation
from serkit.features.presets import get_feature, get_preset
from serkit.features.shaping import SEED002_TEST, segment, window_transform
from serkit.inference import InferenceConfig, load_model
from serkit.inference.export import export_onnx
from serkit.inference.spec import ModelSpec

#: The presets' hashes before ``rescale`` existed: their cache keys, and the features of every
#: committed seed 002 run and model.
UTTERANCE_HASHES = {"mulaw-seed002": "65db22de6cf3b7e6", "mulaw-seed002-800": "aad35a55fe70c509"}
SPEAKERS = ("03", "08", "09", "10")
#: The cheap variant's windows: 2 s, every 2 s in training and every 0.4 s in testing.
SEGMENTS = Segments(window=2.0, train_hop=2.0, test_hop=0.4)


def inverse_mu_law(y: np.ndarray, mu: float = 255.0) -> np.ndarray:
    return np.sign(y) * np.expm1(np.abs(y.astype(np.float64)) * math.log1p(mu)) / mu


def spec_of(preset: str) -> ModelSpec:
    feature = get_feature(preset)
    return ModelSpec(("a", "b"), feature, Normalisation.NONE, None, None, SEED002_TEST, feature.dims, {}, "test")


@pytest.fixture(scope="module")
def clips(emodb_root) -> list[np.ndarray]:
    # speaker 03's longest and shortest: many windows, and one shorter than a window
    paths = sorted((emodb_root / "wav").glob("03*.wav"), key=lambda p: (p.stat().st_size, p.name))
    return [load_audio(paths[-1], 16_000), load_audio(paths[0], 16_000)]


@pytest.mark.parametrize("name", sorted(UTTERANCE_HASHES))
def test_the_utterance_presets_keep_their_hash_and_output(name, clips):
    utterance, per_segment = get_feature(name), get_feature(f"{name}-segment")
    assert utterance.config_hash() == UTTERANCE_HASHES[name]
    assert "rescale" not in utterance.to_dict()["config"] and utterance.window_transform is None
    assert per_segment.config_hash() != utterance.config_hash()  # another cache key: magnitudes
    assert per_segment.to_dict()["config"]["rescale"] == "segment"
    for signal in clips:
        magnitude = per_segment.compute(signal)
        assert magnitude.min() >= 0  # the band-limited magnitude, not yet compressed
        # the rule of old, over the whole utterance, bit for bit
        np.testing.assert_array_equal(utterance.compute(signal), mulaw.mu_law(mulaw.rescale(magnitude), 255.0))


def test_every_committed_seed002_run_keeps_its_recipe_hash():
    runs = sorted((REPO / "runs" / "seed002").glob("*/results.json"))
    assert runs
    for path in runs:
        recipe = load_recipe(REPO / "recipes" / "seed002" / f"{path.parent.name}.yaml")
        assert recipe.config_hash() == json.loads(path.read_text())["config_hash"], path


@pytest.mark.parametrize("name", ["mulaw-seed002-segment", "mulaw-seed002-800-segment"])
def test_each_window_spans_minus_one_to_one_before_the_mu_law(name, clips):
    spec = spec_of(name)
    window, hop = spec.windows.frames(spec.feature.grid)
    for signal in clips:
        magnitude = spec.feature.compute(signal)
        inputs = spec.model_inputs(magnitude)
        starts = segment(magnitude, window, hop).starts
        assert len(inputs) == len(starts)
        for start, x in zip(starts, inputs):
            piece = magnitude[:, start : start + window]  # its true frames: a short utterance is unpadded
            assert x.shape == piece.shape
            np.testing.assert_array_equal(x, mulaw.mu_law(mulaw.rescale(piece), 255.0))
            linear = inverse_mu_law(x)
            assert linear.min() == pytest.approx(-1, abs=1e-5) and linear.max() == pytest.approx(1, abs=1e-5)
            # once, not twice: compressing again would move every value but the extremes and zero
            assert np.abs(mulaw.compress(x, 255.0) - x).max() > 0.1
    # per utterance, only the utterance's extremes reach +-1: not every window of a long clip does
    old = spec_of(name.removesuffix("-segment"))
    spans = [inverse_mu_law(x) for x in old.model_inputs(old.feature.compute(clips[0]))]
    assert min(x.max() - x.min() for x in spans) < 1.99


def test_a_per_window_rule_without_windows_is_refused():
    with pytest.raises(SerkitError, match="give the recipe segments"):
        Recipe(features="mulaw-seed002-segment", model="cnn_tf_gap", normalisation="none")
    with pytest.raises(SerkitError, match="give the recipe segments"):  # MP-x pools whole utterances
        Recipe(features="mulaw-seed002-800:rescale=segment", model="svm", normalisation="none",
               segments=SEGMENTS)
    Recipe(features="mulaw-seed002-segment", model="cnn_tf_gap", normalisation="none", segments=SEGMENTS)
    with pytest.raises(SerkitError, match="combined or stacked"):
        window_transform(combine(["mulaw-seed002-800-segment", "pitch"]), windowed=True)
    with pytest.raises(SerkitError, match="rescale must be one of"):
        get_preset("mulaw-seed002:rescale=window")
    spec = spec_of("mulaw-seed002-800-segment")
    with pytest.raises(SerkitError, match="test: mulaw: rescale: segment rescales each model window"):
        ModelSpec.from_info(_info_without_windows(spec), None, "test")


def _info_without_windows(spec: ModelSpec):
    from serkit.artifacts import ModelInfo

    return ModelInfo(model={"name": "cnn_tf", "config": {"n_dims": spec.n_dims, "n_classes": 2}},
                     features=spec.feature.to_dict(), labels=spec.labels, normalisation="none")


# -- end to end: cross-validation, the fold's model predicting, and its ONNX export ----------------


@pytest.fixture(scope="module")
def segment_run(emodb_root, tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("mulaw-segments")
    recipe = Recipe(root=str(emodb_subset(emodb_root, base, SPEAKERS)), features="mulaw-seed002-800-segment",
                    normalisation="none", model="cnn_tf_gap", segments=SEGMENTS, protocol="speaker-kfold:2",
                    validation="speakers:1", model_options={"n_filters": 4, "channels": [8, 8, 8, 8]})
    # batch-norm statistics re-estimated each epoch: two epochs then give scores that vary with the input
    data = recipe.to_dict()
    data["train"].update(epochs=2, recalibrate_batch_norm=True)
    recipe = Recipe.from_dict(data)
    run_cv(recipe, base / "run", workers=1, threads=1, cache=FeatureCache(base / "cache"))
    return base / "run"


def test_predict_gives_the_folds_own_scores_applying_the_rule_once(segment_run, monkeypatch):
    fold = json.loads((segment_run / "folds" / "00" / "predictions.json").read_text())
    model_dir = segment_run / "folds" / "00" / "seed0" / "model"  # the fold's kept weights
    predictor = load_model(model_dir, InferenceConfig(segment="none"), backend="torch")
    calls = []
    compress = mulaw.compress
    monkeypatch.setattr(mulaw, "compress", lambda x, mu, scale="minmax": calls.append(x.shape) or compress(x, mu, scale))
    ids = fold["ids"][:8]
    predicted = predictor.predict_files(ids)
    window, hop = SEED002_TEST.frames(predictor.spec.feature.grid)
    windows = [len(segment(np.empty((1, predictor.spec.feature.n_frames(len(load_audio(p, 16_000))))),
                           window, hop).starts) for p in ids]
    assert len(calls) == sum(windows)  # each window compressed once, and nothing else
    assert np.std(fold["scores"], axis=0).max() > 0.01  # the scores depend on the windows
    for prediction, scores in zip(predicted, fold["scores"]):
        assert list(prediction.probabilities.values()) == pytest.approx(scores, abs=1e-4)


def test_onnx_export_gives_the_probabilities_of_pytorch(segment_run, emodb_root, tmp_path):
    model_dir = segment_run / "folds" / "00" / "seed0" / "model"
    config = InferenceConfig(segment="none")
    clips = sorted((emodb_root / "wav").glob("11*.wav"))[:6]  # speakers it never heard
    torch_model = load_model(model_dir, config, backend="torch")
    onnx_model = load_model(export_onnx(model_dir, tmp_path / "segment.onnx"), config)
    for a, b in zip(torch_model.predict_files(clips), onnx_model.predict_files(clips)):
        assert a.ok and b.ok
        assert list(b.probabilities.values()) == pytest.approx(list(a.probabilities.values()), abs=1e-4)
    # the export carries the feature, per-window rule included, in its metadata
    assert onnx_model.spec.feature == torch_model.spec.feature
    assert onnx_model.spec.feature.window_transform is not None


def test_peak_scale_puts_silence_at_zero_where_the_mu_law_spreads_it(clips):
    minmax, peak = get_feature("mulaw-seed002-800"), get_feature("mulaw-seed002-800:scale=peak")
    assert "scale" not in minmax.to_dict()["config"] and peak.config_hash() != minmax.config_hash()
    np.testing.assert_array_equal(mulaw.peak_scale(np.array([[0.0, 1.0], [2.0, 4.0]], np.float32)),
                                  [[0.0, 0.25], [0.5, 1.0]])
    np.testing.assert_array_equal(mulaw.peak_scale(np.zeros((2, 3), np.float32)), 0.0)
    for signal in clips:
        magnitude = get_feature("mulaw-seed002-800-segment").compute(signal)
        flat, spread = minmax.compute(signal), peak.compute(signal)
        np.testing.assert_allclose(spread, mulaw.mu_law(magnitude / magnitude.max(), 255.0), atol=1e-6)
        assert spread.min() >= 0 and spread.max() == pytest.approx(1)
        # min-max leaves most bins pressed against -1; peak scaling spreads them over the range
        assert np.median(flat) < -0.99 and np.std(flat) < 0.15
        assert np.median(spread) > 0.02 and np.std(spread) > 0.1
    # per window as well, through the same window rule
    spec = spec_of("mulaw-seed002-800-segment:scale=peak")
    window, hop = spec.windows.frames(spec.feature.grid)
    magnitude = spec.feature.compute(clips[0])
    piece = magnitude[:, :window]
    np.testing.assert_array_equal(spec.model_inputs(magnitude)[0], mulaw.mu_law(mulaw.peak_scale(piece), 255.0))
    with pytest.raises(SerkitError, match="scale must be one of"):
        get_preset("mulaw-seed002:scale=log")

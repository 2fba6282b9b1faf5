"""Combined features: frame-level presets on one grid, stacked; in recipes, model folders and predict."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from conftest import emodb_subset
from serkit.errors import AudioError, ConfigError
from serkit.experiments.recipe import Recipe, load_recipe
from serkit.features.base import feature_from_dict, load_feature
from serkit.features.combined import Combined, combine
from serkit.features.normalise import GlobalNormaliser
from serkit.features.presets import get_feature, get_preset

PARTS = ("mfcc-seed003", "pitch-seed003")


def _signal(seconds: float, seed: int = 0) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(2 * np.pi * 180 * t) + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def test_parts_are_stacked_frame_for_frame_in_order():
    feature = combine(PARTS)
    mfcc, pitch = (get_feature(p) for p in PARTS)
    signal = _signal(1.037)
    out = feature.process_signal(signal)
    assert out.dtype == np.float32
    assert out.shape == (26 + 2, feature.n_frames(signal.size))
    np.testing.assert_array_equal(out, np.concatenate([mfcc.process_signal(signal), pitch.process_signal(signal)]))
    assert (feature.hop, feature.sample_rate) == (160, 16000)
    assert feature.min_samples == max(mfcc.min_samples, pitch.min_samples)


def test_the_configuration_round_trips_through_json_and_the_hash_comes_from_the_parts(tmp_path, monkeypatch):
    feature = get_preset("+".join(PARTS)).feature
    assert isinstance(feature, Combined) and feature == combine(PARTS)
    assert [p["family"] for p in feature.to_dict()["config"]["parts"]] == ["mfcc", "pitch"]
    feature.save(tmp_path / "feature.json")
    again = load_feature(tmp_path / "feature.json")
    assert again == feature and again.config_hash() == feature.config_hash()
    # parts given as dicts, even with settings left at their defaults, give the same feature
    assert combine([{"family": "pitch", "config": {}}]
                   + [get_feature("loudness").to_dict()]) == combine(["pitch", "loudness"])
    assert combine(tuple(reversed(PARTS))).config_hash() != feature.config_hash()
    before = feature.config_hash()
    monkeypatch.setattr(type(feature.parts[1]), "revision", type(feature.parts[1]).revision + 1)
    assert feature.config_hash() != before  # a part's new revision misses the cache


def test_functionals_and_parts_on_other_grids_are_refused_naming_them():
    with pytest.raises(ConfigError, match=r"egemaps is a functional") as error:
        combine(["mfcc-seed003", "egemaps"])
    assert "\n" not in str(error.value)
    with pytest.raises(ConfigError, match=r"mfcc-seed003 hop 160 at 16000 Hz, mfcc-seed003:hop=320 hop 320"):
        combine(["mfcc-seed003", "mfcc-seed003:hop=320"])
    with pytest.raises(ConfigError, match="two or more parts"):
        combine(["mfcc-seed003"])
    with pytest.raises(ConfigError, match=r"combined: parts on different frame grids \(mfcc hop 160"):
        feature_from_dict({"family": "combined", "config": {"parts": [
            get_feature("mfcc-seed003").to_dict(), get_feature("pitch:hop=80").to_dict()]}})


def test_parts_that_disagree_in_frame_count_are_refused_naming_the_file_and_the_counts(tmp_path, monkeypatch):
    path = tmp_path / "clip.wav"
    sf.write(path, _signal(0.5), 16000)
    feature = combine(PARTS)
    pitch = feature.parts[1]
    full = pitch.compute
    monkeypatch.setattr(pitch, "compute", lambda signal: full(signal)[:, :-1])
    with pytest.raises(AudioError, match=r"clip\.wav: .*parts disagree in frame count \(mfcc 51, pitch 50 frames"):
        feature.process_file(path)
    with pytest.raises(AudioError, match=r"x\.wav: .*mfcc 51, pitch 50"):
        feature.process_signal(_signal(0.5), path="x.wav")


def test_global_normalisation_of_the_stack_is_each_part_with_its_own_statistics():
    signals = [_signal(s, seed=i) for i, s in enumerate((0.4, 0.9, 1.3))]
    feature = combine(PARTS)
    stacked = [feature.process_signal(s) for s in signals]
    mfcc = [get_feature(PARTS[0]).process_signal(s) for s in signals]
    pitch = [get_feature(PARTS[1]).process_signal(s) for s in signals]
    whole = GlobalNormaliser().fit(stacked)
    own_mfcc, own_pitch = GlobalNormaliser().fit(mfcc), GlobalNormaliser().fit(pitch)
    np.testing.assert_allclose(whole.mean, np.concatenate([own_mfcc.mean, own_pitch.mean]))
    np.testing.assert_allclose(whole.std, np.concatenate([own_mfcc.std, own_pitch.std]))
    for x, a, b in zip(stacked, mfcc, pitch):
        np.testing.assert_allclose(whole.transform(x),
                                   np.concatenate([own_mfcc.transform(a), own_pitch.transform(b)]), atol=1e-6)


def test_a_recipe_takes_a_list_of_presets_kept_as_their_names_joined(tmp_path):
    listed = Recipe.from_dict({"features": list(PARTS)})
    assert listed.features == "mfcc-seed003+pitch-seed003"
    assert listed.config_hash() == Recipe(features="mfcc-seed003+pitch-seed003").config_hash()
    assert Recipe.from_dict(listed.to_dict()) == listed
    assert Recipe.from_dict({"features": ["logmel-seed001"]}).config_hash() == Recipe().config_hash()
    # a plain preset is kept as it is: its hash is the one recorded runs carry
    assert Recipe(features="logmel-seed001").to_dict()["features"] == "logmel-seed001"


@pytest.mark.parametrize("features, why", [
    ("[mfcc-seed003, egemaps]", "egemaps is a functional"),
    ("[mfcc-seed003, whisper-base]", r"mfcc-seed003 hop 160 at 16000 Hz, whisper-base hop 320 at 16000 Hz"),
    ("[mfcc-seed003, nonsense]", "unknown feature kind 'nonsense'"),
    ("[mfcc-seed003, 3]", "features must be"),
])
def test_a_recipe_with_features_that_do_not_combine_is_refused_when_read(tmp_path, features, why):
    path = tmp_path / "bad.yaml"
    path.write_text(f"model: blstm\nfeatures: {features}\n")
    with pytest.raises(ConfigError, match=why) as error:
        load_recipe(path)
    message = str(error.value)
    assert message.startswith(f"{path}: features") and "\n" not in message


def test_a_model_trained_on_combined_features_predicts_from_its_folder(emodb_root, tmp_path):
    from serkit.experiments.train import train_model
    from serkit.inference import load_model

    root = emodb_subset(emodb_root, tmp_path, ("03", "08", "09"))
    recipe = Recipe.from_dict({"root": str(root), "model": "blstm", "features": list(PARTS),
                               "validation": "speakers:1", "model_options": {"hidden": 8}})
    train_model(recipe.override(epochs=1), tmp_path / "model", workers=1, threads=1)
    info = json.loads((tmp_path / "model" / "model.json").read_text())
    assert info["feature_preset"] == "mfcc-seed003+pitch-seed003"
    assert feature_from_dict(info["features"]) == combine(PARTS)
    assert info["model"]["config"]["n_dims"] == 26 + 2 == len(info["normaliser"]["mean"])

    predictor = load_model(tmp_path / "model")
    assert predictor.spec.feature == combine(PARTS)
    clip = next(w for w in sorted((emodb_root / "wav").glob("*.wav")) if w.name[:2] == "10")
    prediction = predictor.predict_file(clip)
    assert prediction.ok and prediction.label in predictor.labels
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-6)

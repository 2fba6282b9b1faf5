"""eGeMAPS and ComParE functionals: sizes, finiteness, agreement with opensmile, pickling."""

from __future__ import annotations

import pickle

import numpy as np
import opensmile
import pytest

from serkit.errors import AudioError
from serkit.features.functionals import PRESETS, ComParE, EGeMAPS

EXPECTED = [(EGeMAPS, "eGeMAPSv02", 88), (ComParE, "ComParE_2016", 6373)]


@pytest.mark.parametrize("cls, feature_set, dims", EXPECTED)
def test_functionals_equal_opensmile_on_emodb(emodb_wavs, cls, feature_set, dims):
    feature = cls()
    reference = opensmile.Smile(
        feature_set=opensmile.FeatureSet[feature_set],
        feature_level=opensmile.FeatureLevel.Functionals,
    )
    assert feature.feature_names == list(reference.feature_names)
    for path in (emodb_wavs[0], emodb_wavs[-1]):
        out = feature.process_file(path)
        assert out.shape == (dims,) and out.dtype == np.float32
        assert np.isfinite(out).all()
        expected = reference.process_file(str(path)).to_numpy(dtype=np.float32).reshape(-1)
        np.testing.assert_array_equal(out, expected)


def test_functionals_differ_between_utterances(emodb_wavs):
    a, b = (EGeMAPS().process_file(p) for p in emodb_wavs[:2])
    assert not np.allclose(a, b)


def test_smile_is_built_lazily_and_rebuilt_after_pickling(emodb_wavs):
    feature = EGeMAPS()
    assert feature._smile is None
    before = feature.process_file(emodb_wavs[0])
    assert feature._smile is not None
    clone = pickle.loads(pickle.dumps(feature))
    assert clone._smile is None and clone == feature
    np.testing.assert_array_equal(clone.process_file(emodb_wavs[0]), before)


def test_a_signal_too_short_for_opensmile_is_an_audio_error():
    feature = ComParE()
    short = np.full(feature.min_samples - 1, 0.1, dtype=np.float32)
    with pytest.raises(AudioError, match="too short"):
        feature.process_signal(short)
    rng = np.random.default_rng(0)
    just_enough = (0.1 * rng.standard_normal(feature.min_samples)).astype(np.float32)
    assert np.isfinite(feature.process_signal(just_enough)).all()


def test_presets_and_settings():
    presets = {p.name: p.feature for p in PRESETS}
    assert isinstance(presets["egemaps"], EGeMAPS) and isinstance(presets["compare"], ComParE)
    assert not presets["egemaps"].frame_level
    assert presets["egemaps"].config_hash() != EGeMAPS(feature_set="GeMAPSv01b").config_hash()
    with pytest.raises(ValueError):
        EGeMAPS(feature_set="ComParE_2016")

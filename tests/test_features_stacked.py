"""Stacked frames (seed 004's fbank-seed004): Kaldi's fbank, four 10 ms frames per 40 ms label."""

from __future__ import annotations

import json

import numpy as np
import pytest

from serkit.errors import ConfigError
from serkit.features.base import feature_from_dict
from serkit.features.presets import get_feature, get_preset
from serkit.features.stacked import Stacked, StackedConfig

RATE = 16_000


def noise(n: int, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


@pytest.mark.parametrize("n_samples", [1, 639, 640, 641, 2_559, 16_000, 16_321])
def test_four_fbank_frames_per_40_ms_frame_on_the_shared_grid(n_samples):
    feature, fbank = get_feature("fbank-seed004"), get_feature("fbank-kaldi")
    signal = noise(n_samples)
    stacked, frames = feature.process_signal(signal), fbank.process_signal(signal)
    assert feature.hop == 640 and feature.sample_rate == RATE
    assert stacked.shape == (160, 1 + n_samples // 640) == (160, feature.n_frames(n_samples))
    assert stacked.dtype == np.float32
    for j in range(stacked.shape[1]):
        for k in range(4):  # rows 40k..40k+39 are fbank frame 4j+k; the last group repeats its last frame
            np.testing.assert_array_equal(stacked[40 * k:40 * (k + 1), j], frames[:, min(4 * j + k, frames.shape[1] - 1)])


def test_a_five_minute_recording_gives_avec_2016s_7501_frames():
    assert get_feature("fbank-seed004").n_frames(300 * RATE) == 7501


def test_the_kaldi_native_fbank_frames_stacked_are_the_preset():
    """kaldi-native-fbank, fed the signal behind hop/2 zeros (its frame i is then centred on our
    sample i * hop, see test_features_spectral), stacked by fours: the interior frames agree."""
    knf = pytest.importorskip("kaldi_native_fbank")
    signal = noise(3 * RATE, seed=3)
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.snip_edges = False
    opts.frame_opts.samp_freq = RATE
    opts.mel_opts.num_bins = 40
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(RATE, np.concatenate([np.zeros(80, np.float32), signal]) * 32768)
    fbank.input_finished()
    reference = np.array([fbank.get_frame(i) for i in range(fbank.num_frames_ready)]).T
    ours = get_feature("fbank-seed004").process_signal(signal)
    for j in range(1, 70):  # windows inside the signal
        expected = reference[:, 4 * j:4 * j + 4].T.reshape(-1)
        np.testing.assert_allclose(ours[:, j], expected, atol=2e-3)


def test_round_trips_through_json_with_the_same_cache_key():
    feature = get_feature("fbank-seed004")
    again = feature_from_dict(json.loads(json.dumps(feature.to_dict())))
    assert isinstance(again, Stacked) and again == feature and again.config_hash() == feature.config_hash()
    other_part = Stacked(StackedConfig(part=get_feature("fbank-kaldi:n_mels=24").to_dict()))
    assert len({feature.config_hash(), get_feature("fbank-seed004:n=2").config_hash(),
                get_feature("fbank-seed004:pad=zeros").config_hash(), other_part.config_hash()}) == 4
    assert get_preset("fbank-seed004:n=2").feature.hop == 320


@pytest.mark.parametrize("config,message", [
    ({"n": 0}, "n must be a positive"),
    ({"pad": "mirror"}, "pad must be one of"),
    ({"part": {"family": "egemaps"}}, "functional"),
    ({"part": {"family": "nope"}}, "unknown feature family"),
])
def test_unusable_settings_are_refused(config, message):
    with pytest.raises(ConfigError, match=message):
        feature_from_dict({"family": "stacked", "config": config})

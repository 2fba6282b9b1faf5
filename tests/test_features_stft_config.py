"""The spectral families share one STFT configuration, and no preset's hash moved when they did."""

from __future__ import annotations

import dataclasses

import pytest

from serkit.features.base import FrameGrid, StftConfig
from serkit.features.filterbank import KaldiFbankConfig, LogMelConfig
from serkit.features.mfcc import MFCCConfig
from serkit.features.mulaw import MuLawConfig
from serkit.features.presets import get_preset
from serkit.features.spectrogram import SpectrogramConfig

SPECTRAL = (SpectrogramConfig, LogMelConfig, KaldiFbankConfig, MFCCConfig, MuLawConfig)

#: Each preset's ``config_hash`` when the STFT fields were factored out: part of every feature
#: cache key and of the committed runs, so a refactoring must leave them as they are.
PRESET_HASHES = {
    "compare": "312e5e9c9d416552",
    "egemaps": "c3601bd8c4b591ae",
    "fbank-kaldi": "5db258361aaad23a",
    "logmel-seed000": "737bc28771f8cb10",
    "logmel-seed001": "41f70f123669b936",
    "loudness": "6e452162149bd425",
    "mfcc-seed000": "472b23f57eb689df",
    "mfcc-seed003": "72f8fd4bb248f3ed",
    "mulaw-seed002": "65db22de6cf3b7e6",
    "mulaw-seed002-800": "aad35a55fe70c509",
    "pitch": "eebcf0e83811bc35",
    "pitch-seed003": "4a04e74c60a42496",
    "spectrogram-seed000": "30b860d5ded6ceab",
    "spectrogram-seed003": "0024cc886b166824",
    "whisper-base": "65d7c7856f9335eb",
    "whisper-tiny.en": "871b1dccf5a43f21",
}


@pytest.mark.parametrize("config", SPECTRAL, ids=lambda c: c.__name__)
def test_every_spectral_configuration_starts_with_the_shared_stft_fields(config):
    assert issubclass(config, StftConfig) and issubclass(config, FrameGrid)
    names = [f.name for f in dataclasses.fields(config)]
    assert names[:5] == ["sample_rate", "hop", "win_length", "n_fft", "window"]


@pytest.mark.parametrize("name", sorted(PRESET_HASHES))
def test_no_preset_hash_changed(name):
    assert get_preset(name).feature.config_hash() == PRESET_HASHES[name]

"""Augmentation: gain and tempo on waveforms, SpecAugment masks that never touch padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from serkit.audio.perturb import tempo_n_fft
from serkit.training.augment import augment_waveform, spec_augment
from serkit.training.config import SpecAugmentConfig, WaveformAugmentConfig
from serkit.training.data import keyed_rng

RATE = 16000


def _tone(seconds: float = 1.0, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _peak_hz(signal: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(signal.size)))
    return float(np.fft.rfftfreq(signal.size, 1 / RATE)[np.argmax(spectrum)])


def test_gain_scales_by_a_drawn_decibel_value_within_its_range():
    config = WaveformAugmentConfig(gain_db=(-3.0, 6.0))
    signal = _tone()
    gains = []
    for key in range(20):
        out = augment_waveform(signal, RATE, config, keyed_rng(0, key))
        assert out.dtype == np.float32 and out.shape == signal.shape
        ratio = out / np.where(signal == 0, 1, signal)
        gains.append(20 * np.log10(np.median(ratio[signal != 0])))
        np.testing.assert_allclose(out, signal * np.float32(10 ** (gains[-1] / 20)), rtol=1e-5)
    assert -3.0 <= min(gains) and max(gains) <= 6.0
    assert max(gains) - min(gains) > 3.0  # the draws spread over the range


def test_tempo_changes_duration_but_keeps_pitch():
    signal = _tone(hz=440.0)
    for low, high in ((0.85, 0.85), (1.15, 1.15)):
        out = augment_waveform(signal, RATE, WaveformAugmentConfig(tempo=(low, high)), keyed_rng(0, 1))
        assert out.size == pytest.approx(signal.size / low, abs=tempo_n_fft(RATE))
        assert _peak_hz(out) == pytest.approx(440.0, abs=5.0)  # resampling would have moved it by 15 %


def test_waveform_augmentation_is_a_function_of_its_generator():
    config = WaveformAugmentConfig(gain_db=(-3.0, 6.0), tempo=(0.85, 1.15))
    signal = _tone(0.5)
    a = augment_waveform(signal, RATE, config, keyed_rng(4, 1, 2))
    b = augment_waveform(signal, RATE, config, keyed_rng(4, 1, 2))
    c = augment_waveform(signal, RATE, config, keyed_rng(4, 1, 3))
    np.testing.assert_array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)


def _padded_batch() -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([30, 12, 7, 1])
    x = torch.randn(4, 10, 30, generator=torch.Generator().manual_seed(0)) + 5.0  # no valid value is 0
    for i, n in enumerate(lengths.tolist()):
        x[i, :, n:] = 7.0  # sentinel padding
    return x, lengths


def test_time_masks_hide_whole_columns_of_valid_frames_only():
    config = SpecAugmentConfig(time_masks=2, time_width=5, max_time_fraction=0.5)
    x, lengths = _padded_batch()
    hidden_total = 0
    for key in range(10):
        out = spec_augment(x, lengths, config, keyed_rng(1, key))
        for i, n in enumerate(lengths.tolist()):
            hidden = out[i] != x[i]
            assert not hidden[:, n:].any()  # padding untouched
            assert (out[i][hidden] == 0.0).all()
            columns = hidden.any(0)
            assert hidden[:, columns].all()  # a time mask covers every dimension
            assert columns.sum() <= 2 * min(5, int(0.5 * n))
            hidden_total += int(columns.sum())
    assert hidden_total > 0


def test_frequency_masks_hide_bands_over_valid_frames_only():
    config = SpecAugmentConfig(freq_masks=2, freq_width=3)
    x, lengths = _padded_batch()
    hidden_total = 0
    for key in range(10):
        out = spec_augment(x, lengths, config, keyed_rng(2, key))
        for i, n in enumerate(lengths.tolist()):
            hidden = out[i] != x[i]
            assert not hidden[:, n:].any()
            rows = hidden.any(1)
            assert hidden[rows][:, :n].all()  # a band covers every valid frame
            assert rows.sum() <= 2 * 3
            hidden_total += int(rows.sum())
    assert hidden_total > 0


def test_spec_augment_is_a_function_of_its_generator():
    config = SpecAugmentConfig(time_masks=1, time_width=8, freq_masks=1, freq_width=4)
    x, lengths = _padded_batch()
    first = spec_augment(x, lengths, config, keyed_rng(3, 0))
    torch.testing.assert_close(first, spec_augment(x, lengths, config, keyed_rng(3, 0)))
    assert not torch.equal(first, spec_augment(x, lengths, config, keyed_rng(3, 1)))
    assert config.active and not SpecAugmentConfig().active

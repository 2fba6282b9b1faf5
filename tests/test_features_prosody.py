"""Pitch and loudness: the shared grid, known tones, silence, and levels."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from serkit.audio.io import load_audio
from serkit.features.base import FrameGrid
from serkit.features.prosody import (
    PRESETS,
    Loudness,
    Pitch,
    a_weighting_gain,
    sample_contour,
    smooth_voiced,
)

RATE = 16_000


def harmonic_tone(f0: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    return (amplitude * tone / np.abs(tone).max()).astype(np.float32)


def sine(freq: float, seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("n_samples", [1, 159, 160, 161, 3_201, 12_345, 16_000])
@pytest.mark.parametrize("feature", [Pitch(), Loudness(), Loudness(weighting="none")])
def test_frames_follow_the_shared_grid(feature, n_samples):
    rng = np.random.default_rng(n_samples)
    signal = (0.1 * rng.standard_normal(n_samples)).astype(np.float32)
    out = feature.process_signal(signal)
    assert out.dtype == np.float32
    assert out.shape[1] == FrameGrid(RATE, 160).n_frames(n_samples)


@pytest.mark.parametrize("f0", [110.0, 180.0, 320.0, 450.0])
def test_f0_of_a_harmonic_tone(f0):
    out = Pitch().process_signal(harmonic_tone(f0, 1.0))
    inner = out[:, 5:-5]  # frames whose analysis window lies inside the tone
    assert np.all(inner[1] > 0.9), "a steady harmonic tone is voiced, with a strong peak"
    assert np.max(np.abs(inner[0] - f0)) < 2.0


def test_silence_is_unvoiced():
    out = Pitch().process_signal(np.zeros(RATE // 2, dtype=np.float32))
    assert np.all(out == 0)


def test_tone_then_silence():
    signal = np.concatenate([harmonic_tone(200.0, 0.5), np.zeros(RATE // 2, dtype=np.float32)])
    out = Pitch().process_signal(signal)
    voiced = out[1] > 0
    assert voiced[5:45].all()
    assert not voiced[56:].any()
    # unvoiced frames carry 0 in the F0 row as well
    assert np.all(out[0][~voiced] == 0) and np.all(out[0][voiced] > 0)


def test_f0_scales():
    tone = harmonic_tone(220.0, 0.6)
    hz = Pitch().process_signal(tone)[0, 10:-10]
    semitone = Pitch(scale="semitone").process_signal(tone)[0, 10:-10]
    log = Pitch(scale="log").process_signal(tone)[0, 10:-10]
    np.testing.assert_allclose(semitone, 12 * np.log2(hz / 27.5), atol=1e-4)
    np.testing.assert_allclose(log, np.log(hz), atol=1e-5)
    assert abs(np.median(semitone) - 36.0) < 0.1  # 220 Hz is three octaves above 27.5 Hz


def test_sampling_praat_frames_onto_the_grid():
    f0 = np.array([0.0, 100.0, 110.0, 0.0, 200.0, 220.0])
    strength = np.array([0.0, 0.8, 0.9, 0.0, 0.7, 0.5])
    at = np.array([0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06])
    # Praat's frames 3 ms after the grid times: each grid time lies 70 % of the
    # way to the next Praat frame, so that one is the nearer.
    got_f0, got_strength = sample_contour(0.003 + 0.01 * np.arange(6), f0, strength, at)
    # before the first frame: unvoiced; between two voiced frames: interpolated;
    # between an unvoiced and a voiced frame: the nearer; after the last: unvoiced
    np.testing.assert_allclose(got_f0, [0.0, 100.0, 107.0, 0.0, 200.0, 214.0, 0.0])
    np.testing.assert_allclose(got_strength, [0.0, 0.8, 0.87, 0.0, 0.7, 0.56, 0.0])
    # 7 ms after: the earlier frame is the nearer
    got_f0, _ = sample_contour(0.007 - 0.01 + 0.01 * np.arange(6), f0, strength, at)
    np.testing.assert_allclose(got_f0, [0.0, 103.0, 110.0, 0.0, 206.0, 0.0, 0.0])


def test_voiced_moving_average_matches_a_direct_computation():
    rng = np.random.default_rng(3)
    contour = rng.uniform(100, 300, 200) * (rng.uniform(size=200) > 0.3)
    width = 15
    expected = np.zeros_like(contour)
    for i in range(contour.size):
        if contour[i] == 0:
            continue
        window = contour[max(0, i - width // 2) : i + width // 2 + 1]
        expected[i] = window[window != 0].mean()
    np.testing.assert_allclose(smooth_voiced(contour, width), expected, rtol=1e-12)


def test_seed003_preset_smooths_over_15_frames(emodb_wavs):
    presets = {p.name: p for p in PRESETS}
    assert presets["pitch-seed003"].feature.config.smooth_frames == 15
    signal = load_audio(emodb_wavs[0])
    raw = Pitch().process_signal(signal)
    smooth = presets["pitch-seed003"].feature.process_signal(signal)
    np.testing.assert_array_equal(raw[1], smooth[1])  # voicing is not smoothed
    voiced = raw[1] > 0
    np.testing.assert_allclose(smooth[0], smooth_voiced(raw[0], 15), rtol=1e-6)
    # smoothing removes frame-to-frame jitter of the voiced contour
    jitter = lambda f: np.abs(np.diff(f[voiced]))  # noqa: E731
    assert np.median(jitter(smooth[0])) < np.median(jitter(raw[0]))


def test_pitch_of_real_speech(emodb_wavs):
    for path in emodb_wavs[:3]:
        out = Pitch().process_file(path)
        voiced = out[1] > 0
        assert 0.2 < voiced.mean() < 0.9, "speech has both voiced and unvoiced frames"
        assert np.all((out[0][voiced] >= 75) & (out[0][voiced] <= 600))


def test_loudness_rises_6_db_when_the_signal_doubles(emodb_wavs):
    signal = load_audio(emodb_wavs[0])
    for feature in (Loudness(), Loudness(weighting="none")):
        once = feature.process_signal(signal)[0]
        twice = feature.process_signal(2 * signal)[0]
        above_floor = once > -90
        assert above_floor.mean() > 0.9
        np.testing.assert_allclose(twice[above_floor] - once[above_floor], 20 * np.log10(2), atol=1e-3)


def test_a_weighting_equals_librosa():
    freqs = np.geomspace(10, 8000, 200)
    np.testing.assert_allclose(
        10 * np.log10(a_weighting_gain(freqs)), librosa.A_weighting(freqs, min_db=None), atol=1e-6
    )
    assert a_weighting_gain(np.array([0.0]))[0] == 0


def test_loudness_level_and_a_weighting():
    amplitude = 0.3
    expected = 10 * np.log10(amplitude**2 / 2)  # mean square of a sine
    for freq in (250.0, 1000.0):
        tone = sine(freq, 0.5, amplitude)
        plain = Loudness(weighting="none").process_signal(tone)[0, 5:-5]
        weighted = Loudness().process_signal(tone)[0, 5:-5]
        np.testing.assert_allclose(plain, expected, atol=0.05)
        a_gain = float(librosa.A_weighting(np.array([freq]))[0])
        np.testing.assert_allclose(weighted - plain, a_gain, atol=0.1)
    silent = Loudness().process_signal(np.zeros(1600, dtype=np.float32))
    assert np.all(silent == Loudness().config.floor_db)


@pytest.mark.parametrize(
    "bad",
    [
        dict(scale="mel"),
        dict(floor_hz=700.0),
        dict(smooth_frames=4),
        dict(ceiling_hz=9000.0),
    ],
)
def test_pitch_rejects_bad_settings(bad):
    with pytest.raises(ValueError):
        Pitch(**bad)


def test_loudness_rejects_bad_settings():
    with pytest.raises(ValueError):
        Loudness(weighting="C")
    with pytest.raises(ValueError):
        Loudness(win_length=1024, n_fft=512)

"""Trace smoothness (seed 004, Section 5.2 and Figures 4-5): power under 1 Hz, spline reconstruction
after downsampling, and the roughness of a prediction."""

from __future__ import annotations

import numpy as np
import pytest

from serkit.corpora.annotator import Annotator, annotator_trace
from serkit.evaluation import low_frequency_share, reconstruction_ccc, roughness, roughness_ratio

RATE = 25.0  # a value every 40 ms
TIMES = np.arange(3000) / RATE  # two minutes


def slow_sine(frequency: float = 0.1) -> np.ndarray:
    return 0.5 * np.sin(2 * np.pi * frequency * TIMES)


def noise(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(len(TIMES))


def test_a_slow_sine_has_its_power_under_1_hz_and_white_noise_does_not():
    assert low_frequency_share(slow_sine()) > 0.999
    assert low_frequency_share(slow_sine(3.0)) < 0.001  # a 3 Hz sine: all of it above
    # white noise spreads evenly up to 12.5 Hz: about 1/12.5 of it lies under 1 Hz
    assert low_frequency_share(noise()) == pytest.approx(1 / 12.5, abs=0.02)


def test_the_cutoff_and_the_rate_move_the_share():
    mixed = slow_sine(0.5) + slow_sine(2.0)  # equal power at 0.5 and 2 Hz
    assert low_frequency_share(mixed, cutoff=1.0) == pytest.approx(0.5, abs=0.01)
    assert low_frequency_share(mixed, cutoff=3.0) == pytest.approx(1.0, abs=0.01)
    # read at 100 frames a second, the same values are 4x faster: both above 1 Hz
    assert low_frequency_share(mixed, rate=100.0) < 0.01


def test_the_mean_does_not_count_as_power():
    assert low_frequency_share(noise() + 100.0) == pytest.approx(low_frequency_share(noise()))


def test_an_annotator_trace_is_smooth_as_rated_traces():
    """A trace as ``serkit streams`` makes it (steps through a lag and a 1 s smoothing) keeps
    more than 95% of its power under 1 Hz, RECOLA's figure; the steps alone do not smooth it."""
    segments = [(2.0 + 5 * i, 6.0 + 5 * i, (-1) ** i * 0.6) for i in range(20)]
    trace = annotator_trace(segments, len(TIMES), -0.5, Annotator(lag=2.0, smoothing=1.0, pause_decay=2.0))
    assert low_frequency_share(trace) > 0.95
    rough = trace + 0.3 * noise()
    assert low_frequency_share(rough) < 0.9


def test_reconstruction_keeps_a_slow_sine_and_loses_noise_as_the_factor_grows():
    sine = slow_sine(0.05)  # a 20 s period: 500 frames
    for factor in (2, 8, 32, 64):
        assert reconstruction_ccc(sine, factor) > 0.99
    figures = [reconstruction_ccc(noise(), factor) for factor in (1, 2, 4, 16, 64)]
    assert figures[0] == pytest.approx(1.0)
    assert all(a > b for a, b in zip(figures, figures[1:]))
    assert figures[1] < 0.8 and figures[-1] < 0.2


def test_reconstruction_goes_through_the_kept_values():
    trace = np.cumsum(noise(1)) / 10  # a random walk: rough but correlated
    assert reconstruction_ccc(trace, 1) == pytest.approx(1.0)
    assert 0.5 < reconstruction_ccc(trace, 16) < reconstruction_ccc(trace, 4) < 1.0


def test_reconstruction_refuses_what_keeps_fewer_than_two_values():
    with pytest.raises(ValueError, match="too short"):
        reconstruction_ccc(np.arange(10.0), 6)
    with pytest.raises(ValueError, match="factor"):
        reconstruction_ccc(np.arange(10.0), 0)


def test_roughness_is_the_mean_change_per_second():
    assert roughness(np.full(100, 0.3)) == 0.0
    ramp = np.arange(100) * 0.01  # 0.01 a frame, 25 frames a second
    assert roughness(ramp) == pytest.approx(0.25)
    assert roughness(ramp, rate=100.0) == pytest.approx(1.0)
    assert roughness(-ramp) == pytest.approx(roughness(ramp))  # absolute changes
    zigzag = np.tile([0.0, 0.1], 50)
    assert roughness(zigzag) == pytest.approx(2.5)  # back and forth moves as much as onwards


def test_a_noisy_prediction_is_rougher_than_its_gold_trace():
    gold = slow_sine()
    assert roughness_ratio(gold, gold) == pytest.approx(1.0)
    assert roughness_ratio(gold + 0.05 * noise(), gold) > 5
    assert roughness_ratio(np.full(len(gold), gold.mean()), gold) == 0.0
    assert roughness_ratio(gold / 2, gold) == pytest.approx(0.5)


def test_roughness_ratio_refuses_a_constant_gold_trace_and_unequal_lengths():
    with pytest.raises(ValueError, match="constant"):
        roughness_ratio(noise(), np.zeros(len(TIMES)))
    with pytest.raises(ValueError, match="frames"):
        roughness_ratio(noise()[:-1], slow_sine())


def test_bad_traces_are_refused():
    with pytest.raises(ValueError, match="1-D"):
        roughness(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="NaN"):
        low_frequency_share(np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="constant"):
        low_frequency_share(np.zeros(50))

"""Prosody on the shared frame grid: pitch (F0 with voicing) and loudness.

**Pitch** is Praat's autocorrelation pitch tracker (Boersma 1993) through
praat-parselmouth, with Praat's Viterbi path through the candidates choosing
voiced and unvoiced frames.  Praat places its own frames: a step of ``dt``
starting at a ``t1`` that centres the frames in the sound, and none closer to
an edge than half its analysis window.  To put the contour on the shared grid
(frame ``i`` at ``i * hop / sample_rate``) the signal is first padded with
zeros so that Praat's frames cover every grid time, Praat runs with
``dt = hop / sample_rate``, and each grid time is then sampled from the two
Praat frames around it: linear interpolation when both are voiced, otherwise
the nearer frame (so voicing decisions are never invented between an unvoiced
and a voiced frame).  The grid and Praat's frames differ by a constant
fraction of a step, at most half a step (5 ms at a 10 ms hop).

Rows: ``[f0, voicing]``.  ``f0`` is in Hz, natural log Hz or semitones above
27.5 Hz (``scale``), and 0 where unvoiced: every voiced value of every scale
is positive, because the floor exceeds 27.5 Hz.  ``voicing`` is the strength
Praat gives the chosen candidate, its normalised autocorrelation peak in
(0, 1], and 0 where unvoiced, so ``voicing > 0`` is the voiced flag.

Seed 003 smooths its openSMILE pitch with a moving average of 15 frames.
openSMILE smooths F0 with ``cContourSmoother`` and ``noZeroSma = 1``: unvoiced
frames stay 0 and a voiced frame becomes the mean of the voiced frames in the
window.  ``smooth_frames`` does exactly that, in the output scale, with the
window truncated at the edges.

**Loudness** is the level in dB of each frame, ``10 log10`` of the windowed
mean square (0 dB is a mean square of 1, digital full scale), A-weighted by
default (the IEC 61672 curve, as ``librosa.A_weighting``, written out here
because librosa's lazy imports cost a second in every fresh worker process)
so that it follows perceived loudness rather than low-frequency energy;
``weighting="none"`` gives plain log energy.  Frames follow the shared convention: the signal is
padded with ``n_fft // 2`` zeros on each side and a ``win_length`` window sits
in the middle of each ``n_fft`` frame.  Doubling the signal adds 6.02 dB.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import parselmouth
import scipy.fft
import scipy.signal

from serkit.audio.io import DEFAULT_SAMPLE_RATE
from serkit.features.base import Feature, Preset

#: Reference of the semitone scale, as in eGeMAPS (F0semitoneFrom27.5Hz).
SEMITONE_REFERENCE_HZ = 27.5
F0_SCALES = ("hz", "log", "semitone")
WEIGHTINGS = ("A", "none")


@dataclasses.dataclass(frozen=True)
class PitchConfig:
    sample_rate: int = DEFAULT_SAMPLE_RATE
    hop: int = 160
    #: Praat's defaults, wide enough for emotional speech: shouted anger and
    #: fear of female speakers reach 500 Hz, creaky sad speech drops below 80.
    floor_hz: float = 75.0
    ceiling_hz: float = 600.0
    #: Praat's voicing threshold: a frame with a weaker autocorrelation peak is unvoiced.
    voicing_threshold: float = 0.45
    #: Praat's silence threshold, relative to the sound's global peak.
    silence_threshold: float = 0.03
    scale: str = "hz"
    #: Moving average over voiced frames (openSMILE's noZeroSma); 0 or 1: none.
    smooth_frames: int = 0


class Pitch(Feature):
    """F0 and voicing strength on the shared grid, shape ``(2, frames)``."""

    family = "pitch"
    Config = PitchConfig

    def validate(self) -> None:
        c = self.config
        if not 0 < c.floor_hz < c.ceiling_hz:
            raise ValueError(f"pitch: need 0 < floor_hz < ceiling_hz, got {c.floor_hz}, {c.ceiling_hz}")
        if c.floor_hz <= SEMITONE_REFERENCE_HZ:
            raise ValueError(f"pitch: floor_hz must exceed {SEMITONE_REFERENCE_HZ} Hz")
        if c.ceiling_hz >= c.sample_rate / 2:
            raise ValueError("pitch: ceiling_hz must be below the Nyquist frequency")
        if c.scale not in F0_SCALES:
            raise ValueError(f"pitch: scale must be one of {F0_SCALES}, got {c.scale!r}")
        if c.hop < 1 or c.smooth_frames < 0:
            raise ValueError("pitch: hop must be positive and smooth_frames not negative")
        if c.smooth_frames > 1 and c.smooth_frames % 2 == 0:
            raise ValueError("pitch: smooth_frames must be odd, so the window is centred")

    def compute(self, signal: np.ndarray) -> np.ndarray:
        c = self.config
        n_frames = self.n_frames(signal.size)
        times, f0, strength = praat_pitch(signal, c)
        grid_times = np.arange(n_frames) * (c.hop / c.sample_rate)
        f0, strength = sample_contour(times, f0, strength, grid_times)
        f0 = to_scale(f0, c.scale)
        if c.smooth_frames > 1:
            f0 = smooth_voiced(f0, c.smooth_frames)
        return np.stack([f0, strength]).astype(np.float32)


def praat_pitch(signal: np.ndarray, config: PitchConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Praat's frame times, F0 (0 unvoiced) and strength for a signal.

    The signal is padded with zeros by half Praat's analysis window plus one
    hop on each side, and placed so that time 0 is its first real sample:
    Praat's frames then reach beyond both ends of the shared grid.
    """
    rate = config.sample_rate
    window_s = 3.0 / config.floor_hz  # Praat's AC window: three periods of the floor
    pad = math.ceil(window_s / 2 * rate) + config.hop
    padded = np.pad(signal.astype(np.float64), pad)
    sound = parselmouth.Sound(padded, sampling_frequency=rate, start_time=-pad / rate)
    pitch = sound.to_pitch_ac(
        time_step=config.hop / rate,
        pitch_floor=config.floor_hz,
        pitch_ceiling=config.ceiling_hz,
        voicing_threshold=config.voicing_threshold,
        silence_threshold=config.silence_threshold,
    )
    selected = pitch.selected_array
    return np.asarray(pitch.xs()), selected["frequency"], selected["strength"]


def sample_contour(
    times: np.ndarray, f0: np.ndarray, strength: np.ndarray, at: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """F0 and strength of a Praat contour (evenly spaced ``times``) at times ``at``.

    Linear interpolation between two voiced neighbours, the nearer frame's
    values otherwise; times outside the contour are unvoiced.
    """
    step = times[1] - times[0] if times.size > 1 else 1.0
    pos = (at - times[0]) / step
    lo = np.floor(pos).astype(np.int64)
    frac = pos - lo
    inside = (lo >= 0) & (lo < times.size - 1)
    lo = np.clip(lo, 0, max(times.size - 2, 0))
    hi = np.minimum(lo + 1, times.size - 1)
    nearest = np.where(frac < 0.5, lo, hi)
    both_voiced = (f0[lo] > 0) & (f0[hi] > 0)

    def blend(values: np.ndarray) -> np.ndarray:
        mixed = (1 - frac) * values[lo] + frac * values[hi]
        return np.where(inside, np.where(both_voiced, mixed, values[nearest]), 0.0)

    return blend(f0), blend(strength)


def to_scale(f0_hz: np.ndarray, scale: str) -> np.ndarray:
    """F0 in Hz to ``scale``, keeping 0 for unvoiced frames."""
    if scale == "hz":
        return f0_hz
    voiced = f0_hz > 0
    safe = np.where(voiced, f0_hz, 1.0)
    scaled = np.log(safe) if scale == "log" else 12 * np.log2(safe / SEMITONE_REFERENCE_HZ)
    return np.where(voiced, scaled, 0.0)


def smooth_voiced(contour: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over non-zero frames only; zeros stay zero (openSMILE noZeroSma)."""
    voiced = contour != 0
    kernel = np.ones(width)
    sums = np.convolve(np.where(voiced, contour, 0.0), kernel, mode="same")
    counts = np.convolve(voiced.astype(np.float64), kernel, mode="same")
    return np.where(voiced, sums / np.maximum(counts, 1), 0.0)


@dataclasses.dataclass(frozen=True)
class LoudnessConfig:
    sample_rate: int = DEFAULT_SAMPLE_RATE
    hop: int = 160
    win_length: int = 400  # 25 ms
    n_fft: int = 512
    window: str = "hann"
    weighting: str = "A"
    #: Level given to silent frames, in dB re a mean square of 1.
    floor_db: float = -100.0


class Loudness(Feature):
    """Frame level in dB (A-weighted by default) on the shared grid, shape ``(1, frames)``."""

    family = "loudness"
    Config = LoudnessConfig

    def validate(self) -> None:
        c = self.config
        if c.weighting not in WEIGHTINGS:
            raise ValueError(f"loudness: weighting must be one of {WEIGHTINGS}, got {c.weighting!r}")
        if not 0 < c.win_length <= c.n_fft or c.n_fft % 2:
            raise ValueError("loudness: need 0 < win_length <= n_fft and an even n_fft")
        if c.hop < 1:
            raise ValueError("loudness: hop must be positive")

    def compute(self, signal: np.ndarray) -> np.ndarray:
        c = self.config
        half = c.n_fft // 2
        padded = np.pad(signal, half)
        frames = np.lib.stride_tricks.sliding_window_view(padded, c.n_fft)[:: c.hop]
        window = np.zeros(c.n_fft, dtype=np.float32)
        start = (c.n_fft - c.win_length) // 2  # centred in the frame, as librosa pads it
        window[start : start + c.win_length] = scipy.signal.get_window(c.window, c.win_length)
        energy_norm = float(np.sum(window.astype(np.float64) ** 2))
        if c.weighting == "none":
            mean_square = np.sum((frames * window) ** 2, axis=1, dtype=np.float64) / energy_norm
        else:
            power = np.abs(scipy.fft.rfft(frames * window, axis=1)) ** 2
            weights = spectrum_weights(c.n_fft, c.sample_rate)
            # Parseval: the one-sided spectrum counts every bin but DC and Nyquist twice.
            mean_square = power @ weights / (c.n_fft * energy_norm)
        floor = 10.0 ** (c.floor_db / 10)
        return (10 * np.log10(np.maximum(mean_square, floor)))[np.newaxis].astype(np.float32)


def a_weighting_gain(freqs: np.ndarray) -> np.ndarray:
    """IEC 61672-1 A-weighting as a power gain (1 at 1 kHz, 0 at DC)."""
    f2 = np.asarray(freqs, dtype=np.float64) ** 2
    c1, c2, c3, c4 = 20.598997**2, 107.65265**2, 737.86223**2, 12194.217**2
    amplitude = c4 * f2**2 / ((f2 + c1) * np.sqrt((f2 + c2) * (f2 + c3)) * (f2 + c4))
    return 10 ** 0.2 * amplitude**2  # the +2.00 dB that normalises 1 kHz to 0 dB


def spectrum_weights(n_fft: int, sample_rate: int) -> np.ndarray:
    """A-weighting power gains per rfft bin, doubled for the bins the one-sided spectrum folds."""
    gains = a_weighting_gain(np.fft.rfftfreq(n_fft, 1 / sample_rate))
    gains[1:-1] *= 2
    return gains


PRESETS = (
    Preset(
        "pitch",
        Pitch(),
        "serkit",
        "F0 (Hz, 0 unvoiced) and voicing strength, Praat autocorrelation, 75-600 Hz, 10 ms grid",
    ),
    Preset(
        "pitch-seed003",
        Pitch(smooth_frames=15),
        "seed 003, section 3.3",
        "F0 and voicing smoothed over voiced frames with a 15-frame moving average, 10 ms grid",
    ),
    Preset(
        "loudness",
        Loudness(),
        "serkit (seed 003 relates ASR activations to loudness)",
        "A-weighted frame level in dB, Hann 25 ms window, 10 ms grid",
    ),
)

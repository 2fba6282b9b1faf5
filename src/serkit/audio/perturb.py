"""Perturbing a waveform: a gain in dB and a tempo factor that keeps the pitch (seed 003).

Seed 003 (Lakomkin et al.) trains with tempo (0.85-1.15) and gain (-3..+6 dB) changes.  Both
training's fresh draws each epoch (:mod:`serkit.training.augment`) and the augmented copies
computed once as features (:mod:`serkit.features.augmented`) perturb signals here.  Tempo uses
librosa's phase vocoder (``librosa.effects.time_stretch``), which changes duration and keeps
pitch; its frame is about 32 ms, a speech-sized window, rather than librosa's music-sized default.
"""

from __future__ import annotations

import math

import librosa
import numpy as np

TEMPO_FRAME_S = 0.032
"""Phase-vocoder frame for tempo changes, in seconds (512 samples at 16 kHz)."""

Span = tuple[float, float]


def perturb(signal: np.ndarray, sample_rate: int, gain_db: Span | None, tempo: Span | None,
            rng: np.random.Generator) -> np.ndarray:
    """``signal`` with a tempo and a gain drawn uniformly from their spans (None: off), as float32.

    Both values are drawn whichever is enabled, so turning one on or off does not change the
    other's draws.  A gain may push samples past full scale; they are not clipped, since features
    are computed from floats.
    """
    factor = rng.uniform(*tempo) if tempo else 1.0
    db = rng.uniform(*gain_db) if gain_db else 0.0
    out = np.asarray(signal, dtype=np.float32)
    if tempo and factor != 1.0:
        out = librosa.effects.time_stretch(out, rate=factor, n_fft=tempo_n_fft(sample_rate))
    if gain_db:
        out = out * np.float32(10.0 ** (db / 20.0))
    return out.astype(np.float32, copy=False)


def tempo_n_fft(sample_rate: int) -> int:
    """Power of two closest to :data:`TEMPO_FRAME_S` at ``sample_rate``."""
    return 2 ** round(math.log2(TEMPO_FRAME_S * sample_rate))

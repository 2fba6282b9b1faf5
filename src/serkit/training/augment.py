"""Augmentation: gain and tempo on waveforms, SpecAugment-style masks on features.

Both draw from a generator the engine hands them, keyed by the run's seed and
the position in training (:func:`serkit.training.data.keyed_rng`), so a run
augments identically when repeated or resumed.

* :func:`augment_waveform` (seed 003): a uniform gain in dB and a uniform
  tempo factor, applied before feature extraction.  Tempo uses librosa's phase
  vocoder (``librosa.effects.time_stretch``), which changes duration and keeps
  pitch; its frame is about 32 ms, a speech-sized window, rather than
  librosa's music-sized default.
* :func:`spec_augment`: time and frequency masks on a padded batch, drawn
  inside each item's valid frames so that padding is never touched.
"""

from __future__ import annotations

import math

import librosa
import numpy as np
import torch
from torch import Tensor

from serkit.training.config import SpecAugmentConfig, WaveformAugmentConfig

TEMPO_FRAME_S = 0.032
"""Phase-vocoder frame for tempo changes, in seconds (512 samples at 16 kHz)."""


def augment_waveform(
    signal: np.ndarray, sample_rate: int, config: WaveformAugmentConfig, rng: np.random.Generator
) -> np.ndarray:
    """``signal`` with a drawn tempo and gain applied, as float32.

    Both values are drawn whichever is enabled, so turning one on or off does
    not change the other's draws.
    """
    tempo = rng.uniform(*config.tempo) if config.tempo else 1.0
    gain_db = rng.uniform(*config.gain_db) if config.gain_db else 0.0
    out = np.asarray(signal, dtype=np.float32)
    if config.tempo and tempo != 1.0:
        out = librosa.effects.time_stretch(out, rate=tempo, n_fft=tempo_n_fft(sample_rate))
    if config.gain_db:
        out = out * np.float32(10.0 ** (gain_db / 20.0))
    return out.astype(np.float32, copy=False)


def tempo_n_fft(sample_rate: int) -> int:
    """Power of two closest to :data:`TEMPO_FRAME_S` at ``sample_rate``."""
    return 2 ** round(math.log2(TEMPO_FRAME_S * sample_rate))


def spec_augment(x: Tensor, lengths: Tensor, config: SpecAugmentConfig, rng: np.random.Generator) -> Tensor:
    """``x`` ``(batch, dims, frames)`` with time and frequency masks set to ``config.fill``.

    Item ``i`` gets masks only within its first ``lengths[i]`` frames: a time
    mask is at most ``max_time_fraction`` of that length, and a frequency band
    covers the valid frames only.  Returns a new tensor.
    """
    batch, dims, frames = x.shape
    mask = np.zeros((batch, dims, frames), dtype=bool)
    for i, length in enumerate(lengths.tolist()):
        length = min(length, frames)
        widest = min(config.time_width, int(config.max_time_fraction * length))
        for _ in range(config.time_masks):
            width = int(rng.integers(0, widest + 1))
            start = int(rng.integers(0, length - width + 1))
            mask[i, :, start : start + width] = True
        for _ in range(config.freq_masks):
            width = int(rng.integers(0, min(config.freq_width, dims) + 1))
            start = int(rng.integers(0, dims - width + 1))
            mask[i, start : start + width, :length] = True
    return x.masked_fill(torch.from_numpy(mask).to(x.device), config.fill)

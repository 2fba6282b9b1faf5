"""Whisper's log-mel front end: 80 bands, 25 ms Hann window, 10 ms hop, log10 scaled.

What OpenAI's ``whisper.audio.log_mel_spectrogram`` computes, so that the
encoder sees exactly the input it was trained on:

* a periodic Hann window of 400 samples (25 ms at 16 kHz), a 400-point FFT,
  hop 160 (10 ms), centred frames with reflect padding, the last frame dropped
  (``n // 160`` frames for ``n`` samples);
* power spectrum times librosa's Slaney mel filters (80 bands, 0-8 kHz);
* ``log10`` clamped below at 1e-10, floored at 8 (decades) below the
  signal's maximum, then ``(x + 4) / 4``.

Whisper reads 30 s windows: :func:`pad_window` pads a chunk with zeros to
30 s before the spectrogram is taken, as Whisper does, so the floor is set by
the real audio and the padding is silence, not missing data.
"""

from __future__ import annotations

import functools

import librosa
import numpy as np
import torch

SAMPLE_RATE = 16_000
N_FFT = 400
HOP = 160
N_MELS = 80
#: One encoder window: 30 s, 3000 mel frames, 1500 encoder frames.
WINDOW_SAMPLES = 30 * SAMPLE_RATE
WINDOW_FRAMES = WINDOW_SAMPLES // HOP


@functools.lru_cache(maxsize=4)
def mel_filters(n_mels: int = N_MELS) -> torch.Tensor:
    """Slaney-normalised mel filters ``(n_mels, N_FFT // 2 + 1)``, as Whisper ships them."""
    return torch.from_numpy(librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=n_mels))


def log_mel(signals: torch.Tensor | np.ndarray, n_mels: int = N_MELS) -> torch.Tensor:
    """Whisper log-mel of ``(samples,)`` or ``(batch, samples)`` audio at 16 kHz.

    Returns ``(n_mels, samples // 160)`` or ``(batch, n_mels, samples // 160)``,
    float32.  The floor (8 decades below the maximum) is taken per item.
    """
    x = torch.as_tensor(signals, dtype=torch.float32)
    window = torch.hann_window(N_FFT)
    spec = torch.stft(x, N_FFT, HOP, window=window, center=True, pad_mode="reflect",
                      return_complex=True)
    power = spec[..., :-1].abs() ** 2
    mel = mel_filters(n_mels) @ power
    log = torch.clamp(mel, min=1e-10).log10()
    peak = log.amax(dim=(-2, -1), keepdim=True)
    return (torch.maximum(log, peak - 8.0) + 4.0) / 4.0


def pad_window(signal: np.ndarray, samples: int = WINDOW_SAMPLES) -> np.ndarray:
    """``signal`` followed by zeros up to ``samples`` (it must not be longer)."""
    if len(signal) > samples:
        raise ValueError(f"a chunk of {len(signal)} samples does not fit a {samples}-sample window")
    return np.pad(signal, (0, samples - len(signal)))

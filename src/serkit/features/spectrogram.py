"""Magnitude and power spectrograms on the shared frame grid (seeds 000 and 003).

Rows are the ``n_fft // 2 + 1`` FFT bins from 0 Hz to Nyquist, columns the
frames of :mod:`serkit.features.base`.  ``power`` 1 gives the magnitude
``|X|``, 2 the power ``|X|**2``; ``log`` optionally compresses it (decibels or
natural log, see :func:`serkit.features.stft.compress`).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from serkit.features.base import Feature, Preset, StftConfig
from serkit.features.stft import REVISION, ShortTimeSpectrum, check_log, compress, default_amin


@dataclasses.dataclass(frozen=True)
class SpectrogramConfig(StftConfig):
    win_length: int = 256
    n_fft: int = 256
    #: 1: magnitude, 2: power.
    power: float = 1.0
    #: "none", "db" or "ln".
    log: str = "none"
    #: Floor before the log; None: 1e-10 for power, 1e-5 for magnitude (librosa's).
    amin: float | None = None
    #: With log="db": clip this many dB below the utterance's peak.
    top_db: float | None = None
    pad_mode: str = "constant"


class Spectrogram(Feature):
    """``|STFT|**power`` (optionally log-compressed), ``(n_fft // 2 + 1, frames)``."""

    family = "spectrogram"
    revision = REVISION
    Config = SpectrogramConfig

    def validate(self) -> None:
        check_log(self.config.log, self.config.top_db)
        self._stft  # noqa: B018  (building it checks window, FFT size, hop and padding)

    @functools.cached_property
    def _stft(self) -> ShortTimeSpectrum:
        return ShortTimeSpectrum.from_config(self.config)

    @property
    def dims(self) -> int:
        return self.config.n_fft // 2 + 1

    def compute(self, signal: np.ndarray) -> np.ndarray:
        c = self.config
        amin = default_amin(c.power) if c.amin is None else c.amin
        return compress(self._stft(signal), c.log, c.power, amin, c.top_db)


PRESETS = (
    Preset(
        "spectrogram-seed000",
        Spectrogram(),
        "seed 000, section III-B",
        "magnitude spectrogram, 129 bins, Hann window, 10 ms hop, zero-padded to 251 frames. The paper's "
        "'20 ms' window cannot give its 129 bins at 16 kHz (that takes a 256-point FFT), so the window is "
        "the FFT's 256 samples (16 ms)",
        input_frames=251,
    ),
    Preset(
        "spectrogram-seed003",
        Spectrogram(win_length=320, n_fft=320, window="hamming", power=2.0),
        "seed 003, section 3.1.1",
        "power spectrogram, Hamming 20 ms window, 10 ms hop, 320-point FFT: 161 bins (linear; log=db compresses)",
    ),
)

"""Seed 002's high-resolution mu-law spectrogram (section 2.1).

40 ms Hamming windows every 10 ms, a 1600-point DFT (a 10 Hz grid at 16 kHz)
kept from 0 to 4 kHz (bins ``k`` with ``fmin <= k * sr / n_fft < fmax``: the
paper's 400 rows), rescaled linearly to [-1, 1] and passed through
``F(x) = sgn(x) ln(1 + mu |x|) / ln(1 + mu)`` with ``mu = 255`` (the paper's
equation 1).

What the paper leaves open, and what this does:

* **magnitude or power**: magnitude (``power=1``), the plain "spectrogram";
  no log before the mu-law, which the paper presents as the alternative to a
  log spectrogram.
* **range of the rescaling**: the minimum and maximum, mapped to -1 and 1,
  of the matrix named by ``rescale`` (a constant one maps to 0):

  - ``utterance`` (the default, and every preset before the field existed,
    so their hashes, caches and models hold): the whole array computed, an
    utterance's; the 2 s windows are then cut from the compressed array.
  - ``segment`` (``mulaw-seed002-segment``, ``mulaw-seed002-800-segment``): the
    paper's rule, each 2 s segment's matrix.  The feature then outputs the
    band-limited magnitude, and :attr:`MuLawSpectrogram.window_transform`
    (min-max then mu-law, :func:`compress`) is applied to every model window
    where windows are cut: :func:`serkit.features.shaping.window_transform`
    hands it to training, cross-validation and ``serkit predict`` alike (the
    ONNX graph takes the transformed windows, as the PyTorch model does).  A
    window is its true frames (a short utterance's only window is the whole
    utterance, unpadded), after any normalisation (seed 002's recipes use
    none).  Only a recipe with ``segments:`` cuts windows; any other is
    refused, since its model would read the raw magnitude.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import numpy as np

from serkit.configs import added_later
from serkit.features.base import Feature, Preset, StftConfig
from serkit.features.stft import ShortTimeSpectrum


@dataclasses.dataclass(frozen=True)
class MuLawConfig(StftConfig):
    win_length: int = 640
    n_fft: int = 1600
    window: str = "hamming"
    fmin: float = 0.0
    fmax: float = 4000.0
    power: float = 1.0
    mu: float = 255.0
    pad_mode: str = "constant"
    #: Whose minimum and maximum the rescaling uses: the ``utterance``'s or each model window's
    #: (``segment``, the paper's; see the module docstring).
    rescale: str = added_later("utterance")


#: The values of ``MuLawConfig.rescale``.
RESCALES = ("utterance", "segment")


class MuLawSpectrogram(Feature):
    """Band-limited spectrogram, min-max rescaled to [-1, 1], mu-law compressed."""

    family = "mulaw"
    Config = MuLawConfig

    def validate(self) -> None:
        c = self.config
        if not 0 <= c.fmin < c.fmax <= c.sample_rate / 2:
            raise ValueError(f"need 0 <= fmin < fmax <= Nyquist, not fmin={c.fmin}, fmax={c.fmax}")
        if c.mu <= 0:
            raise ValueError(f"mu must be positive, not {c.mu}")
        if c.rescale not in RESCALES:
            raise ValueError(f"rescale must be one of {', '.join(RESCALES)}, not {c.rescale!r}")
        self._stft  # noqa: B018  (building it checks window, FFT size, hop and padding)

    @functools.cached_property
    def _stft(self) -> ShortTimeSpectrum:
        return ShortTimeSpectrum.from_config(self.config)

    @property
    def bins(self) -> slice:
        """FFT bins kept: ``fmin <= k * sample_rate / n_fft < fmax``."""
        c = self.config
        return slice(math.ceil(c.fmin * c.n_fft / c.sample_rate), math.ceil(c.fmax * c.n_fft / c.sample_rate))

    @property
    def dims(self) -> int:
        return self.bins.stop - self.bins.start

    def compute(self, signal: np.ndarray) -> np.ndarray:
        magnitude = self._stft(signal)[self.bins]
        if self.config.rescale == "segment":  # compressed window by window, where windows are cut
            return np.ascontiguousarray(magnitude, dtype=np.float32)
        return compress(magnitude, self.config.mu)

    @property
    def window_transform(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """What each model window of the output goes through (``rescale: segment``), else None."""
        if self.config.rescale != "segment":
            return None
        return functools.partial(compress, mu=self.config.mu)


def compress(x: np.ndarray, mu: float) -> np.ndarray:
    """The paper's normalisation of one matrix: :func:`rescale` to [-1, 1], then :func:`mu_law`."""
    return mu_law(rescale(x), mu)


def rescale(x: np.ndarray) -> np.ndarray:
    """Map ``x`` linearly onto [-1, 1], its minimum to -1 and maximum to 1 (a constant to 0)."""
    low, high = float(x.min()), float(x.max())
    if high == low:
        return np.zeros_like(x)
    return ((x - low) * np.float32(2.0 / (high - low)) - 1.0).astype(np.float32, copy=False)


def mu_law(x: np.ndarray, mu: float) -> np.ndarray:
    """Seed 002's equation 1: ``sgn(x) ln(1 + mu |x|) / ln(1 + mu)`` for ``x`` in [-1, 1]."""
    return (np.sign(x) * np.log1p(np.float32(mu) * np.abs(x)) / np.float32(math.log1p(mu))).astype(np.float32)


PRESETS = (
    Preset(
        "mulaw-seed002",
        MuLawSpectrogram(),
        "seed 002, section 2.1",
        "magnitude spectrogram, Hamming 40 ms window, 10 ms hop, 1600-point DFT (10 Hz grid), 0-4 kHz "
        "(400 rows), min-max rescaled to [-1, 1], mu-law with mu = 255; 2 s segments of 200 frames",
        input_frames=200,
    ),
    Preset(
        "mulaw-seed002-800",
        MuLawSpectrogram(n_fft=800),
        "serkit, a cheaper variant of seed 002",
        "as mulaw-seed002 with an 800-point DFT (20 Hz grid): 200 rows instead of 400, half the input "
        "and the first layer's cost, the same 40 ms window",
        input_frames=200,
    ),
    Preset(
        "mulaw-seed002-segment",
        MuLawSpectrogram(rescale="segment"),
        "seed 002, section 2.1",
        "as mulaw-seed002, min-max rescaled and mu-law compressed per 2 s segment as the paper does: "
        "the feature is the band-limited magnitude and each model window is compressed where it is cut "
        "(needs a recipe with segments)",
        input_frames=200,
    ),
    Preset(
        "mulaw-seed002-800-segment",
        MuLawSpectrogram(n_fft=800, rescale="segment"),
        "serkit, a cheaper variant of seed 002",
        "as mulaw-seed002-segment with an 800-point DFT (20 Hz grid): 200 rows instead of 400",
        input_frames=200,
    ),
)

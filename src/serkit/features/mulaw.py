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
* **how the matrix enters [-1, 1]** (``scale``): ``minmax``, as the paper's words
  read, maps its minimum to -1 and maximum to 1 (a constant matrix to 0).  A
  magnitude's near-silent bins then sit at -1, where the mu-law flattens them:
  on EMO-DB the median value is -0.999 and the spread 0.05, so little but the
  loudest peaks is left to see.  ``peak`` divides by the maximum instead (onto
  [0, 1], within the paper's range), so that silence sits at 0, where the
  mu-law spreads small values apart as a log would, the paper's stated aim
  ("decrease the difference between the maximum and minimum value").  A
  declared variant (``mulaw-seed002-800:scale=peak``); the presets keep ``minmax``.
* **whose minimum and maximum** (``rescale``): the matrix named by it:

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
    #: How the matrix is mapped into [-1, 1] before the mu-law: ``minmax`` (the paper's words, its
    #: minimum to -1) or ``peak`` (divided by its maximum: a magnitude onto [0, 1], silence at 0, where
    #: the mu-law spreads small values apart as a log would).  See the module docstring.
    scale: str = added_later("minmax")


#: The values of ``MuLawConfig.rescale`` and ``MuLawConfig.scale``.
RESCALES = ("utterance", "segment")
SCALES = ("minmax", "peak")


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
        if c.scale not in SCALES:
            raise ValueError(f"scale must be one of {', '.join(SCALES)}, not {c.scale!r}")
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
        return compress(magnitude, self.config.mu, self.config.scale)

    @property
    def window_transform(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """What each model window of the output goes through (``rescale: segment``), else None."""
        if self.config.rescale != "segment":
            return None
        return functools.partial(compress, mu=self.config.mu, scale=self.config.scale)


def compress(x: np.ndarray, mu: float, scale: str = "minmax") -> np.ndarray:
    """The paper's normalisation of one matrix: into [-1, 1] (:func:`rescale`, or :func:`peak_scale`
    with ``scale="peak"``), then :func:`mu_law`."""
    return mu_law(peak_scale(x) if scale == "peak" else rescale(x), mu)


def peak_scale(x: np.ndarray) -> np.ndarray:
    """Divide a non-negative ``x`` by its maximum, onto [0, 1] (all zeros stay zeros)."""
    high = float(x.max())
    return np.zeros_like(x) if high <= 0 else (x * np.float32(1.0 / high)).astype(np.float32, copy=False)


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

"""MFCC with deltas (seeds 000 and 003), as librosa computes them.

The cepstrum is librosa's ``feature.mfcc``: the orthonormal DCT-II of the dB
log-mel spectrogram (:class:`~serkit.features.filterbank.LogMel`), its first
``n_mfcc`` coefficients, optionally liftered.  Deltas are librosa's
``feature.delta`` (``mode="interp"``): a Savitzky-Golay derivative of order
``d`` over ``delta_width`` frames, i.e. the ``d``-th derivative of the
least-squares polynomial of degree ``d`` fitted around each frame, and for the
first and last ``delta_width // 2`` frames, of the polynomial fitted to the
first or last ``delta_width`` frames.  So the delta-delta is the second
derivative of a local parabola, not the delta of the delta.  Rows:
``[c_0 .. c_{n-1}, deltas, delta-deltas]``.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numba
import numpy as np

from serkit.features.base import Feature, Preset
from serkit.features.filterbank import LogMel, LogMelConfig
from serkit.features.stft import REVISION


@dataclasses.dataclass(frozen=True)
class MFCCConfig(LogMelConfig):
    """The log-mel spectrogram's settings (librosa's MFCC defaults: Hann, dB) and the cepstrum's."""

    win_length: int = 320
    window: str = "hann"
    n_mfcc: int = 13
    #: Sinusoidal liftering as librosa's (0: none).
    lifter: float = 0.0
    #: 0: cepstrum only, 1: with deltas, 2: with deltas and delta-deltas.
    deltas: int = 2
    delta_width: int = 9


class MFCC(Feature):
    """MFCC, with deltas and delta-deltas if asked, ``(n_mfcc * (1 + deltas), frames)``."""

    family = "mfcc"
    revision = REVISION
    Config = MFCCConfig

    def validate(self) -> None:
        c = self.config
        if not 1 <= c.n_mfcc <= c.n_mels:
            raise ValueError(f"n_mfcc must be within 1..n_mels={c.n_mels}, not {c.n_mfcc}")
        if c.deltas not in (0, 1, 2):
            raise ValueError(f"deltas must be 0, 1 or 2, not {c.deltas}")
        if c.delta_width < 3 or c.delta_width % 2 == 0:
            raise ValueError(f"delta_width must be odd and at least 3, not {c.delta_width}")
        if c.lifter < 0:
            raise ValueError(f"lifter must be non-negative, not {c.lifter}")
        if c.log == "none":
            raise ValueError("a cepstrum needs a log mel spectrogram: log must be 'db' or 'ln'")
        self._logmel  # noqa: B018  (checks the spectral settings)

    @functools.cached_property
    def _logmel(self) -> LogMel:
        fields = {f.name for f in dataclasses.fields(LogMelConfig)}
        return LogMel(LogMelConfig(**{k: v for k, v in dataclasses.asdict(self.config).items() if k in fields}))

    @functools.cached_property
    def _cepstrum(self) -> np.ndarray:
        """DCT-II (orthonormal) rows times the lifter: ``(n_mfcc, n_mels)``."""
        c = self.config
        return (dct_matrix(c.n_mfcc, c.n_mels) * lifter_weights(c.n_mfcc, c.lifter)[:, None]).astype(np.float32)

    @functools.cached_property
    def _delta_coefficients(self) -> list[np.ndarray]:
        c = self.config
        return [savgol_coefficients(c.delta_width, order) for order in range(1, c.deltas + 1)]

    @property
    def dims(self) -> int:
        return self.config.n_mfcc * (1 + self.config.deltas)

    @property
    def min_samples(self) -> int:
        # Deltas fit a polynomial to delta_width frames, so there must be that many.
        return (self.config.delta_width - 1) * self.config.hop if self.config.deltas else 1

    def compute(self, signal: np.ndarray) -> np.ndarray:
        logmel = self._logmel.compute(signal)
        n = self.config.n_mfcc
        out = np.empty((self.dims, logmel.shape[1]), np.float32)
        cepstrum = np.matmul(self._cepstrum, logmel, out=out[:n])
        for order, coefficients in enumerate(self._delta_coefficients, start=1):
            savgol_derivative(cepstrum, coefficients, out=out[order * n : (order + 1) * n])
        return out


def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """The first ``n_out`` rows of the orthonormal DCT-II of size ``n_in`` (scipy's ``norm="ortho"``)."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    basis[0] /= np.sqrt(2.0)
    return basis


def lifter_weights(n_mfcc: int, lifter: float) -> np.ndarray:
    """librosa's liftering: ``1 + (L / 2) sin(pi (n + 1) / L)``, ones for ``L = 0``."""
    if lifter == 0:
        return np.ones(n_mfcc)
    return 1 + (lifter / 2) * np.sin(np.pi * np.arange(1, n_mfcc + 1) / lifter)


def savgol_coefficients(width: int, order: int) -> np.ndarray:
    """Weights over ``width`` consecutive samples giving the ``order``-th derivative of the
    degree-``order`` least-squares polynomial through them (unit spacing).

    That derivative is a constant (``order!`` times the top coefficient), the
    same at every position of the fit: so it is the Savitzky-Golay filter in the
    middle, and scipy's ``mode="interp"`` value at the edges too.
    """
    t = np.arange(width, dtype=np.float64)
    vander = t[:, None] ** np.arange(order + 1)[None, :]
    return math.factorial(order) * np.linalg.pinv(vander)[order]


def savgol_derivative(data: np.ndarray, coefficients: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``coefficients`` (see :func:`savgol_coefficients`) slid along the frames of ``data`` (dims, frames).

    Frames closer than ``width // 2`` to an edge take the value of the first or
    last full window (the fit over the first or last ``width`` frames).
    """
    out = np.empty(data.shape, np.float32) if out is None else out
    _slide(np.ascontiguousarray(data, dtype=np.float32), coefficients.astype(np.float32), out)
    return out


@numba.njit(fastmath=True, nogil=True, cache=True)
def _slide(data, weights, out):  # pragma: no cover  (compiled; numpy's per-call cost dominated at these sizes)
    dims, frames = data.shape
    width = weights.shape[0]
    half = width // 2
    inner = frames - width + 1
    for d in range(dims):
        row = data[d]
        dst = out[d]
        for f in range(inner):
            acc = np.float32(0.0)
            for t in range(width):
                acc += weights[t] * row[f + t]
            dst[f + half] = acc
        for f in range(half):
            dst[f] = dst[half]
            dst[frames - 1 - f] = dst[frames - 1 - half]


PRESETS = (
    Preset(
        "mfcc-seed000",
        MFCC(),
        "seed 000, section III-B",
        "13 MFCC with deltas and delta-deltas (39 rows), Hann 20 ms window, 10 ms hop, 512-point FFT, "
        "40 mel bands; the paper gives no coefficient or band count",
    ),
    Preset(
        "mfcc-seed003",
        MFCC(window="hamming", deltas=1),
        "seed 003, section 3.3",
        "13 MFCC and their deltas (26 rows), Hamming 20 ms window, 10 ms hop, 512-point FFT, 40 mel bands",
    ),
)

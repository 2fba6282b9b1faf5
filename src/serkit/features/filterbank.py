"""Log mel filterbank energies: librosa-style log-mel (seeds 000, 001) and Kaldi-style fbank (seed 004).

:class:`LogMel` is ``librosa.feature.melspectrogram`` followed by
``power_to_db`` (or ``amplitude_to_db`` for a magnitude spectrogram), with
librosa's mel filters (Slaney's scale and area normalisation by default).

:class:`KaldiFbank` reproduces Kaldi's ``compute-fbank-feats`` (and
kaldi-native-fbank) with dither off, for determinism: each frame of
``win_length`` samples has its mean removed, is pre-emphasised and windowed
(Povey's window by default), zero-padded to ``n_fft`` (Kaldi rounds the frame
to a power of two), and its power spectrum is summed through Kaldi's
triangular mel filters (``1127 ln(1 + f / 700)``, no area normalisation,
``low_freq`` 20 Hz, the Nyquist bin unused), then ``ln(max(energy, FLT_EPSILON))``.
Two deliberate departures put it on the shared grid: frame ``i`` is centred on
sample ``i * hop`` (Kaldi's, with ``snip_edges=false``, on ``i * hop + hop / 2``)
and there are ``1 + n // hop`` frames.  At the edges the signal is mirrored
(``pad_mode="symmetric"``), as Kaldi does.  The signal is scaled by 2**15
first because Kaldi reads 16-bit samples as integers, so energies (and the
floor) match Kaldi's own numbers.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from serkit.features.base import Feature, Preset, StftConfig
from serkit.features.stft import REVISION, FilterBank, ShortTimeSpectrum, check_log, compress, default_amin

KALDI_WINDOWS = ("povey", "hanning", "hamming", "sine", "rectangular", "blackman")
#: Kaldi's floor under the log energies, std::numeric_limits<float>::epsilon().
FLT_EPSILON = float(np.finfo(np.float32).eps)


@dataclasses.dataclass(frozen=True)
class LogMelConfig(StftConfig):
    window: str = "hamming"
    n_mels: int = 40
    fmin: float = 0.0
    #: None: Nyquist.
    fmax: float | None = None
    #: librosa.filters.mel: HTK's mel formula instead of Slaney's.
    htk: bool = False
    #: librosa.filters.mel: "slaney" (area normalisation) or None.
    norm: str | None = "slaney"
    #: Spectrum summed by the filters: 2 power, 1 magnitude.
    power: float = 2.0
    #: "db", "ln" or "none".
    log: str = "db"
    #: Floor before the log; None: 1e-10 for power, 1e-5 for magnitude (librosa's).
    amin: float | None = None
    top_db: float | None = None
    pad_mode: str = "constant"


class LogMel(Feature):
    """Log mel spectrogram as librosa computes it, ``(n_mels, frames)``."""

    family = "logmel"
    revision = REVISION
    Config = LogMelConfig

    def validate(self) -> None:
        c = self.config
        check_log(c.log, c.top_db)
        fmax = c.sample_rate / 2 if c.fmax is None else c.fmax
        if not 0 <= c.fmin < fmax <= c.sample_rate / 2:
            raise ValueError(f"need 0 <= fmin < fmax <= Nyquist, not fmin={c.fmin}, fmax={c.fmax}")
        if c.n_mels < 1:
            raise ValueError(f"n_mels must be positive, not {c.n_mels}")
        self._stft  # noqa: B018  (building it checks window, FFT size, hop and padding)

    @functools.cached_property
    def _stft(self) -> ShortTimeSpectrum:
        return ShortTimeSpectrum.from_config(self.config)

    @functools.cached_property
    def filterbank(self) -> FilterBank:
        # librosa is imported here, not at module level: it costs a second per fresh process.
        from librosa.filters import mel  # noqa: PLC0415

        c = self.config
        weights = mel(sr=c.sample_rate, n_fft=c.n_fft, n_mels=c.n_mels, fmin=c.fmin, fmax=c.fmax, htk=c.htk, norm=c.norm)
        return FilterBank(weights)

    @property
    def dims(self) -> int:
        return self.config.n_mels

    def compute(self, signal: np.ndarray) -> np.ndarray:
        c = self.config
        amin = default_amin(c.power) if c.amin is None else c.amin
        return compress(self._stft.banded(signal, self.filterbank), c.log, c.power, amin, c.top_db)


@dataclasses.dataclass(frozen=True)
class KaldiFbankConfig(StftConfig):
    """``win_length`` is Kaldi's frame_length (25 ms), ``n_fft`` its padded window (the frame
    length rounded up to a power of two)."""

    window: str = "povey"
    n_mels: int = 40
    low_freq: float = 20.0
    #: Kaldi's convention: > 0 absolute, <= 0 an offset from Nyquist.
    high_freq: float = 0.0
    preemphasis: float = 0.97
    remove_dc: bool = True
    #: Kaldi's use_power: 2 sums power, 1 magnitude.
    power: float = 2.0
    #: Multiplies the [-1, 1] signal; 2**15 gives Kaldi's 16-bit integer scale.
    scale: float = 32768.0
    #: Floor under the energies before the natural log.
    floor: float = FLT_EPSILON
    pad_mode: str = "symmetric"


class KaldiFbank(Feature):
    """Kaldi's log mel filterbank energies on the shared grid, ``(n_mels, frames)``."""

    family = "fbank"
    revision = REVISION
    Config = KaldiFbankConfig

    def validate(self) -> None:
        c = self.config
        if c.window not in KALDI_WINDOWS:
            raise ValueError(f"window must be one of {KALDI_WINDOWS}, not {c.window!r}")
        if not 0.0 <= c.preemphasis < 1.0:
            raise ValueError(f"preemphasis must be in [0, 1), not {c.preemphasis}")
        if c.floor <= 0:
            raise ValueError(f"floor must be positive, not {c.floor}")
        self.filterbank  # noqa: B018  (checks the band edges)
        self._stft  # noqa: B018

    @functools.cached_property
    def _stft(self) -> ShortTimeSpectrum:
        c = self.config
        return ShortTimeSpectrum(
            c.n_fft,
            c.hop,
            kaldi_window(c.window, c.win_length),
            power=c.power,
            pad_mode=c.pad_mode,
            remove_dc=c.remove_dc,
            preemphasis=c.preemphasis,
            scale=c.scale,
        )

    @functools.cached_property
    def filterbank(self) -> FilterBank:
        c = self.config
        return FilterBank(kaldi_mel_banks(c.n_mels, c.n_fft, c.sample_rate, c.low_freq, c.high_freq))

    @property
    def dims(self) -> int:
        return self.config.n_mels

    def compute(self, signal: np.ndarray) -> np.ndarray:
        return compress(self._stft.banded(signal, self.filterbank), "ln", self.config.power, self.config.floor, None)


def kaldi_window(name: str, length: int) -> np.ndarray:
    """Kaldi's frame windows, symmetric over ``length`` samples, float32."""
    if name not in KALDI_WINDOWS:
        raise ValueError(f"window must be one of {KALDI_WINDOWS}, not {name!r}")
    a = 2 * np.pi / max(length - 1, 1)
    i = np.arange(length)
    windows = {
        "hanning": lambda: 0.5 - 0.5 * np.cos(a * i),
        "sine": lambda: np.sin(0.5 * a * i),
        "hamming": lambda: 0.54 - 0.46 * np.cos(a * i),
        "povey": lambda: (0.5 - 0.5 * np.cos(a * i)) ** 0.85,
        "rectangular": lambda: np.ones(length),
        "blackman": lambda: 0.42 - 0.5 * np.cos(a * i) + 0.08 * np.cos(2 * a * i),
    }
    return windows[name]().astype(np.float32)


def kaldi_mel(freq: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(freq, dtype=np.float64) / 700.0)


def kaldi_mel_banks(n_mels: int, n_fft: int, sample_rate: int, low_freq: float, high_freq: float) -> np.ndarray:
    """Kaldi's ``MelBanks`` as a ``(n_mels, n_fft // 2 + 1)`` matrix (the Nyquist column is zero)."""
    nyquist = sample_rate / 2
    high = high_freq if high_freq > 0 else nyquist + high_freq
    if not 0 <= low_freq < high <= nyquist:
        raise ValueError(f"need 0 <= low_freq < high_freq <= Nyquist, not {low_freq} and {high_freq}")
    if n_mels < 3:
        raise ValueError(f"Kaldi needs at least 3 mel bins, not {n_mels}")
    mel_low, mel_high = kaldi_mel(low_freq), kaldi_mel(high)
    delta = (mel_high - mel_low) / (n_mels + 1)
    left = (mel_low + np.arange(n_mels) * delta)[:, None]
    centre, right = left + delta, left + 2 * delta
    mel = kaldi_mel(np.arange(n_fft // 2) * (sample_rate / n_fft))[None, :]
    rising = (mel - left) / (centre - left)
    falling = (right - mel) / (right - centre)
    weights = np.where((mel > left) & (mel < right), np.where(mel <= centre, rising, falling), 0.0)
    return np.pad(weights, ((0, 0), (0, 1))).astype(np.float32)


PRESETS = (
    Preset(
        "logmel-seed001",
        LogMel(),
        "seed 001, sections 2.1 and 2.2",
        "40 log mel bands (dB), Hamming 25 ms window, 10 ms hop, 512-point FFT",
    ),
    Preset(
        "logmel-seed000",
        LogMel(win_length=256, n_fft=256, window="hann", power=1.0),
        "seed 000, section III-B",
        "mel of seed 000's magnitude spectrogram (Hann 256-sample window = FFT, 10 ms hop), then dB; the paper "
        "gives no band count: 40 bands; zero-padded to 251 frames like its spectrogram",
        input_frames=251,
    ),
    Preset(
        "fbank-kaldi",
        KaldiFbank(),
        "seed 004, section 3 (Kaldi's defaults)",
        "Kaldi fbank, 40 bands: Povey window 25 ms, 10 ms hop, dither off, DC removal, pre-emphasis 0.97, "
        "512-point FFT, Kaldi mel scale from 20 Hz, natural log energies; frames on the shared grid",
    ),
)

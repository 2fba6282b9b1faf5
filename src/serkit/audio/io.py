"""Load audio files as checked, mono, float32 signals at the pipeline's rate.

soundfile (libsndfile) reads WAV, FLAC, OGG, AIFF and more, and recognises a
format by its header, so a file whose extension lies still loads.  soxr
resamples.  What neither library checks is checked here, and every failure is
an :class:`~serkit.errors.AudioError` naming the file and the reason.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from serkit.errors import AudioError

DEFAULT_SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header without decoding it."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def info(path: str | Path) -> AudioInfo:
    """Header facts of ``path``; raises :class:`AudioError` if it is not audio."""
    path = _existing(path)
    try:
        i = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(path, f"not a readable audio file ({_reason(e)})") from None
    return AudioInfo(str(path), int(i.samplerate), int(i.channels), int(i.frames), i.format)


def load_audio(
    path: str | Path,
    sample_rate: int | None = DEFAULT_SAMPLE_RATE,
    min_duration: float = 0.0,
) -> np.ndarray:
    """Read ``path`` as a mono float32 signal at ``sample_rate`` (None keeps the file's).

    Raises :class:`AudioError` when the file is missing, not audio, truncated,
    empty, holds NaN or infinite samples, or is shorter than ``min_duration``
    seconds.
    """
    path = _existing(path)
    _check_not_truncated(path)
    try:
        signal, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(path, f"not a readable audio file ({_reason(e)})") from None
    signal = to_mono(signal)
    check_signal(signal, rate, path=path, min_duration=min_duration)
    if sample_rate is not None and rate != sample_rate:
        signal = resample(signal, rate, sample_rate)
    return signal


def check_signal(
    signal: np.ndarray, sample_rate: int, path: str | Path | None = None, min_duration: float = 0.0
) -> None:
    """Raise :class:`AudioError` for a signal no feature can use."""
    if signal.size == 0:
        raise AudioError(path, "contains no samples")
    if not np.isfinite(signal).all():
        raise AudioError(path, "contains NaN or infinite samples")
    duration = signal.shape[-1] / sample_rate
    if duration < min_duration:
        raise AudioError(
            path, f"too short: {duration:.3f} s, the feature needs at least {min_duration:.3f} s"
        )


def to_mono(signal: np.ndarray) -> np.ndarray:
    """Average the channels of a (frames, channels) array into one float32 channel."""
    if signal.ndim == 1:
        return np.ascontiguousarray(signal, dtype=np.float32)
    if signal.shape[1] == 1:
        return np.ascontiguousarray(signal[:, 0], dtype=np.float32)
    return signal.mean(axis=1, dtype=np.float32)


def resample(signal: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample a mono signal with soxr's high-quality filter."""
    if rate_in == rate_out:
        return signal
    return soxr.resample(signal, rate_in, rate_out, quality="HQ").astype(np.float32, copy=False)


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise AudioError(path, "file not found")
    if path.is_dir():
        raise AudioError(path, "is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(path, "file is empty (0 bytes)")
    return path


def _check_not_truncated(path: Path) -> None:
    """Compare a RIFF/AIFF header's declared size with the bytes on disk.

    libsndfile silently reads what is there when a WAV or AIFF file was cut
    short (a failed copy or download), so the loss would go unnoticed.
    """
    with open(path, "rb") as f:
        head = f.read(12)
    if len(head) < 12:
        return
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        declared = struct.unpack("<I", head[4:8])[0]
    elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        declared = struct.unpack(">I", head[4:8])[0]
    else:
        return
    # Streaming writers leave the size as 0 or all ones: nothing to compare.
    if declared in (0, 0xFFFFFFFF):
        return
    actual = path.stat().st_size - 8
    if actual < declared:
        raise AudioError(
            path, f"truncated: the header declares {declared + 8} bytes but the file has {actual + 8}"
        )


def _reason(error: Exception) -> str:
    text = str(error)
    # libsndfile prefixes "Error opening '<path>': "; the path is already named.
    return text.split(": ", 1)[1] if text.startswith("Error opening") and ": " in text else text


def content_hash(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes: identifies audio by content, whatever its name."""
    digest = hashlib.sha256()
    with open(_existing(path), "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()

"""Load audio files as checked, mono, float32 signals at the pipeline's rate.

soundfile (libsndfile) reads WAV, FLAC, OGG, AIFF and more, and recognises a
format by its header, so a file whose extension lies still loads.  soxr
resamples.  What neither library checks is checked here, and every failure is
an :class:`~serkit.errors.AudioError` naming the file and the reason.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from serkit.errors import AudioError

DEFAULT_SAMPLE_RATE = 16_000

#: Enough of a file's start for every header check (a NIST SPHERE header is 1024 bytes).
_HEAD_BYTES = 1024
_SPHERE_COUNT = re.compile(rb"^sample_count -i (\d+)", re.MULTILINE)


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

    A plain 16-bit PCM WAV (the usual corpus file) is decoded here from one open
    and two reads: libsndfile's per-file overhead is most of the cost of a short
    file.  Anything else, or a WAV whose header is unusual in any way, goes
    through libsndfile.
    """
    path = Path(path)
    fd, size = _open(path)
    try:
        if size == 0:
            raise AudioError(path, "file is empty (0 bytes)")
        head = os.read(fd, _HEAD_BYTES)
        layout = _pcm16_wav_layout(head, size)
        if layout is not None:
            _check_riff_aiff_size(path, head, size)
            rate, channels, start, frames = layout
            if frames == 0:
                raise AudioError(path, "contains no samples")
            samples = np.empty(frames * channels, np.int16)
            if _read_at(fd, samples, start) != samples.nbytes:  # the file changed under us; libsndfile decides
                layout = None
    finally:
        os.close(fd)
    if layout is None:
        signal, rate = _decode(path, head, size)
        check_signal(signal, rate, path=path, min_duration=min_duration)
    else:
        from serkit.audio.pcm import pcm16_to_float32  # noqa: PLC0415  (numba, only when needed)

        signal = pcm16_to_float32(samples)
        if channels > 1:
            signal = to_mono(signal.reshape(frames, channels))
        # int16 holds no NaN or infinity: only the length is left to check.
        _check_duration(signal, rate, path, min_duration)
    if sample_rate is not None and rate != sample_rate:
        signal = resample(signal, rate, sample_rate)
    return signal


def _open(path: Path) -> tuple[int, int]:
    """A file descriptor of ``path`` for reading and the file's size; :class:`AudioError`
    if it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except (FileNotFoundError, NotADirectoryError):
        raise AudioError(path, "file not found") from None
    except IsADirectoryError:
        raise AudioError(path, "is a folder, not an audio file") from None
    except PermissionError:
        raise AudioError(path, "cannot be read: permission denied") from None
    status = os.fstat(fd)
    if stat.S_ISDIR(status.st_mode):  # POSIX opens a folder for reading
        os.close(fd)
        raise AudioError(path, "is a folder, not an audio file")
    return fd, status.st_size


def _read_at(fd: int, array: np.ndarray, offset: int) -> int:
    """Read into ``array`` from byte ``offset``; the number of bytes read."""
    if hasattr(os, "preadv"):
        return os.preadv(fd, [array], offset)
    os.lseek(fd, offset, os.SEEK_SET)  # Windows has no preadv
    with os.fdopen(fd, "rb", buffering=0, closefd=False) as f:
        return f.readinto(array)


def _pcm16_wav_layout(head: bytes, size: int) -> tuple[int, int, int, int] | None:
    """``(rate, channels, data offset, frames)`` of a plain little-endian 16-bit PCM WAV
    whose data chunk lies whole within ``size`` bytes and starts within ``head``; else None."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    if struct.unpack_from("<I", head, 4)[0] in (0, 0xFFFFFFFF):  # streaming writer: sizes unknown
        return None
    fmt = None
    position = 12
    while position + 8 <= len(head):
        chunk, length = head[position : position + 4], struct.unpack_from("<I", head, position + 4)[0]
        if chunk == b"fmt ":
            if length < 16 or position + 24 > len(head):
                return None
            fmt = struct.unpack_from("<HHIIHH", head, position + 8)
        elif chunk == b"data":
            if fmt is None or length in (0, 0xFFFFFFFF) or position + 8 + length > size:
                return None
            tag, channels, rate, _, align, bits = fmt
            if tag != 1 or bits != 16 or channels < 1 or align != 2 * channels or rate < 1:
                return None
            return rate, channels, position + 8, length // align
        position += 8 + length + (length & 1)  # chunks are padded to an even length
    return None


def _decode(path: Path, head: bytes, size: int) -> tuple[np.ndarray, int]:
    """Any format libsndfile reads: mono float32 samples and their rate, checked complete."""
    try:
        # One open for header and samples: reading is most of the cost of a short file.
        with sf.SoundFile(str(path)) as f:
            header = AudioInfo(str(path), int(f.samplerate), int(f.channels), int(f.frames), f.format)
            check_complete(header, head=head, size=size)
            signal = _read_float32(f)
    except (sf.LibsndfileError, RuntimeError) as e:
        reason = "not a readable audio file" if _unrecognised(e) else "truncated or corrupt: cannot decode it"
        raise AudioError(path, f"{reason} ({_reason(e)})") from None
    if 0 < signal.shape[0] < header.frames:
        raise AudioError(path, f"truncated: the header declares {header.frames} samples, {signal.shape[0]} decode")
    return to_mono(signal), header.sample_rate


def check_signal(
    signal: np.ndarray, sample_rate: int, path: str | Path | None = None, min_duration: float = 0.0
) -> None:
    """Raise :class:`AudioError` for a signal no feature can use."""
    if signal.size == 0:
        raise AudioError(path, "contains no samples")
    if not np.isfinite(signal).all():
        raise AudioError(path, "contains NaN or infinite samples")
    _check_duration(signal, sample_rate, path, min_duration)


def _check_duration(signal: np.ndarray, sample_rate: int, path: str | Path | None, min_duration: float) -> None:
    duration = signal.shape[-1] / sample_rate
    if duration < min_duration:
        raise AudioError(
            path, f"too short: {duration:.3f} s, the feature needs at least {min_duration:.3f} s"
        )


def _read_float32(f: sf.SoundFile) -> np.ndarray:
    """All samples as float32, (frames,) for mono or (frames, channels).

    16-bit PCM is read as int16 and scaled by 2**-15 here, which gives the
    same values as libsndfile's float conversion at less than half the cost.
    """
    if f.subtype == "PCM_16":
        samples = f.read(dtype="int16")
        signal = samples.astype(np.float32)
        signal *= np.float32(1 / 32768)
        return signal
    return f.read(dtype="float32")


def _unrecognised(error: Exception) -> bool:
    """True when libsndfile did not recognise the file as audio at all."""
    return "Format not recognised" in str(error) or "unknown format" in str(error).lower()


def to_mono(signal: np.ndarray) -> np.ndarray:
    """Average the channels of a (frames, channels) array into one float32 channel."""
    if signal.ndim == 1:
        return np.ascontiguousarray(signal, dtype=np.float32)
    if signal.shape[1] == 1:
        return np.ascontiguousarray(signal[:, 0], dtype=np.float32)
    return signal.mean(axis=1, dtype=np.float32)


def dc_offset(signal: np.ndarray, sample_rate: int, min_silence_s: float = 0.01) -> float:
    """A recording's constant offset: the level of its digital silence where it has any (its longest
    run of one repeated sample, when that lasts ``min_silence_s``), else the mean of its samples.

    A constant offset moves it by exactly the offset.  Speech corpora are cut with padding of digital
    zeros (ASED) or without (EMO-DB): the mean of a padded file is off zero, and taking it off lifts
    the padding off zero, which a log spectrogram's silent frames show loudly (it changed 13 of 152
    ASED clips' labels under ``default-emodb``); the median is no better, as speech's waveform is
    lopsided (an EMO-DB file's median sits up to 0.008 above its mean); and a short frame's mean
    follows the rumble below 50 Hz that many recordings carry."""
    if signal.shape[0] > 1:
        starts = np.flatnonzero(np.diff(signal) != 0) + 1
        edges = np.concatenate(([0], starts, [signal.shape[0]]))
        longest = int(np.argmax(np.diff(edges)))
        if edges[longest + 1] - edges[longest] >= max(2, round(min_silence_s * sample_rate)):
            return float(signal[edges[longest]])
    return float(signal.mean(dtype=np.float64))


def remove_dc(signal: np.ndarray, sample_rate: int) -> np.ndarray:
    """The signal less its :func:`dc_offset`: a constant offset (a microphone's bias) carries no sound,
    yet it fills a spectrogram's lowest bins, which training corpora without one never showed a model."""
    return (signal - np.float32(dc_offset(signal, sample_rate))).astype(np.float32, copy=False)


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


def check_complete(
    header: AudioInfo, decode_end: bool = False, head: bytes | None = None, size: int | None = None
) -> None:
    """Raise :class:`AudioError` if the file behind ``header`` was cut short.

    libsndfile silently reads what is there when a WAV, AIFF or NIST SPHERE
    file was cut short (a failed copy or download), so the loss would go
    unnoticed: their headers say how much was meant, and that is compared with
    the bytes on disk.  A compressed stream (FLAC, OGG) states its length in
    its header too; ``decode_end`` decodes the last sample to prove it is
    there without reading the whole file.  ``head`` (the file's first bytes)
    and ``size`` (its length), when the caller has them, save reading them again.
    """
    path = Path(header.path)
    if head is None:
        with open(path, "rb") as f:
            head = f.read(_HEAD_BYTES)
    _check_riff_aiff_size(path, head, size)
    _check_sphere_count(path, head, header.frames)
    if header.frames == 0:
        raise AudioError(path, "contains no samples")
    if decode_end:
        _check_last_sample(path, header.frames)


def _check_riff_aiff_size(path: Path, head: bytes, size: int | None = None) -> None:
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
    actual = (path.stat().st_size if size is None else size) - 8
    if actual < declared:
        raise AudioError(
            path, f"truncated: the header declares {declared + 8} bytes but the file has {actual + 8}"
        )


def _check_sphere_count(path: Path, head: bytes, frames: int) -> None:
    if not head.startswith(b"NIST_1A"):
        return
    declared = _SPHERE_COUNT.search(head)
    if declared and int(declared.group(1)) > frames:
        raise AudioError(
            path, f"truncated: the header declares {int(declared.group(1))} samples but the file has {frames}"
        )


def _check_last_sample(path: Path, frames: int) -> None:
    try:
        with sf.SoundFile(str(path)) as f:
            f.seek(frames - 1)
            if len(f.read(1)) == 1:
                return
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(path, f"truncated or corrupt: cannot decode its end ({_reason(e)})") from None
    raise AudioError(path, f"truncated: the header declares {frames} samples but fewer can be read")


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

"""The audio of a semi-synthetic recording (:mod:`serkit.corpora.streams`): trimming, pause noise, mixing.

Utterances are trimmed to their speech (webrtcvad, :mod:`serkit.audio.vad`)
plus a margin, so that the pauses between them are the generator's drawn ones
and an utterance's onset in the trace is its speech onset.  Pauses are not
digital silence, which no real recording has and which would mark every pause
for a model: the whole recording lies on white noise at the level of the
speaker's own non-speech frames, and each utterance is faded in over it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import soundfile as sf

from serkit.audio.io import DEFAULT_SAMPLE_RATE

RATE = DEFAULT_SAMPLE_RATE
#: webrtcvad's frame here: the feature grid's hop.
VAD_MS = 10
#: Fade between an utterance and the noise around it, seconds (no clicks).
FADE = 0.01
#: Which percentile of the non-speech frames' RMS is the floor: webrtcvad at aggressiveness 3 calls
#: weak speech (breath, unvoiced ends) non-speech too, so their median is speech, not background
#: (EMO-DB: median -45 to -52 dBFS, 10th percentile -61 to -70).
FLOOR_PERCENTILE = 10
#: The pause noise's RMS where a speaker's files hold no non-speech frame (-60 dBFS).
DEFAULT_FLOOR = 1e-3


def speech_span(flags: np.ndarray, n_samples: int, margin: float) -> tuple[int, int]:
    """Samples ``[start, end)`` of a file from its first to its last speech frame (``flags``,
    one per :data:`VAD_MS`), widened by ``margin`` seconds; the whole file if none is speech."""
    speech = np.flatnonzero(flags)
    if speech.size == 0:
        return 0, n_samples
    step, pad = RATE * VAD_MS // 1000, round(margin * RATE)
    return max(0, int(speech[0]) * step - pad), min(n_samples, (int(speech[-1]) + 1) * step + pad)


def noise_floor(signals: Sequence[np.ndarray], flags: Sequence[np.ndarray]) -> float:
    """The level of the pause noise: the :data:`FLOOR_PERCENTILE` th percentile of the RMS of the
    non-speech frames of a speaker's files."""
    step = RATE * VAD_MS // 1000
    quiet = [signal[: len(f) * step].reshape(len(f), step)[~f] for signal, f in zip(signals, flags, strict=True)]
    frames = np.concatenate(quiet) if quiet else np.empty((0, step))
    if not len(frames):
        return DEFAULT_FLOOR
    return float(np.percentile(np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1)), FLOOR_PERCENTILE))


def render(pieces: Sequence[tuple[np.ndarray, int]], n_samples: int, floor: float,
           rng: np.random.Generator) -> np.ndarray:
    """``n_samples`` of white noise at ``floor`` RMS with each ``(samples, start)`` piece faded
    in over it at ``start``, clipped to [-1, 1]."""
    audio = (rng.standard_normal(n_samples) * floor).astype(np.float32)
    fade = round(FADE * RATE)
    for piece, start in pieces:
        weight = np.ones(len(piece), dtype=np.float32)
        ramp = np.sin(0.5 * np.pi * (np.arange(min(fade, len(piece) // 2)) + 0.5) / fade) ** 2
        weight[: len(ramp)] = ramp
        weight[len(weight) - len(ramp):] = ramp[::-1]
        span = slice(start, start + len(piece))
        audio[span] = audio[span] * (1 - weight) + piece * weight
    return np.clip(audio, -1.0, 1.0)


def wav_bytes(audio: np.ndarray) -> bytes:
    """16 kHz mono 16-bit PCM WAV of ``audio`` (the same bytes for the same samples)."""
    buffer = io.BytesIO()
    sf.write(buffer, audio, RATE, subtype="PCM_16", format="WAV")
    return buffer.getvalue()

"""Voice activity by webrtcvad: a speech flag per 10, 20 or 30 ms frame of a signal.

webrtcvad (the WebRTC project's detector: Gaussian models of six sub-band
energies) decides each frame of 16-bit PCM on its own, more readily calling a
frame non-speech the higher its aggressiveness (0 to 3).  The signal is
resampled to :data:`VAD_RATE` with :func:`serkit.audio.resample` and cut into
frames from sample 0; frame ``k`` covers ``[k, k + 1) * frame_ms``.  A last,
partial frame gets no decision (webrtcvad takes whole frames only).

Seed 001's emotion frames use 10 ms frames (the feature grid's hop); the
long-recording segmentation (:mod:`serkit.inference.segmentation`) 30 ms.
"""

from __future__ import annotations

import numpy as np

from serkit.audio.io import resample
from serkit.errors import SerkitError

#: The rate webrtcvad sees (it takes 8, 16, 32 or 48 kHz; speech models are trained on 16 kHz).
VAD_RATE = 16_000
#: The frame lengths webrtcvad accepts, in milliseconds.
FRAME_MS = (10, 20, 30)
#: Signals below this rate are refused: their band ends below what the detector's sub-bands cover.
MIN_RATE = 8_000


def speech_flags(signal: np.ndarray, sample_rate: int, aggressiveness: int, frame_ms: int = 10) -> np.ndarray:
    """One boolean per ``frame_ms`` frame of a mono float signal (on [-1, 1]): True where
    webrtcvad at ``aggressiveness`` hears speech."""
    import webrtcvad

    if sample_rate < MIN_RATE:
        raise SerkitError(f"voice activity detection: sample rate {sample_rate} Hz is below the "
                          f"{MIN_RATE} Hz webrtcvad needs")
    if frame_ms not in FRAME_MS:
        raise SerkitError(f"voice activity detection: frame of {frame_ms} ms; webrtcvad takes "
                          f"{', '.join(map(str, FRAME_MS))} ms")
    if aggressiveness not in range(4):
        raise SerkitError(f"voice activity detection: aggressiveness {aggressiveness}; give 0, 1, 2 or 3")
    audio = resample(np.asarray(signal, dtype=np.float32), sample_rate, VAD_RATE)
    frame = VAD_RATE * frame_ms // 1000
    n = len(audio) // frame
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    vad = webrtcvad.Vad(aggressiveness)
    return np.array([vad.is_speech(pcm[i * frame : (i + 1) * frame].tobytes(), VAD_RATE) for i in range(n)],
                    dtype=bool)

"""Long recordings: speech regions by voice activity detection, and windows within them.

A long recording (a meeting, a call) holds many utterances and pauses; one
label for all of it says little.  It is cut into **speech regions** by a
voice activity detector, and a region longer than ``window`` seconds into
equal **windows** of at most ``window`` seconds; each piece is then
classified as an utterance of its own (:mod:`serkit.inference.predictor`).

Detectors: silero-vad, whose package ships its model (the ONNX graph is
loaded from the installed package's data folder, never the network), and
webrtcvad as a fallback where silero-vad is not installed.  Both see the
signal at 16 kHz.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import math
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from serkit.audio.io import resample
from serkit.audio.vad import VAD_RATE, speech_flags
from serkit.errors import SerkitError

log = logging.getLogger(__name__)

DETECTORS = ("auto", "silero", "webrtc")


@dataclasses.dataclass(frozen=True)
class SegmentationConfig:
    """How long recordings are cut.  Durations in seconds."""

    #: Under ``segment="auto"``, files longer than this are segmented.
    threshold: float = 8.0
    #: Longest piece classified: longer speech regions are cut into equal windows of at most this.
    window: float = 4.0
    #: A pause shorter than this does not end a region (pauses between words are shorter).
    min_silence: float = 0.3
    #: Regions shorter than this are dropped (clicks, breaths).
    min_speech: float = 0.25
    #: Padding added to each side of a region, so that word edges are kept.
    speech_pad: float = 0.03
    #: Speech probability above which silero calls a frame speech.
    vad_threshold: float = 0.5
    #: ``auto`` (silero, else webrtc), ``silero`` or ``webrtc``.
    detector: str = "auto"

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise SerkitError(f"unknown voice activity detector {self.detector!r}; known: {', '.join(DETECTORS)}")
        if not (self.threshold > 0 and self.window > 0 and self.min_silence >= 0 and self.min_speech >= 0):
            raise SerkitError(f"segmentation durations must be positive: {self}")


Region = tuple[float, float]
"""``(start, end)`` in seconds."""


class SpeechDetector(Protocol):
    def regions(self, signal: np.ndarray, sample_rate: int) -> list[Region]:
        """Speech regions of a mono float32 signal, in order, in seconds."""


class SileroDetector:
    """silero-vad's packaged ONNX model through its own wrapper (onnxruntime)."""

    def __init__(self, config: SegmentationConfig):
        self.config = config
        model_file = _silero_data() / "silero_vad.onnx"
        if not model_file.is_file():
            raise SerkitError(f"silero-vad is installed without its model ({model_file})")
        self._utils = _import_silero_utils()
        self._model = self._utils.OnnxWrapper(str(model_file), force_onnx_cpu=True)
        # The wrapper keeps recurrent state between chunks: one recording at a time.
        self._lock = threading.Lock()

    def regions(self, signal: np.ndarray, sample_rate: int) -> list[Region]:
        import torch

        audio = torch.from_numpy(np.ascontiguousarray(resample(signal, sample_rate, VAD_RATE)))
        c = self.config
        with self._lock:
            stamps = self._utils.get_speech_timestamps(
                audio,
                self._model,
                threshold=c.vad_threshold,
                sampling_rate=VAD_RATE,
                min_speech_duration_ms=round(c.min_speech * 1000),
                min_silence_duration_ms=round(c.min_silence * 1000),
                speech_pad_ms=round(c.speech_pad * 1000),
            )
        return [(s["start"] / VAD_RATE, s["end"] / VAD_RATE) for s in stamps]


class WebrtcDetector:
    """webrtcvad's decisions on 30 ms frames, joined into regions as silero joins its own."""

    FRAME_MS = 30
    AGGRESSIVENESS = 2

    def __init__(self, config: SegmentationConfig):
        self.config = config

    def regions(self, signal: np.ndarray, sample_rate: int) -> list[Region]:
        voiced = speech_flags(signal, sample_rate, self.AGGRESSIVENESS, self.FRAME_MS)
        return join_frames(voiced, self.FRAME_MS / 1000, len(signal) / sample_rate, self.config)


def join_frames(voiced: np.ndarray, frame_s: float, duration: float, config: SegmentationConfig) -> list[Region]:
    """Regions from per-frame speech decisions: runs of speech joined across pauses shorter
    than ``min_silence``, kept if at least ``min_speech`` long, padded by ``speech_pad``."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], voiced.astype(np.int8), [0]])))
    runs = [[s * frame_s, e * frame_s] for s, e in zip(edges[::2], edges[1::2])]
    joined: list[list[float]] = []
    for run in runs:
        if joined and run[0] - joined[-1][1] < config.min_silence:
            joined[-1][1] = run[1]
        else:
            joined.append(run)
    return [
        (max(0.0, float(s) - config.speech_pad), min(duration, float(e) + config.speech_pad))
        for s, e in joined
        if e - s >= config.min_speech
    ]


def speech_detector(config: SegmentationConfig) -> SpeechDetector:
    """The configured detector; under ``auto``, silero-vad if it is installed, else webrtcvad."""
    if config.detector in ("auto", "silero") and importlib.util.find_spec("silero_vad") is not None:
        return SileroDetector(config)
    if config.detector == "silero":
        raise SerkitError("silero-vad is not installed (pip install silero-vad)")
    if importlib.util.find_spec("webrtcvad") is None:
        raise SerkitError("no voice activity detector is installed (pip install silero-vad or webrtcvad-wheels)")
    if config.detector == "auto":
        log.info("silero-vad is not installed: webrtcvad finds the speech regions")
    return WebrtcDetector(config)


def split_region(region: Region, window: float) -> list[Region]:
    """``region`` cut into the fewest equal pieces of at most ``window`` seconds."""
    start, end = region
    pieces = max(1, math.ceil((end - start) / window - 1e-9))
    bounds = np.linspace(start, end, pieces + 1)
    return [(float(a), float(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def speech_segments(
    signal: np.ndarray, sample_rate: int, detector: SpeechDetector, config: SegmentationConfig
) -> list[Region]:
    """The pieces of a long recording to classify: speech regions, long ones cut into windows."""
    return [piece for region in detector.regions(signal, sample_rate) for piece in split_region(region, config.window)]


def _silero_data() -> Path:
    # find_spec locates the package without running its __init__ (see _import_silero_utils)
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise SerkitError("silero-vad is not installed (pip install silero-vad)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _import_silero_utils():  # noqa: ANN202  (a module)
    """silero-vad's helpers, without the side effect of importing them.

    Importing the package sets torch's thread count to 1 for the whole
    process (``silero_vad/model.py``), which would slow every model after it:
    the count is put back.
    """
    import torch

    threads = torch.get_num_threads()
    try:
        from silero_vad import utils_vad
    finally:
        torch.set_num_threads(threads)
    return utils_vad

"""Long recordings: speech regions by voice activity detection, and windows within them.

A long recording (a meeting, a call) holds many utterances and pauses; one
label for all of it says little.  It is cut into **speech regions** by a
voice activity detector, and a region longer than ``window`` seconds into
equal **windows** of at most ``window`` seconds; each piece is then
classified as an utterance of its own (:mod:`serkit.inference.predictor`).

Speech under ``min_trusted`` seconds (one second) is too short to trust: a
word or two carries little of a speaker's emotion, yet a classifier gives it a
label as confident-looking as a sentence's.  A region that short is merged
with its nearest neighbour when the pause between them is under ``merge_gap``
(:func:`merge_short`); a piece still that short is flagged ``too_short`` in the
timeline and left out of the file's summary (:func:`summary_weights`).  Equal
windows leave no short tail: a region just past ``window`` is cut in two
halves, never into ``window`` and a sliver, so no window is under
``window / 2`` (only a ``window`` under ``2 * min_trusted``, asked for with
``--segment``, gives windows too short to trust, and they are flagged).
:func:`loudest_db` tells a silent recording (a constant offset included) from one with any sound
at all.

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
    #: Shorter speech is too short to trust: merged with a close neighbour, else flagged and left
    #: out of the file's summary (0: every piece is trusted).
    min_trusted: float = 1.0
    #: A region shorter than ``min_trusted`` is merged with its nearest neighbour across a pause
    #: shorter than this (0: never merged; see :func:`merge_short`).
    merge_gap: float = 0.5

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise SerkitError(f"unknown voice activity detector {self.detector!r}; known: {', '.join(DETECTORS)}")
        if not (self.threshold > 0 and self.window > 0 and min(self.min_silence, self.min_speech,
                                                                 self.min_trusted, self.merge_gap) >= 0):
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


def merge_short(regions: list[Region], min_trusted: float, merge_gap: float) -> list[Region]:
    """``regions`` with each one shorter than ``min_trusted`` joined to its nearest neighbour (the
    pause between them included) where that pause is shorter than ``merge_gap``; the closest such
    pair first, until none is left.

    The detector already bridges pauses under ``min_silence`` (0.3 s); a short burst within half a
    second of other speech is most likely the same speaker's phrase split by a hesitation or a
    breath, so it is classified with that phrase.  Across a longer pause it may be another
    utterance, perhaps another speaker's: it is kept on its own, and flagged.
    """
    merged = list(regions)
    while True:
        close = [(b[0] - a[1], i) for i, (a, b) in enumerate(zip(merged, merged[1:]))
                 if min(a[1] - a[0], b[1] - b[0]) < min_trusted and b[0] - a[1] < merge_gap]
        if not close:
            return merged
        _, i = min(close)
        merged[i : i + 2] = [(merged[i][0], merged[i + 1][1])]


def summary_weights(durations: np.ndarray, min_trusted: float) -> tuple[np.ndarray, bool]:
    """Each piece's weight in its file's summary, and whether that summary rests on short speech only.

    A piece counts by its duration, one shorter than ``min_trusted`` not at all, unless every piece
    is that short: then all count, by duration, and the flag says so.
    """
    durations = np.asarray(durations, dtype=np.float64)
    trusted = durations >= min_trusted
    if not trusted.any():
        return durations, True
    return np.where(trusted, durations, 0.0), False


def speech_segments(
    signal: np.ndarray, sample_rate: int, detector: SpeechDetector, config: SegmentationConfig
) -> list[Region]:
    """The pieces of a long recording to classify: speech regions, short ones merged with a close
    neighbour (:func:`merge_short`), long ones cut into windows."""
    regions = merge_short(detector.regions(signal, sample_rate), config.min_trusted, config.merge_gap)
    return [piece for region in regions for piece in split_region(region, config.window)]


def loudest_db(signal: np.ndarray, sample_rate: int, frame_s: float = 0.03) -> float:
    """Level in dBFS of the loudest ``frame_s`` stretch (variance over non-overlapping frames: a
    constant or slowly drifting offset is no sound, so a file of a biased microphone's silence reads
    silent)."""
    n = max(1, round(frame_s * sample_rate))
    frames = signal[: len(signal) // n * n].reshape(-1, n) if len(signal) >= n else signal[np.newaxis]
    power = float(np.max(np.var(frames, axis=1, dtype=np.float64)))
    return 10 * np.log10(max(power, 1e-20))


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


def parse_segment(value: str | float) -> str | float:
    """``"auto"``, ``"none"`` or a positive number of seconds (from a string, as the CLI gives it)."""
    if isinstance(value, str) and value in ("auto", "none"):
        return value
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise SerkitError(f"--segment must be auto, none or a number of seconds, not {value!r}") from None
    if not seconds > 0:
        raise SerkitError(f"--segment must be a positive number of seconds, not {value!r}")
    return seconds

"""Predicting emotions of signals, files and folders with a trained model.

A :class:`Predictor` joins a model's **specification** (:class:`~serkit.inference.spec.ModelSpec`:
labels, feature extractor, normaliser, input shaping, as ``serkit train``
wrote them) to a **backend** that turns padded feature batches into logits
(PyTorch, :mod:`serkit.inference.model`, or onnxruntime,
:mod:`serkit.inference.onnx`).  Everything between audio and logits happens
here, once, for both backends:

1. the file is read (mono, resampled to the feature's rate), loses its DC
   offset once, as a whole (:func:`~serkit.audio.io.remove_dc`: the training
   corpora have none, and an offset of 1% of full scale changed the labels of
   43% of ASED clips under ``default-emodb``, 24% under ``default``; now
   none), and is checked: not too short, not too long, not silent;
2. a recording longer than the segmentation threshold is cut into speech
   regions and windows (:mod:`serkit.inference.segmentation`), each
   classified on its own;
3. each piece's features are normalised and shaped as in training (fixed
   length, or windows scored at the test hop and their softmax averaged, as
   :mod:`serkit.training` does);
4. model inputs of many files are scored together in batches, shortest
   first; the models mask padding, so a batched result equals the result
   alone (in evaluation mode, up to float rounding).

A segmented file's probabilities are the duration-weighted mean of its
segments', less those ``too_short`` (unless all are: ``short_speech_only``;
:mod:`serkit.inference.segmentation`).  :meth:`Prediction.to_dict` is the JSON
element of ``serkit predict --format json`` and of the REST service.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from serkit.audio.io import check_signal, info, load_audio, remove_dc, resample
from serkit.errors import AudioError, SerkitError
from serkit.features.base import find_audio
from serkit.inference.batching import batches, pad_batch, softmax
from serkit.inference.segmentation import (SegmentationConfig, SpeechDetector, loudest_db, parse_segment,
                                           speech_detector, speech_segments, summary_weights)
from serkit.inference.spec import ModelSpec
from serkit.progress import Progress

log = logging.getLogger(__name__)

#: Loudness (dBFS) of the loudest 30 ms below which a recording is called silent.
SILENCE_DB = -60.0
#: Files larger than this have their header's duration checked before they are decoded.
_HEADER_CHECK_BYTES = 1 << 20


class AudioTooLongError(AudioError):
    """A recording past the configured duration limit (the service answers 413, not 422)."""


@dataclasses.dataclass(frozen=True)
class InferenceConfig:
    """Limits and segmentation of prediction.  Durations in seconds."""

    #: Shorter recordings are refused: too little to say anything about.
    min_duration: float = 0.25
    #: Longer recordings are refused before they are decoded, where the header says so.
    max_duration: float = 3600.0
    #: ``"auto"`` (segment files longer than ``segmentation.threshold``), ``"none"``, or a
    #: window length in seconds (segment every file, pieces of at most that long).
    segment: str | float = "auto"
    segmentation: SegmentationConfig = SegmentationConfig()
    #: Model inputs per forward pass.
    batch_size: int = 32
    #: At most this many padded frames per forward pass (a longer recording alone); a frame model
    #: with a finite context scores a longer one in exact overlapping chunks (frame_cnn: ~1.7 GB).
    max_batch_frames: int = 24_000
    #: A frame model's predictions also carry each class's posterior per frame (large: off by default).
    posteriors: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "segment", parse_segment(self.segment))
        if self.batch_size < 1 or self.max_batch_frames < 1:
            raise SerkitError(f"batch size and frames must be at least 1, not {self.batch_size}, {self.max_batch_frames}")
        if not 0 <= self.min_duration < self.max_duration:
            raise SerkitError(f"need 0 <= min_duration < max_duration, got {self.min_duration}, {self.max_duration}")


@dataclasses.dataclass(frozen=True)
class Segment:
    """One piece of a segmented recording and its prediction (times in seconds)."""

    start: float
    end: float
    label: str | None
    probabilities: dict[str, float] | None
    #: A regression model's values per target (then ``label`` and ``probabilities`` are None).
    values: dict[str, float] | None = None
    #: Shorter than ``segmentation.min_trusted``: shown, but left out of the file's summary.
    too_short: bool | None = None
    transcript: str | None = None  # a ctc model's, of the segment (label and probabilities None)

    def to_dict(self) -> dict[str, Any]:
        short = {} if self.too_short is None else {"too_short": self.too_short}
        return {"start": round(self.start, 3), "end": round(self.end, 3), **_outputs(self), **short}


@dataclasses.dataclass(frozen=True)
class Prediction:
    """A file's (or signal's) prediction, or the error that prevented one."""

    path: str | None
    duration: float | None
    label: str | None = None
    probabilities: dict[str, float] | None = None
    #: The timeline of a segmented recording (None when it was classified whole).
    segments: tuple[Segment, ...] | None = None
    error: str | None = None
    #: A regression model's values per target (then ``label`` and ``probabilities`` are None).
    values: dict[str, float] | None = None
    #: A frame model's label per frame, ``frame_rate`` frames per second (label, probabilities None).
    frames: list[str] | None = None
    frame_rate: float | None = None
    #: A ctc model's greedy transcript (then ``label`` and ``probabilities`` are None).
    transcript: str | None = None
    #: A per-frame regression's values per target and frame (``values`` then holds their means), or
    #: a frame classifier's posterior per class and frame (with ``InferenceConfig.posteriors``).
    trace: dict[str, list[float]] | None = None
    #: A segmented recording whose every segment is too short: its summary rests on them all.
    short_speech_only: bool | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """The JSON element of ``serkit predict --format json``."""
        data: dict[str, Any] = {"path": self.path,
                                "duration": None if self.duration is None else round(self.duration, 3)}
        if self.error is not None:
            data["error"] = self.error
            return data
        data.update(_outputs(self))
        if self.segments is not None:
            data.update(short_speech_only=self.short_speech_only, segments=[s.to_dict() for s in self.segments])
        return data


def _outputs(prediction: Prediction | Segment) -> dict[str, Any]:
    """A classifier's label and probabilities, a regression's values, a frame model's labels, or a
    ctc model's transcript."""
    if getattr(prediction, "transcript", None) is not None:
        return {"transcript": prediction.transcript}
    if getattr(prediction, "frames", None) is not None:
        posteriors = {} if prediction.trace is None else {"posteriors": _trace(prediction.trace)}
        return {"frame_rate": prediction.frame_rate, "frames": prediction.frames, **posteriors}
    if getattr(prediction, "trace", None) is not None:
        return {"values": _rounded(prediction.values), "frame_rate": prediction.frame_rate,
                "trace": _trace(prediction.trace)}
    if prediction.values is not None:
        return {"values": _rounded(prediction.values)}
    return {"label": prediction.label, "probabilities": _rounded(prediction.probabilities or {})}


def _trace(trace: dict[str, list[float]]) -> dict[str, list[float]]:
    return {name: [round(float(v), 4) for v in values] for name, values in trace.items()}


def _rounded(probabilities: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 6) for k, v in probabilities.items()}


class Backend(Protocol):
    """Runs the network: padded ``(batch, dims, frames)`` float32 and int64 lengths in, logits out."""

    def logits(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray: ...


@dataclasses.dataclass
class _Piece:
    """One thing classified: a whole recording or a segment of it, and its model inputs."""

    file: int
    start: float
    end: float
    inputs: list[np.ndarray]
    probabilities: np.ndarray | None = None


class Predictor:
    """A loaded model that predicts signals, files and folders (see the module's docstring).

    Safe to share between threads: the model is only read, and the voice
    activity detector serialises its own use.
    """

    def __init__(self, spec: ModelSpec, backend: Backend, config: InferenceConfig | None = None):
        self.spec = spec
        self.backend = backend
        self.config = config or InferenceConfig()
        self._detector: SpeechDetector | None = None
        self._detector_lock = threading.Lock()

    @property
    def labels(self) -> tuple[str, ...]:
        return self.spec.labels

    @property
    def card(self) -> dict[str, Any]:
        """The model card (``card.json``), empty when the model has none."""
        return self.spec.card

    @property
    def sample_rate(self) -> int:
        return self.spec.feature.sample_rate

    def with_config(self, **changes: Any) -> Predictor:
        """The same model under other limits or segmentation (the model is shared, not copied)."""
        return type(self)(self.spec, self.backend, dataclasses.replace(self.config, **changes))

    def __repr__(self) -> str:
        return f"Predictor({self.spec.source!r}, labels={list(self.labels)})"

    # -- the predict family -------------------------------------------------------

    def predict_signal(self, signal: np.ndarray, sample_rate: int, path: str | None = None) -> Prediction:
        """Prediction of a signal (mono, or ``(channels, samples)``) at ``sample_rate``.

        Raises :class:`~serkit.errors.AudioError` for a signal that cannot be
        predicted (empty, too short or long, silent, no speech found).
        """
        signal = np.asarray(signal, dtype=np.float32)
        if signal.ndim == 2:
            signal = signal.mean(axis=0)
        check_signal(signal, sample_rate, path=path)
        self._check_duration(signal.shape[0] / sample_rate, path)
        signal = resample(signal, sample_rate, self.sample_rate)
        return self._predict_loaded([(path, signal)])[0]

    def predict_file(self, path: str | Path) -> Prediction:
        """Prediction of one audio file; raises :class:`~serkit.errors.AudioError` for a bad one."""
        return self._predict_loaded([(str(path), self._load(path))])[0]

    def predict_files(
        self,
        paths: Iterable[str | Path],
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> list[Prediction]:
        """Predictions of many files, in order, batched across files.

        A file that cannot be predicted gets a :class:`Prediction` with
        ``error`` set (the message names the file and the reason), and the
        others go on.  ``progress(done, total)`` is called as files finish.
        """
        paths = [str(p) for p in paths]
        size = batch_size or self.config.batch_size
        results: list[Prediction] = []
        # A group of files is read, then scored together: enough inputs to fill batches.
        for start in range(0, len(paths), size):
            group = paths[start : start + size]
            loaded, failed = [], {}
            for path in group:
                try:
                    loaded.append((path, self._load(path)))
                except SerkitError as error:
                    failed[path] = Prediction(path, None, error=str(error))
            done = iter(self._predict_loaded(loaded, size, failed))
            results.extend(failed.get(p) or next(done) for p in group)
            if progress:
                progress(len(results), len(paths))
        return results

    def predict_folder(
        self, root: str | Path, batch_size: int | None = None, progress: Progress | None = None
    ) -> list[Prediction]:
        """Predictions of every audio file below ``root`` (recursive, sorted)."""
        return self.predict_files(find_audio(root), batch_size=batch_size, progress=progress)

    # -- the steps ------------------------------------------------------------------

    def _load(self, path: str | Path) -> np.ndarray:
        path = Path(path)
        try:
            large = path.stat().st_size > _HEADER_CHECK_BYTES
        except OSError:
            large = False  # load_audio says what is wrong with it
        if large:  # refuse a huge file from its header, before decoding hours of audio
            self._check_duration(info(path).duration, path)
        signal = load_audio(path, self.sample_rate)
        self._check_duration(signal.shape[0] / self.sample_rate, path)
        return signal

    def _check_duration(self, duration: float, path: str | Path | None) -> None:
        c = self.config
        if duration > c.max_duration:
            raise AudioTooLongError(path, f"too long: {duration:.1f} s, the limit is {c.max_duration:g} s")
        needed = max(c.min_duration, self.spec.feature.min_duration)
        if duration < needed:
            raise AudioError(path, f"too short: {duration:.3f} s, predicting needs at least {needed:g} s")

    def _predict_loaded(
        self,
        loaded: Sequence[tuple[str | None, np.ndarray]],
        batch_size: int | None = None,
        failed: dict[str, Prediction] | None = None,
    ) -> list[Prediction]:
        """Predictions of loaded signals, in order.  With ``failed``, a signal that cannot be
        predicted is recorded there by path and left out; without, its error is raised."""
        pieces: list[_Piece] = []
        kept: list[tuple[int, str | None, np.ndarray, bool]] = []
        for index, (path, signal) in enumerate(loaded):
            try:
                file_pieces, segmented = self._pieces(index, path, signal)
            except SerkitError as error:
                if failed is None or path is None:
                    raise
                failed[path] = Prediction(path, signal.shape[0] / self.sample_rate, error=str(error))
                continue
            pieces.extend(file_pieces)
            kept.append((index, path, signal, segmented))
        self._score(pieces, batch_size or self.config.batch_size)
        by_file: dict[int, list[_Piece]] = {}
        for piece in pieces:
            by_file.setdefault(piece.file, []).append(piece)
        return [self._prediction(path, signal.shape[0] / self.sample_rate, by_file[index], segmented)
                for index, path, signal, segmented in kept]

    def _pieces(self, index: int, path: str | None, signal: np.ndarray) -> tuple[list[_Piece], bool]:
        """What to classify in one recording, and whether it was segmented."""
        rate = self.sample_rate
        duration = signal.shape[0] / rate
        signal = remove_dc(signal, rate)
        if loudest_db(signal, rate) < SILENCE_DB:
            raise AudioError(path, f"silent: no speech found (loudest 30 ms at {loudest_db(signal, rate):.0f} dBFS)")
        mode = self.config.segment
        window = mode if isinstance(mode, float) else self.config.segmentation.window
        if mode == "none" or (mode == "auto" and duration <= self.config.segmentation.threshold):
            return [_Piece(index, 0.0, duration, self._inputs(signal, path))], False
        segmentation = dataclasses.replace(self.config.segmentation, window=window)
        regions = speech_segments(signal, rate, self._speech_detector(), segmentation)
        minimum = self.spec.feature.min_samples
        pieces = []
        for start, end in regions:
            part = signal[round(start * rate) : round(end * rate)]
            if part.shape[0] >= minimum:
                pieces.append(_Piece(index, start, end, self._inputs(part, path)))
        if not pieces:
            raise AudioError(path, f"no speech found in {duration:.1f} s by voice activity detection")
        return pieces, True

    def _inputs(self, signal: np.ndarray, path: str | None) -> list[np.ndarray]:
        check_signal(signal, self.sample_rate, path=path, min_duration=self.spec.feature.min_duration)
        return self.spec.model_inputs(self.spec.feature.compute(signal))

    def _speech_detector(self) -> SpeechDetector:
        with self._detector_lock:  # built on first use: most predictions never need one
            if self._detector is None:
                self._detector = speech_detector(self.config.segmentation)
            return self._detector

    def _score(self, pieces: list[_Piece], batch_size: int) -> None:
        """Every piece's probabilities: its inputs scored in batches, shortest first, softmax averaged."""
        items = [(p, x) for p, piece in enumerate(pieces) for x in piece.inputs]
        probabilities = np.empty((len(items), len(self.labels)))
        for batch in batches([x.shape[1] for _, x in items], batch_size, self.config.max_batch_frames):
            x, lengths = pad_batch([items[i][1] for i in batch])
            logits = self.backend.logits(x, lengths)
            probabilities[batch] = logits if self.spec.regression else softmax(logits)
        owners = np.array([p for p, _ in items])
        for p, piece in enumerate(pieces):
            piece.probabilities = probabilities[owners == p].mean(axis=0)

    def _prediction(self, path: str | None, duration: float, pieces: list[_Piece], segmented: bool) -> Prediction:
        if not segmented:
            return Prediction(path, duration, **self._decode(pieces[0].probabilities))
        durations = np.array([p.end - p.start for p in pieces])
        minimum = self.config.segmentation.min_trusted
        weights, short_only = summary_weights(durations, minimum)
        summary = np.average(np.stack([p.probabilities for p in pieces]), axis=0, weights=weights)
        segments = tuple(Segment(p.start, p.end, **self._decode(p.probabilities), too_short=bool(d < minimum))
                         for p, d in zip(pieces, durations))
        return Prediction(path, duration, **self._decode(summary), segments=segments, short_speech_only=short_only)

    def _decode(self, outputs: np.ndarray) -> dict[str, Any]:
        """A classifier's label and probabilities, or a regression's values, by name."""
        named = dict(zip(self.labels, map(float, outputs)))
        if self.spec.regression:
            return {"label": None, "probabilities": None, "values": named}
        return {"label": self.labels[int(np.argmax(outputs))], "probabilities": named}

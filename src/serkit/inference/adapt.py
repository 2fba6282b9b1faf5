"""Declared label-free adaptation: standardise features by the collection being predicted.

A model whose features are standardised (``normalisation: global``, or the
declared ``per-corpus`` variant) learnt on its training corpora's statistics.
Recordings from elsewhere (another microphone, room, language) sit elsewhere
in feature space.  :class:`AdaptingPredictor` standardises them by the
statistics of the collection being predicted instead, every frame of every
piece it classifies (a folder, a batch of files, a long recording's speech
segments), using no labels.  That is what ``per-corpus`` normalisation does
to a test corpus under ``loco``, so a model trained with it needs it.

It is never silently on: ``serkit predict --adapt`` asks for it, every
prediction carries ``adaptation`` (how many files and seconds the statistics
came from), and the command says so.  Statistics of a few seconds mean
nothing, so a collection under :data:`MIN_SECONDS` (a single short file) is
refused.  Models that normalise each utterance by itself, or not at all
(``accurate-emodb``: its scaler was folded into its weights), have no statistics
to replace and are refused too, as are frame classifiers.  A scikit-learn MP-x
model (``default``, ``accurate``) keeps its scaler as a normaliser of utterance
means: the collection's statistics are then those of its pieces' mean frames, as
the scaler's were of the training utterances'.

The whole collection is read before any of it is scored (its statistics come
first), so a folder's audio is held in memory at once.  One predictor adapts
to one collection at a time: do not share it between threads.

A continuous model (a per-frame regression: arousal and valence over a long
recording) adapts per recording instead: :class:`RecordingAdaptingPredictor`
standardises each recording's features by that recording's own statistics,
which is seed 004's speaker z-normalisation at test time with a recording
standing for its speaker (a model trained with ``per-speaker`` normalisation
predicts only so).  A recording under :data:`MIN_RECORDING_SECONDS` fails
alone, saying why.  :func:`adapting` picks the kind a model calls for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from serkit.audio.io import check_signal
from serkit.errors import AudioError, SerkitError
from serkit.features.normalise import UTTERANCE_MEANS, GlobalNormaliser, Normalisation
from serkit.inference.frames import FramePredictor
from serkit.inference.predictor import Backend, InferenceConfig, Prediction, Predictor, _Piece
from serkit.inference.spec import ModelSpec
from serkit.progress import Progress

#: Seconds of audio (the pieces classified) below which a collection's statistics mean nothing.
MIN_SECONDS = 30.0
#: The normalisations whose statistics adaptation replaces.
ADAPTABLE = (Normalisation.GLOBAL, Normalisation.PER_CORPUS)
#: Seconds of one recording below which its own statistics mean nothing (a continuous model's --adapt).
MIN_RECORDING_SECONDS = 10.0
#: The normalisations a recording's own statistics stand in for (the per-speaker variant needs them).
RECORDING_ADAPTABLE = (*ADAPTABLE, Normalisation.PER_SPEAKER)


def adapting(predictor: Predictor) -> Predictor:
    """``predictor`` under the declared adaptation ``--adapt`` asks for: a continuous model's
    features standardised by each recording's own statistics, any other's by the collection's."""
    spec = predictor.spec
    if spec.frame and spec.regression:
        return RecordingAdaptingPredictor(spec, predictor.backend, predictor.config)
    return AdaptingPredictor(predictor)


@dataclasses.dataclass(frozen=True)
class AdaptedPrediction(Prediction):
    """A prediction made with features standardised by its collection's (or its recording's own) statistics."""

    #: ``{"label_free": True, "files": N, "seconds": S}``: what the statistics came from (with
    #: ``"per": "recording"``, the recording itself).
    adaptation: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        return data if self.error is not None else {**data, "adaptation": self.adaptation}


class AdaptingPredictor(Predictor):
    """A :class:`Predictor` that standardises by the statistics of what it is given to predict."""

    def __init__(self, predictor: Predictor, min_seconds: float = MIN_SECONDS):
        spec = predictor.spec
        if spec.frame or spec.ctc:  # a continuous model adapts per recording (adapting)
            raise SerkitError(f"{spec.source}: --adapt is for models of an utterance or continuous models, "
                              "not frame classifiers or ctc models")
        if spec.normalisation not in ADAPTABLE:
            raise SerkitError(f"{spec.source}: normalisation {spec.normalisation} has no statistics to adapt "
                              f"(--adapt needs a model trained with {' or '.join(ADAPTABLE)} normalisation)")
        super().__init__(spec, predictor.backend, predictor.config)
        self.min_seconds = min_seconds
        self.adaptation: dict[str, Any] | None = None

    def predict_files(self, paths: Iterable[str | Path], batch_size: int | None = None,
                      progress: Progress | None = None) -> list[Prediction]:
        """As :meth:`Predictor.predict_files`, all files read as one group: the collection."""
        paths = [str(p) for p in paths]
        return super().predict_files(paths, batch_size=max(1, len(paths)), progress=progress)

    def _inputs(self, signal: np.ndarray, path: str | None) -> list[np.ndarray]:
        # the features as they are: they are standardised in _score, once the collection is known
        check_signal(signal, self.sample_rate, path=path, min_duration=self.spec.feature.min_duration)
        return [self.spec.feature.compute(signal)]

    def _score(self, pieces: list[_Piece], batch_size: int) -> None:
        seconds = float(sum(piece.end - piece.start for piece in pieces))
        if seconds < self.min_seconds:
            raise SerkitError(f"--adapt standardises by the statistics of the collection predicted, which needs at "
                              f"least {self.min_seconds:g} s of audio (a folder, many files or a long recording); "
                              f"this is {seconds:.1f} s")
        inputs = [x for piece in pieces for x in piece.inputs]
        # the same statistics as the model's own: over every frame, or over each piece's mean frame
        # (a scikit-learn MP-x model's scaler standardised utterance means)
        by_means = self.spec.normaliser is not None and self.spec.normaliser.fitted_on == UTTERANCE_MEANS
        normaliser = GlobalNormaliser().fit_utterance_means(inputs) if by_means else GlobalNormaliser().fit(inputs)
        spec = dataclasses.replace(self.spec, normaliser=normaliser)
        for piece in pieces:
            piece.inputs = [model_input for x in piece.inputs for model_input in spec.model_inputs(x)]
        self.adaptation = {"label_free": True, "files": len({piece.file for piece in pieces}),
                           "seconds": round(seconds, 1)}
        super()._score(pieces, self.config.batch_size)

    def _prediction(self, path: str | None, duration: float, pieces: list[_Piece], segmented: bool) -> Prediction:
        made = super()._prediction(path, duration, pieces, segmented)
        fields = {f.name: getattr(made, f.name) for f in dataclasses.fields(made)}
        return AdaptedPrediction(**fields, adaptation=self.adaptation)


class RecordingAdaptingPredictor(FramePredictor):
    """A continuous model's predictor that standardises each recording by its own statistics.

    Each prediction's ``adaptation`` is ``{"label_free": True, "per": "recording", "files": 1,
    "seconds": S}``.  Recordings are independent, so it is as safe to share as any predictor.
    """

    def __init__(self, spec: ModelSpec, backend: Backend, config: InferenceConfig | None = None,
                 min_seconds: float = MIN_RECORDING_SECONDS):
        if not (spec.frame and spec.regression):
            raise SerkitError(f"{spec.source}: standardising each recording by its own statistics is for "
                              "continuous models (a per-frame regression)")
        if spec.normalisation not in RECORDING_ADAPTABLE:
            raise SerkitError(f"{spec.source}: normalisation {spec.normalisation} has no statistics to adapt "
                              f"(--adapt needs a model trained with {', '.join(RECORDING_ADAPTABLE)} normalisation)")
        super().__init__(spec, backend, config)
        self.min_seconds = min_seconds

    def _inputs(self, signal: np.ndarray, path: str | None) -> list[np.ndarray]:
        check_signal(signal, self.sample_rate, path=path, min_duration=self.spec.feature.min_duration)
        seconds = signal.shape[0] / self.sample_rate
        if seconds < self.min_seconds:
            raise AudioError(path, f"too short for --adapt: {seconds:.1f} s; standardising a recording by its "
                                   f"own statistics needs at least {self.min_seconds:g} s")
        features = self.spec.feature.compute(signal)
        own = GlobalNormaliser().fit([features])
        return dataclasses.replace(self.spec, normaliser=own).model_inputs(features)

    def _prediction(self, path: str | None, duration: float, pieces: list[_Piece], segmented: bool) -> Prediction:
        made = super()._prediction(path, duration, pieces, segmented)
        fields = {f.name: getattr(made, f.name) for f in dataclasses.fields(made)}
        return AdaptedPrediction(**fields, adaptation={"label_free": True, "per": "recording", "files": 1,
                                                       "seconds": round(duration, 1)})

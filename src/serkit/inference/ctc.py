"""Transcribing with a ctc model (``task: ctc``): ``serkit predict`` and its alias ``serkit transcribe``.

:class:`CTCPredictor` reads a recording whole, or, where it is longer than the
segmentation threshold, cut by the same voice activity segmentation as emotion
(:mod:`serkit.inference.segmentation`: a recognizer trained on utterances of
seconds should not run over an hour at once) with a recognizer's durations
(:data:`RECOGNIZER_SEGMENTATION`), and decodes each piece's
per-frame outputs greedily, as training scored them
(:func:`serkit.training.ctc.greedy_decode`: the best class per frame, runs
collapsed, blanks dropped).  Its :class:`~serkit.inference.predictor.Prediction`
carries ``transcript`` (a segmented recording's: its segments' transcripts
joined by spaces, each segment's in the timeline); ``label`` and
``probabilities`` are None.
"""

from __future__ import annotations

import dataclasses

from serkit.inference.frames import FramePredictor
from serkit.inference.predictor import Backend, InferenceConfig, Prediction, Predictor, Segment, _Piece
from serkit.inference.segmentation import SegmentationConfig
from serkit.inference.spec import ModelSpec
from serkit.training.ctc import greedy_decode

#: Where a recognizer's recordings are cut, unless the caller sets its own segmentation.  It reads
#: whole utterances (LibriSpeech's run to 35 s) and a cut inside speech costs the words across it:
#: on the recognizer's held-out speakers, emotion's cuts (files over 8 s, regions into windows of
#: at most 4 s) gave CER 0.470 against 0.455 for whole files.  So files up to 35 s are read whole,
#: longer ones cut at pauses, a region over 20 s into equal windows; no piece is "too short to trust".
RECOGNIZER_SEGMENTATION = SegmentationConfig(threshold=35.0, window=20.0, min_trusted=0.0)


class CTCPredictor(FramePredictor):
    """A ctc model's predictor: a transcript per recording, per speech segment of a long one."""

    def __init__(self, spec: ModelSpec, backend: Backend, config: InferenceConfig | None = None):
        # a frame model's predictor reads whole recordings; a transcript is segmented, as a recognizer needs
        config = config or InferenceConfig()
        if config.segmentation == SegmentationConfig():  # emotion's defaults: a recognizer's instead
            config = dataclasses.replace(config, segmentation=RECOGNIZER_SEGMENTATION)
        Predictor.__init__(self, spec, backend, config)

    def _prediction(self, path: str | None, duration: float, pieces: list[_Piece], segmented: bool) -> Prediction:
        # the softmax keeps each frame's best class, so decoding probabilities equals decoding logits
        texts = [greedy_decode(piece.probabilities, self.labels) for piece in pieces]
        if not segmented:
            return Prediction(path, duration, None, None, transcript=texts[0])
        segments = tuple(Segment(piece.start, piece.end, None, None, transcript=text)
                         for piece, text in zip(pieces, texts))
        return Prediction(path, duration, None, None, segments=segments,
                          transcript=" ".join(text for text in texts if text))

"""Transcribing with a ctc model (``task: ctc``): ``serkit predict`` and its alias ``serkit transcribe``.

:class:`CTCPredictor` reads whole recordings as
:class:`~serkit.inference.frames.FramePredictor` does (never segmented: the
model aligns the whole transcript itself) and decodes each recording's
per-frame outputs greedily, as training scored them
(:func:`serkit.training.ctc.greedy_decode`: the best class per frame, runs
collapsed, blanks dropped).  Its
:class:`~serkit.inference.predictor.Prediction` carries ``transcript``;
``label`` and ``probabilities`` are None.
"""

from __future__ import annotations

from serkit.inference.frames import FramePredictor
from serkit.inference.predictor import Prediction, _Piece
from serkit.training.ctc import greedy_decode


class CTCPredictor(FramePredictor):
    """A ctc model's predictor: whole recordings, one transcript each."""

    def _prediction(self, path: str | None, duration: float, pieces: list[_Piece], segmented: bool) -> Prediction:
        # the softmax keeps each frame's best class, so decoding probabilities equals decoding logits
        return Prediction(path, duration, None, None, transcript=greedy_decode(pieces[0].probabilities, self.labels))

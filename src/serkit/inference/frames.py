"""Predicting with a frame model (``task: frame``): a label per frame of the whole recording.

:class:`FramePredictor` is a :class:`~serkit.inference.predictor.Predictor`
whose recordings are never segmented (the model labels every frame itself,
so a timeline of windows would add nothing) and whose
:class:`~serkit.inference.predictor.Prediction` carries ``frames``, the
argmax label of each frame, and ``frame_rate``; ``label`` and
``probabilities`` are None.  :func:`frame_runs` turns those frames into
segments of equal labels for tables and CSV: the run of frames ``i`` to
``j - 1`` spans ``i / frame_rate`` to ``j / frame_rate`` seconds.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from serkit.inference.batching import batches, chunks, pad_batch, softmax
from serkit.inference.predictor import Backend, InferenceConfig, Prediction, Predictor, Segment, _Piece
from serkit.inference.spec import ModelSpec


def make_predictor(spec: ModelSpec, backend: Backend, config: InferenceConfig | None = None) -> Predictor:
    """The predictor a model's outputs call for: a transcript, per frame, or per utterance (or segment)."""
    if spec.ctc:
        from serkit.inference.ctc import CTCPredictor  # it builds on FramePredictor, below

        return CTCPredictor(spec, backend, config)
    return (FramePredictor if spec.frame else Predictor)(spec, backend, config)


class FramePredictor(Predictor):
    """A frame model's predictor: whole recordings, one label per frame."""

    def __init__(self, spec: ModelSpec, backend: Backend, config: InferenceConfig | None = None):
        super().__init__(spec, backend, dataclasses.replace(config or InferenceConfig(), segment="none"))

    def _score(self, pieces: list[_Piece], batch_size: int) -> None:
        """Each recording's probabilities per frame ``(frames, classes)``, scored in batches
        (shortest first) bounded in padded frames, the padding's frames cut off.  A recording
        longer than that, of a model with a finite context (``spec.context``), is scored in
        overlapping chunks whose kept outputs are those of the whole recording."""
        budget = self.config.max_batch_frames
        parts = [chunk for p, piece in enumerate(pieces)
                 for chunk in chunks(p, piece.inputs[0].shape[1], budget, self.spec.context)]
        outputs: list[np.ndarray] = [np.empty(0)] * len(parts)
        for batch in batches([c.stop - c.start for c in parts], batch_size, budget):
            x, _ = pad_batch([pieces[parts[i].owner].inputs[0][:, parts[i].start : parts[i].stop] for i in batch])
            logits = self.backend.logits(x, np.array([parts[i].stop - parts[i].start for i in batch]))
            for row, i in enumerate(batch):
                outputs[i] = logits[row, parts[i].keep : parts[i].keep + parts[i].kept]
        by_owner: dict[int, list[np.ndarray]] = {}
        for chunk, output in zip(parts, outputs):  # chunks are listed in time order
            by_owner.setdefault(chunk.owner, []).append(output)
        for p, piece in enumerate(pieces):
            frames = np.concatenate(by_owner[p])
            piece.probabilities = frames if self.spec.regression else softmax(frames)

    def _prediction(self, path: str | None, duration: float, pieces: list[_Piece], segmented: bool) -> Prediction:
        if self.spec.regression:  # a trace per target, and its means
            values = pieces[0].probabilities
            return Prediction(path, duration, values=dict(zip(self.labels, map(float, values.mean(axis=0)))),
                              trace={name: values[:, d].tolist() for d, name in enumerate(self.labels)},
                              frame_rate=self.spec.frame_rate)
        posteriors = pieces[0].probabilities
        labels = np.asarray(self.labels)[np.argmax(posteriors, axis=-1)].tolist()
        trace = ({name: posteriors[:, k].tolist() for k, name in enumerate(self.labels)}
                 if self.config.posteriors else None)
        return Prediction(path, duration, None, None, frames=labels, frame_rate=self.spec.frame_rate, trace=trace)


def frame_runs(prediction: Prediction) -> tuple[Segment, ...]:
    """A frame model's prediction as runs of equal labels, ``Segment(start, end, label, None)``;
    empty for any other prediction."""
    frames = prediction.frames or []
    if not frames:
        return ()
    starts = [k for k in range(len(frames)) if k == 0 or frames[k] != frames[k - 1]]
    ends = [*starts[1:], len(frames)]
    rate = prediction.frame_rate
    return tuple(Segment(i / rate, j / rate, frames[i], None) for i, j in zip(starts, ends))

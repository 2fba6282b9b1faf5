"""A frame classifier: seed 001's bidirectional LSTM giving one class per frame (phones).

The utterance models pool over time; this one does not.  A stack of
bidirectional LSTMs (:class:`~serkit.models.blstm.MaskedBLSTM`, unpacked so
that it exports to ONNX) reads the frames, and one linear layer gives each
frame's logits: ``(batch, frames, n_classes)``, as
:class:`~serkit.training.FrameClassification` takes them.  Outputs past an
item's length are padding (the loss and the metrics mask them); the valid
frames of a padded batch equal those of each item alone, because right
padding never reaches the forward direction and the backward direction runs
over each item reversed within its own length.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from torch import Tensor, nn

from serkit.models.base import UtteranceModel, check_common, check_positive
from serkit.models.blstm import MaskedBLSTM


@dataclasses.dataclass(frozen=True)
class FrameBLSTMConfig:
    n_dims: int
    n_classes: int
    hidden: int = 128
    num_layers: int = 2
    dropout: float = 0.25

    def __post_init__(self) -> None:
        check_common(self, "frame_blstm", n_pools=0)
        check_positive({"hidden": self.hidden, "num_layers": self.num_layers}, "frame_blstm")


class FrameBLSTM(UtteranceModel):
    """Logits per frame; options are the fields of :class:`FrameBLSTMConfig`.

    Its layers (``freeze``, ``init``) are ``rnn`` (the whole LSTM stack) and
    ``output``, the per-frame linear layer.
    """

    name = "frame_blstm"
    Config = FrameBLSTMConfig
    frame_level: ClassVar[bool] = True

    def __init__(self, n_dims: int, n_classes: int, **options):
        super().__init__(n_dims, n_classes, **options)
        c = self.config
        self.rnn = MaskedBLSTM(c.n_dims, c.hidden, c.num_layers)
        self.dropout = nn.Dropout(c.dropout)
        self.output = nn.Linear(2 * c.hidden, c.n_classes)

    def output_frames(self, frames: int) -> int:
        return frames

    def logits(self, x: Tensor, lengths: Tensor) -> Tensor:
        return self.output(self.dropout(self.rnn(x.transpose(1, 2), lengths)))

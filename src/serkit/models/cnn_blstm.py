"""The CNN+BLSTM of seed 000 (Pandey et al., section III-C): CNN features, BLSTM over time.

The convolution blocks of :mod:`serkit.models.cnn` extract features; each
remaining time step's channels x frequency bins form one vector, a
bidirectional LSTM (128 cells per direction) models the utterance over
those steps, and fully connected layers give the logits, with dropout 0.25
before them.  ``pooling`` summarises the BLSTM outputs as in
:mod:`serkit.models.blstm` (masked ``mean`` by default, ``max`` or ``last``).
"""

from __future__ import annotations

import dataclasses

from torch import Tensor

from serkit.models.base import UtteranceModel
from serkit.models.blstm import MaskedBLSTM, check_recurrent_options, summarise
from serkit.models.cnn import check_conv_options, seed000_convs
from serkit.models.layers import ClassifierHead


@dataclasses.dataclass(frozen=True)
class CNNBLSTMConfig:
    n_dims: int
    n_classes: int
    channels: tuple[int, ...] = (32, 64, 128)
    kernel_sizes: tuple[int, ...] = (4, 3, 3)
    hidden: int = 128
    num_layers: int = 1
    pooling: str = "mean"
    fc_units: int = 128
    dropout: float = 0.25

    def __post_init__(self) -> None:
        check_conv_options(self, "cnn_blstm")
        check_recurrent_options(self, "cnn_blstm")


class CNNBLSTM(UtteranceModel):
    """Seed 000's CNN+BLSTM; options are the fields of :class:`CNNBLSTMConfig`."""

    name = "cnn_blstm"
    Config = CNNBLSTMConfig

    def __init__(self, n_dims: int, n_classes: int, **options):
        super().__init__(n_dims, n_classes, **options)
        c = self.config
        self.convs = seed000_convs(c.channels, c.kernel_sizes)
        n_features = c.channels[-1] * self.convs.output_lengths(c.n_dims)
        self.rnn = MaskedBLSTM(n_features, c.hidden, c.num_layers)
        self.head = ClassifierHead(2 * c.hidden, c.fc_units, c.n_classes, c.dropout)

    def output_frames(self, frames: int) -> int:
        return self.convs.output_lengths(frames)

    def logits(self, x: Tensor, lengths: Tensor) -> Tensor:
        maps, lengths = self.convs(x[:, None], lengths)
        steps = maps.flatten(1, 2).transpose(1, 2)  # (batch, frames, channels x bins)
        outputs = self.rnn(steps, lengths)
        return self.head(summarise(outputs, lengths, self.config.pooling, self.config.hidden))

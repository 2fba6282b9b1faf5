"""The BLSTM of seed 000 (Pandey et al., section III-C): sequence to one, FC output.

A bidirectional LSTM with 128 cells per direction reads the frames; its
outputs are summarised over the utterance and fully connected layers give
the logits.  The paper says only "sequence-to-one"; ``pooling`` chooses the
summary:

* ``mean`` (default): the masked mean of both directions' outputs over the
  valid frames; every frame contributes, which suits emotion, spread over
  the utterance rather than held at its end;
* ``max``: the masked maximum;
* ``last``: the forward direction's output at the last valid frame beside
  the backward direction's at the first (each direction's final state).

The padded batch runs without packed sequences, so that it exports to ONNX:
right padding cannot reach the forward direction's valid outputs, and the
backward direction is a forward LSTM over each item reversed within its own
length (:func:`~serkit.models.masking.reverse_within_lengths`).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from serkit.models.base import UtteranceModel, check_choice, check_common, check_positive
from serkit.models.layers import ClassifierHead
from serkit.models.masking import (
    POOLINGS,
    fill_padding,
    length_mask,
    pool_time,
    reverse_within_lengths,
)

SUMMARIES = (*POOLINGS, "last")


@dataclasses.dataclass(frozen=True)
class BLSTMConfig:
    n_dims: int
    n_classes: int
    hidden: int = 128
    num_layers: int = 1
    pooling: str = "mean"
    fc_units: int = 128
    dropout: float = 0.25

    def __post_init__(self) -> None:
        check_recurrent_options(self, "blstm")
        check_common(self, "blstm", n_pools=0)


def check_recurrent_options(config, family: str) -> None:
    """Validate the BLSTM and classifier options (shared with ``cnn_blstm``)."""
    sizes = {"hidden": config.hidden, "num_layers": config.num_layers, "fc_units": config.fc_units}
    check_positive(sizes, family)
    check_choice(config.pooling, SUMMARIES, family, "pooling")


class MaskedBLSTM(nn.Module):
    """Stacked bidirectional LSTM over a right-padded ``(batch, frames, features)`` batch.

    Returns ``(batch, frames, 2 * hidden)``, forward direction first, zero
    past each item's length.  ``cell`` swaps the LSTMs for another recurrent
    layer with the same call (``nn.GRU`` for seed 003's GRU probe); the
    attribute names stay, so that saved BLSTM weights keep loading.
    """

    def __init__(
        self, n_inputs: int, hidden: int, num_layers: int = 1, cell: type[nn.RNNBase] = nn.LSTM
    ):
        super().__init__()
        sizes = [n_inputs] + [2 * hidden] * (num_layers - 1)
        self.forward_lstms = nn.ModuleList(cell(n, hidden, batch_first=True) for n in sizes)
        self.backward_lstms = nn.ModuleList(cell(n, hidden, batch_first=True) for n in sizes)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        mask = length_mask(lengths, x.shape[1])
        for ahead, behind in zip(self.forward_lstms, self.backward_lstms):
            forward_out, _ = ahead(x)
            backward_out, _ = behind(reverse_within_lengths(x, lengths))
            x = torch.cat([forward_out, reverse_within_lengths(backward_out, lengths)], dim=-1)
            x = fill_padding(x, mask, 0.0, dim=1)
        return x


def summarise(outputs: Tensor, lengths: Tensor, how: str, hidden: int) -> Tensor:
    """One vector per item of :class:`MaskedBLSTM` outputs, by ``how`` in :data:`SUMMARIES`."""
    mask = length_mask(lengths, outputs.shape[1])
    if how != "last":
        return pool_time(outputs, mask, how, dim=1)
    last = (mask.sum(1) - 1).clamp(min=0)
    index = last[:, None, None].expand(-1, 1, hidden)
    forward_final = outputs[:, :, :hidden].gather(1, index)[:, 0]
    backward_final = outputs[:, 0, hidden:]
    return torch.cat([forward_final, backward_final], dim=-1)


class BLSTM(UtteranceModel):
    """Seed 000's BLSTM; options are the fields of :class:`BLSTMConfig`."""

    name = "blstm"
    Config = BLSTMConfig

    def __init__(self, n_dims: int, n_classes: int, **options):
        super().__init__(n_dims, n_classes, **options)
        c = self.config
        self.rnn = MaskedBLSTM(c.n_dims, c.hidden, c.num_layers)
        self.head = ClassifierHead(2 * c.hidden, c.fc_units, c.n_classes, c.dropout)

    def output_frames(self, frames: int) -> int:
        return frames

    def logits(self, x: Tensor, lengths: Tensor) -> Tensor:
        outputs = self.rnn(x.transpose(1, 2), lengths)
        return self.head(summarise(outputs, lengths, self.config.pooling, self.config.hidden))

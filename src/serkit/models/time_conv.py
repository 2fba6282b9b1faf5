"""1-D convolutions over time for seed 004's continuous models: frames kept, centred or causal.

Seed 004's networks (:mod:`~serkit.models.dilated`, :mod:`~serkit.models.updown`,
:mod:`~serkit.models.receptive_probe`) read ``(batch, channels, frames)`` and give a value
per frame.  Their convolutions keep the number of frames: the input is zero-padded by the
kernel's span, either around the frame (``centred``, Keras' and TensorFlow's
``padding='same'``, which the paper's Keras models and the first author's published
TensorFlow code use; an even span looks one frame further ahead than back) or before it
(``causal``, WaveNet's: the output never reads a later frame).  The callers zero every
frame past an item's length after each layer, so a 'same'-padded convolution sees at an
item's end the zeros it would see alone: a padded batch equals its items alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ALIGNMENTS = ("centred", "causal")
ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


def time_padding(kernel: int, dilation: int, alignment: str) -> tuple[int, int]:
    """Zeros (before, after) that keep the frame count of a ``kernel``-tap convolution."""
    span = dilation * (kernel - 1)
    if alignment == "causal":
        return span, 0
    return span // 2, span - span // 2


def keras_init(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases, Keras' defaults, which the paper trained from."""
    nn.init.xavier_uniform_(module.weight)
    nn.init.zeros_(module.bias)


class TimeConv1d(nn.Conv1d):
    """A convolution over time that keeps the frame count, zero-padded as ``alignment`` says."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, dilation: int = 1,
                 alignment: str = "centred"):
        super().__init__(in_channels, out_channels, kernel, dilation=dilation)
        self.time_padding = time_padding(kernel, dilation, alignment)
        keras_init(self)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(F.pad(x, self.time_padding))


class FrameOutput(nn.Conv1d):
    """The per-frame linear output (a 1x1 convolution): ``(batch, channels, frames)`` to
    ``(batch, frames, outputs)``, the frame models' layout."""

    def __init__(self, channels: int, outputs: int):
        super().__init__(channels, outputs, 1)
        keras_init(self)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x).transpose(1, 2)

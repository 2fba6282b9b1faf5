"""Seed 004's dilated convolutional network (Khorram et al., Section 5.1, Figure 2): a value per frame.

**The network.**  ``depth`` stacked 1-D convolutions over the stacked 40 ms frames, each of
``width`` filters, layer ``n`` (from 0) with dilation ``2**n``, then a 1x1 convolution giving
each frame's outputs (arousal, valence): ``(batch, frames, n_outputs)``.  The paper's final
network has 10 layers of width 32 (Section 6.1), the defaults here.

**What the paper leaves open, and serkit's reading.**

* *Dilation.*  The paper counts dilation as the zeros between taps (``[w1, 0, w2, 0, w3]`` is
  "a dilation factor of one") and gives layer ``n`` "a dilation factor of 2^n".  Read
  literally, layer 0 would already skip a frame and the stack would leave frames unseen;
  serkit reads it as a tap spacing of ``2**n`` (Keras' ``dilation_rate``, which the paper's
  Keras models take, and WaveNet's doubling, its reference [15]).
* *Kernel.*  Not given.  2 taps, as WaveNet, tile the receptive field exactly (no frame seen
  twice, none skipped): ``1 + (kernel - 1) * (2**depth - 1)`` frames, 1024 (40.96 s) for the
  defaults, twice the 512 frames (20.48 s) past which Figure 1 saw its gains stop.
* *Alignment.*  ``centred`` (default): Keras' ``padding='same'``, the paper's toolkit default
  and the first author's published code; an utterance is processed whole, offline, as the
  BLSTM it is compared with, which reads both directions.  Of the receptive field, 511
  frames lie before the output frame and 512 after (an even span looks one frame further
  ahead).  ``causal`` reads only past frames (streaming); annotators' reaction lag makes the
  past the more informative side, which the paper does not model ("without the need for
  special handling of human evaluation lag").
* *Activation.*  The paper names tanh only (Section 4's probe); the first author's published
  TensorFlow models for the same data use tanh throughout, so it is the default (``relu``
  is the other choice).  No dropout in the paper (its regulariser is l2: the optimiser's weight
  decay); ``dropout`` is there for a search and defaults to 0.

**Padding.**  Every layer's output is zeroed past each item's length, so an item's
'same'-padded convolutions see zeros at its end in a batch exactly as alone (tested).
Weights start Glorot-uniform, biases zero (Keras' defaults).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from torch import Tensor, nn

from serkit.models.base import UtteranceModel, check_choice, check_common, check_positive
from serkit.models.masking import zero_padding
from serkit.models.time_conv import ACTIVATIONS, ALIGNMENTS, FrameOutput, TimeConv1d


@dataclasses.dataclass(frozen=True)
class DilatedConfig:
    n_dims: int
    #: Outputs per frame (arousal, valence...): the frame models' name for them.
    n_classes: int
    #: Convolution layers; layer n has dilation 2**n.
    depth: int = 10
    #: Filters per layer.
    width: int = 32
    kernel: int = 2
    alignment: str = "centred"
    activation: str = "tanh"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        check_common(self, "dilated", n_pools=0)
        check_positive({"depth": self.depth, "width": self.width, "kernel": self.kernel}, "dilated")
        check_choice(self.alignment, ALIGNMENTS, "dilated", "alignment")
        check_choice(self.activation, tuple(ACTIVATIONS), "dilated", "activation")


class DilatedCNN(UtteranceModel):
    """Outputs per frame; options are the fields of :class:`DilatedConfig`.

    Its layers (``freeze``, ``init``) are ``convs.0`` .. ``convs.{depth-1}`` and ``output``.
    """

    name = "dilated"
    Config = DilatedConfig
    frame_level: ClassVar[bool] = True

    def __init__(self, n_dims: int, n_classes: int, **options):
        super().__init__(n_dims, n_classes, **options)
        c = self.config
        self.convs = nn.ModuleList(
            TimeConv1d(c.n_dims if n == 0 else c.width, c.width, c.kernel, 2**n, c.alignment)
            for n in range(c.depth)
        )
        self.dropout = nn.Dropout(c.dropout)
        self.output = FrameOutput(c.width, c.n_classes)

    @property
    def receptive_field(self) -> tuple[int, int]:
        """Frames (before, after) the output frame that it reads: ``before + after + 1`` is
        ``1 + (kernel - 1) * (2**depth - 1)``."""
        return (sum(conv.time_padding[0] for conv in self.convs),
                sum(conv.time_padding[1] for conv in self.convs))

    def output_frames(self, frames: int) -> int:
        return frames

    def logits(self, x: Tensor, lengths: Tensor) -> Tensor:
        activation = ACTIVATIONS[self.config.activation]
        h = x
        for conv in self.convs:
            h = self.dropout(zero_padding(activation(conv(h)), lengths))
        return self.output(h)

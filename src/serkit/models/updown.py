"""Seed 004's down/up-sampling network (Khorram et al., Section 5.2, Figure 3): smooth traces per frame.

**The network.**  ``depth`` down-sampling layers (a convolution of ``width`` filters, then
max-pooling by ``factor``), one middle convolution at the lowest rate, ``depth`` transposed
convolutions of ``width`` filters and stride ``factor`` back to the input rate, and a 1x1
convolution giving each frame's outputs ``(batch, frames, n_outputs)``, exactly as many frames
as the input, whatever its length.  The paper's best (Section 6.1): 4 down, 1 middle, 4 up,
factor 3 (81x: one low-rate frame per 3.24 s), width 32 for arousal and 128 for valence.  The
output comes from a compressed signal, which is what makes it smooth (Figure 5).

**What the paper leaves open, and serkit's reading.**

* *Output layer.*  All four transposed convolutions have the stated width, so a linear 1x1
  convolution maps the last to the outputs (as the dilated network's Figure 2 ends).
* *Kernels.*  Not given.  ``kernel`` 5 (odd, so centred) for the convolutions; ``up_kernel``
  ``2 * factor - 1`` = 5 for the transposed ones: each low-rate frame then writes 5 frames
  centred on the 3 its pooling window covered, overlapping its neighbours' by one on each
  side, so a transposed convolution can express linear interpolation (the triangle
  ``1/3, 2/3, 1, 2/3, 1/3``) and learn smoother or sharper maps.  With ``up_kernel ==
  factor`` it could only repeat blocks; fewer taps than the stride would leave frames unwritten
  (refused).
* *Alignment, activation, initialisation.*  Centred ('same') convolutions, tanh, Glorot-uniform
  weights and zero biases: Keras' defaults and the first author's published code for the same
  data (``relu`` is the other activation).  Max-pooling windows do not overlap (stride = size).

**Any length, and padding.**  The input gets ``factor**depth - 1`` zero frames at its end (always,
so that the exported graph has no data-dependent branch): then every pooling window holding a
valid frame exists at every level, the up path returns ``factor**depth * ceil(frames /
factor**depth)`` frames, and the output is cropped to the input's frames.  Level ``l`` of an
item of ``n`` valid frames has ``ceil(n / factor**l)`` valid frames; everything past them is
zeroed after each layer, and a pooling window that runs past an item's end takes the maximum of
its valid frames only (the padding is -inf there).  The pooling grid starts at each item's own
first frame.  So an item's valid outputs are the same in any batch and alone (tested at lengths
not divisible by 81, shorter than 81, and through ONNX).  What remains is the edge every
recording has, alone or not: its last low-rate frame summarises a partial window, and the
convolutions read zeros past both ends.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor, nn

from serkit.models.base import UtteranceModel, check_choice, check_common, check_option, check_positive
from serkit.models.masking import fill_padding, length_mask, zero_padding
from serkit.models.time_conv import ACTIVATIONS, FrameOutput, TimeConv1d, keras_init

#: Largest total down-sampling: every input gets this many frames minus one at its end.
MAX_REDUCTION = 1 << 14


@dataclasses.dataclass(frozen=True)
class UpDownConfig:
    n_dims: int
    #: Outputs per frame (arousal, valence...).
    n_classes: int
    #: Down-sampling layers, and as many transposed convolutions back up.
    depth: int = 4
    #: Filters of every layer but the output.
    width: int = 32
    #: Max-pooling size and stride, and the transposed convolutions' stride.
    factor: int = 3
    #: Taps of the down-sampling and middle convolutions.
    kernel: int = 5
    #: Taps of the transposed convolutions.
    up_kernel: int = 5
    activation: str = "tanh"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        check_common(self, "updown", n_pools=0)
        check_positive({"depth": self.depth, "width": self.width, "factor": self.factor, "kernel": self.kernel,
                        "up_kernel": self.up_kernel}, "updown")
        check_option(self.factor >= 2, "updown", f"factor must be at least 2, not {self.factor}")
        check_option(self.up_kernel >= self.factor, "updown",
                     f"up_kernel {self.up_kernel} < factor {self.factor} would leave frames unwritten")
        check_option(self.factor**self.depth <= MAX_REDUCTION, "updown",
                     f"factor**depth = {self.factor ** self.depth} is over {MAX_REDUCTION} frames")
        check_choice(self.activation, tuple(ACTIVATIONS), "updown", "activation")


class Upsample(nn.ConvTranspose1d):
    """A transposed convolution from ``n`` frames to exactly ``factor * n``, each input frame's
    taps centred on the ``factor`` frames its pooling window covered."""

    def __init__(self, channels: int, kernel: int, factor: int):
        super().__init__(channels, channels, kernel, stride=factor)
        self.offset = (kernel - factor) // 2
        keras_init(self)

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        frames = self.stride[0] * x.shape[-1]
        return super().forward(x)[..., self.offset:self.offset + frames]


class UpDownCNN(UtteranceModel):
    """Outputs per frame; options are the fields of :class:`UpDownConfig`.

    Its layers (``freeze``, ``init``) are ``down.0`` .. ``down.{depth-1}``, ``middle``,
    ``up.0`` .. ``up.{depth-1}`` and ``output``.
    """

    name = "updown"
    Config = UpDownConfig
    frame_level: ClassVar[bool] = True

    def __init__(self, n_dims: int, n_classes: int, **options):
        super().__init__(n_dims, n_classes, **options)
        c = self.config
        self.down = nn.ModuleList(
            TimeConv1d(c.n_dims if i == 0 else c.width, c.width, c.kernel) for i in range(c.depth)
        )
        self.middle = TimeConv1d(c.width, c.width, c.kernel)
        self.up = nn.ModuleList(Upsample(c.width, c.up_kernel, c.factor) for _ in range(c.depth))
        self.dropout = nn.Dropout(c.dropout)
        self.output = FrameOutput(c.width, c.n_classes)

    def output_frames(self, frames: int) -> int:
        return frames

    def logits(self, x: Tensor, lengths: Tensor) -> Tensor:
        c = self.config
        activation = ACTIVATIONS[c.activation]
        frames = x.shape[-1]
        h = F.pad(x, (0, c.factor**c.depth - 1))
        levels = []
        for conv in self.down:
            levels.append(lengths)
            h = activation(conv(h))
            h = F.max_pool1d(fill_padding(h, length_mask(lengths, h.shape[-1]), float("-inf")), c.factor)
            lengths = (lengths + c.factor - 1) // c.factor
            h = self.dropout(zero_padding(h, lengths))
        h = self.dropout(zero_padding(activation(self.middle(h)), lengths))
        for conv, lengths in zip(self.up, reversed(levels)):
            h = self.dropout(zero_padding(activation(conv(h)), lengths))
        return self.output(h[..., :frames])

"""Seed 004's receptive-field probe (Khorram et al., Section 4, Figure 1): how much context pays.

"A convolutional layer with one filter of variable length from 2 to 2048 frames, followed by a
tanh non-linearity, followed by a linear regression layer": one filter of ``length`` stacked
40 ms frames over every input dimension, tanh, and a per-frame linear layer giving the outputs
``(batch, frames, n_outputs)``.  Sweeping ``length`` (2 to 512 frames, 0.08 to 20.48 s) and
plotting development CCC against it is Figure 1; the paper saw gains stop past 512, the default.

The filter is centred on the output frame (``padding='same'``, the paper's Keras default and
the first author's published code; an even length reads one frame more ahead than back), or
``causal``.  Its output is zeroed past each item's length before the linear layer, so a padded
batch equals its items alone.

**Speed.**  PyTorch computes the filter by FFT: the same values to float rounding (tested), at a
cost that hardly grows with its length, where a direct 512-tap filter over a 5-minute recording
is some fifty times slower and would take most of Figure 1's budget.  An ONNX export convolves
directly (the legacy exporter has no FFT), so the exported graph is one fixed computation.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
from torch import Tensor

from serkit.models.base import UtteranceModel, check_choice, check_common, check_positive
from serkit.models.masking import zero_padding
from serkit.models.time_conv import ALIGNMENTS, FrameOutput, TimeConv1d


@dataclasses.dataclass(frozen=True)
class ReceptiveProbeConfig:
    n_dims: int
    #: Outputs per frame (arousal, valence...).
    n_classes: int
    #: The filter's length in frames.
    length: int = 512
    alignment: str = "centred"

    def __post_init__(self) -> None:
        check_common(self, "receptive_probe", n_pools=0)
        check_positive({"length": self.length}, "receptive_probe")
        check_choice(self.alignment, ALIGNMENTS, "receptive_probe", "alignment")


class ReceptiveProbe(UtteranceModel):
    """Outputs per frame from one filter; options are the fields of :class:`ReceptiveProbeConfig`.

    Its layers are ``filter`` and ``output``.
    """

    name = "receptive_probe"
    Config = ReceptiveProbeConfig
    frame_level: ClassVar[bool] = True

    def __init__(self, n_dims: int, n_classes: int, **options):
        super().__init__(n_dims, n_classes, **options)
        c = self.config
        self.filter = TimeConv1d(c.n_dims, 1, c.length, alignment=c.alignment)
        self.output = FrameOutput(1, c.n_classes)

    def output_frames(self, frames: int) -> int:
        return frames

    def logits(self, x: Tensor, lengths: Tensor) -> Tensor:
        filtered = self.filter(x) if torch.jit.is_tracing() else fft_filter(x, self.filter)
        return self.output(zero_padding(torch.tanh(filtered), lengths))


def fft_filter(x: Tensor, conv: TimeConv1d) -> Tensor:
    """``conv(x)`` (undilated) by FFT: a linear, not circular, correlation of every frame."""
    frames, taps = x.shape[-1], conv.kernel_size[0]
    size = 1 << (frames + taps - 2).bit_length()  # a power of two >= frames + taps - 1
    spectrum = torch.fft.rfft(x, n=size).unsqueeze(1) * torch.fft.rfft(conv.weight.flip(-1), n=size)
    full = torch.fft.irfft(spectrum.sum(2), n=size)
    start = taps - 1 - conv.time_padding[0]
    return full[..., start:start + frames] + conv.bias[:, None]

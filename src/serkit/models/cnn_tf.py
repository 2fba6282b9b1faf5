"""CNN_TF of seed 002 (Li et al., Figure 1, sections 2.2-2.4 and 3.3) with its three pooling heads.

Conv1 concatenates 8 frequency-specific 10x2 filters (10 bins, about 100 Hz
at the paper's 10 Hz resolution, by 2 frames) and 8 time-specific 2x8 filters
(2 bins by 8 frames, 80 ms) into 16 maps; in the paper's figure 2 height is
frequency and width is time.  Four 3x3 convolutions follow (Conv2-Conv5);
every convolution has batch normalisation and ReLU; then a pooling head
chosen by ``head``: ``gap``, ``bilinear`` or ``attention`` (default, the
paper's best), see :mod:`serkit.models.pooling`.

The paper gives no widths beyond Conv5's 80 channels (implied by its
6400-dimensional bilinear feature) and does not say where its 2x2 max
poolings sit.  Our choice: widths 32, 48, 64, 80 for Conv2-Conv5 (growing
evenly to 80); a 2x2 max pooling after Conv1 to Conv4 and none after Conv5,
so the heads see the finest map left (25x12 positions of the paper's
400x200 input) and the costly 3x3 layers run at a quarter of the input
resolution or less.  So an input needs at least 16 bins and 16 frames.
Convolutions are 'same'-padded; there is no dropout (the paper uses none).

``channels=()`` is the probe of the paper's filter-shape study (Section 3.2, Figure 2): Conv1
alone, its maps pooled by the head with no max pooling ("we directly applied GAP to its feature
map and used the fully-connected layer (16:4)"); with ``frequency_kernel`` equal to
``time_kernel`` its 2 x ``n_filters`` filters all have the one shape under study.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from serkit.configs import added_later
from serkit.models.base import (
    UtteranceModel,
    check_choice,
    check_common,
    check_option,
    check_positive,
)
from serkit.models.layers import ConvBlock, ConvStack, SameConv2d
from serkit.models.masking import length_mask
from serkit.models.pooling import HEAD_CLASSES, HEADS


@dataclasses.dataclass(frozen=True)
class CNNTFConfig:
    n_dims: int
    n_classes: int
    head: str = "attention"
    n_filters: int = 8
    frequency_kernel: tuple[int, int] = (10, 2)
    time_kernel: tuple[int, int] = (2, 8)
    channels: tuple[int, ...] = (32, 48, 64, 80)
    #: The bilinear head's feature scale (:class:`~serkit.models.pooling.BilinearPooling`; 1: the paper).
    bilinear_scale: float = added_later(1.0)

    def __post_init__(self) -> None:
        check_choice(self.head, HEADS, "cnn_tf", "head")
        check_option(self.bilinear_scale > 0, "cnn_tf", f"bilinear_scale must be positive, not {self.bilinear_scale}")
        check_option(self.head == "bilinear" or self.bilinear_scale == 1.0, "cnn_tf",
                     f"bilinear_scale is the bilinear head's; the {self.head} head has none")
        check_positive(
            {
                "n_filters": self.n_filters,
                "frequency_kernel": self.frequency_kernel,
                "time_kernel": self.time_kernel,
                **({"channels": self.channels} if self.channels else {}),
            },
            "cnn_tf",
        )
        for field in ("frequency_kernel", "time_kernel"):
            shape_ok = len(getattr(self, field)) == 2
            check_option(shape_ok, "cnn_tf", f"{field} must be (bins, frames)")
        # pooling after Conv1 and every 3x3 convolution but the last
        check_common(self, "cnn_tf", n_pools=len(self.channels))


class TimeFrequencyConv(nn.Module):
    """Conv1: frequency-specific and time-specific filters side by side, maps concatenated."""

    def __init__(
        self, n_filters: int, frequency_kernel: tuple[int, int], time_kernel: tuple[int, int]
    ):
        super().__init__()
        self.frequency = SameConv2d(1, n_filters, frequency_kernel)
        self.time = SameConv2d(1, n_filters, time_kernel)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.frequency(x), self.time(x)], dim=1)


class CNNTF(UtteranceModel):
    """Seed 002's CNN_TF; options are the fields of :class:`CNNTFConfig`."""

    name = "cnn_tf"
    Config = CNNTFConfig

    def __init__(self, n_dims: int, n_classes: int, **options):
        super().__init__(n_dims, n_classes, **options)
        c = self.config
        conv1 = TimeFrequencyConv(c.n_filters, c.frequency_kernel, c.time_kernel)
        first = ConvBlock(conv1, 2 * c.n_filters, pool=bool(c.channels))
        ins = (2 * c.n_filters, *c.channels[:-1])
        last = len(c.channels) - 1
        self.convs = ConvStack(
            [first]
            + [
                ConvBlock(SameConv2d(i, o, (3, 3)), o, pool=n < last)
                for n, (i, o) in enumerate(zip(ins, c.channels))
            ]
        )
        head_options = {"scale": c.bilinear_scale} if c.head == "bilinear" else {}
        self.head = HEAD_CLASSES[c.head]((2 * c.n_filters, *c.channels)[-1], c.n_classes, **head_options)

    def output_frames(self, frames: int) -> int:
        return self.convs.output_lengths(frames)

    def logits(self, x: Tensor, lengths: Tensor) -> Tensor:
        maps, lengths = self.convs(x[:, None], lengths)
        return self.head(maps, length_mask(lengths, maps.shape[-1]))

"""The CNN of seed 000 (Pandey et al., section III-C): three convolution blocks and FC layers.

Convolutions of 4x4 with 32 maps, then 3x3 with 64 and 3x3 with 128, each
followed by batch normalisation, ReLU and 2x2 max pooling; dropout 0.25
before the fully connected layers.

Two choices the paper leaves open or that we change, on purpose:

* The paper flattens a fixed 129x251 input into the FC layers.  Here the
  feature maps are flattened per time step (channels x remaining frequency
  bins) and pooled over the remaining time with a mask, so any length works
  and padding never matters.  ``pooling`` picks masked ``mean`` (default) or
  ``max``.
* Convolutions are 'same'-padded (the paper does not say), so only pooling
  shrinks the axes; the FC layers are one hidden layer of ``fc_units`` (128)
  with ReLU, then the output layer.
"""

from __future__ import annotations

import dataclasses

from torch import Tensor

from serkit.models.base import (
    UtteranceModel,
    check_choice,
    check_common,
    check_option,
    check_positive,
)
from serkit.models.layers import ClassifierHead, ConvBlock, ConvStack, SameConv2d
from serkit.models.masking import POOLINGS, length_mask, pool_time


@dataclasses.dataclass(frozen=True)
class CNNConfig:
    n_dims: int
    n_classes: int
    channels: tuple[int, ...] = (32, 64, 128)
    kernel_sizes: tuple[int, ...] = (4, 3, 3)
    pooling: str = "mean"
    fc_units: int = 128
    dropout: float = 0.25

    def __post_init__(self) -> None:
        check_conv_options(self, "cnn")
        check_positive({"fc_units": self.fc_units}, "cnn")
        check_choice(self.pooling, POOLINGS, "cnn", "pooling")


def check_conv_options(config, family: str) -> None:
    """Validate the seed-000 convolutions and the dims they need (shared with ``cnn_blstm``)."""
    check_positive({"channels": config.channels, "kernel_sizes": config.kernel_sizes}, family)
    check_option(
        len(config.channels) == len(config.kernel_sizes),
        family,
        f"channels {config.channels} and kernel_sizes {config.kernel_sizes} differ in length",
    )
    check_common(config, family, n_pools=len(config.channels))


def seed000_convs(channels: tuple[int, ...], kernel_sizes: tuple[int, ...]) -> ConvStack:
    """The convolution blocks of seed 000 over a one-channel ``(dims, frames)`` image."""
    ins = (1, *channels[:-1])
    return ConvStack(
        ConvBlock(SameConv2d(i, o, (k, k)), o) for i, o, k in zip(ins, channels, kernel_sizes)
    )


class CNN(UtteranceModel):
    """Seed 000's CNN; options are the fields of :class:`CNNConfig`."""

    name = "cnn"
    Config = CNNConfig

    def __init__(self, n_dims: int, n_classes: int, **options):
        super().__init__(n_dims, n_classes, **options)
        c = self.config
        self.convs = seed000_convs(c.channels, c.kernel_sizes)
        n_features = c.channels[-1] * self.convs.output_lengths(c.n_dims)
        self.head = ClassifierHead(n_features, c.fc_units, c.n_classes, c.dropout)

    def output_frames(self, frames: int) -> int:
        return self.convs.output_lengths(frames)

    def logits(self, x: Tensor, lengths: Tensor) -> Tensor:
        maps, lengths = self.convs(x[:, None], lengths)
        steps = maps.flatten(1, 2)  # (batch, channels x bins, frames)
        mask = length_mask(lengths, steps.shape[-1])
        return self.head(pool_time(steps, mask, self.config.pooling))

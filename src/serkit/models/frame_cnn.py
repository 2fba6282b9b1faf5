"""Seed 001's frame-level ConvNet (Fayek et al., Table 1): a class per frame from its 31-frame context.

**The network, per window.**  Each frame is classified from a window of
``context`` frames centred on it (31, 40 log-mel bands): convolution 64 maps
5x4 (5 frames by 4 bands; the paper gives "5 x 4" without axes, and serkit
reads it as Kaldi's feature matrices are laid out, frames first), batch norm,
ReLU, max-pool 2x2 stride 2; convolution 128 maps 3x3, batch norm, ReLU,
max-pool 2x2 stride 2; three fully connected layers of 1024 with batch norm,
ReLU and dropout 0.4 (the paper's retention 0.6); a linear output layer
(softmax belongs to the loss).  Convolutions and poolings use no padding
("valid"), pooling drops an odd last row or column, so 31x40 becomes 5x8
before the first fully connected layer.  Weights are He-normal
(``N(0, 2/fan_in)``), biases zero.

**The network, per utterance.**  Windows of neighbouring frames overlap by 30
frames, so running the network once per window repeats almost all of the
convolution work.  Here it runs once over the whole utterance, zero-padded by
``context // 2`` frames at each end (zero is the training mean after
normalisation), and gives exactly the per-window outputs: pooling with stride
2 in time is taken at every frame (stride 1), and every later layer reads the
pooled map with its time taps spread by the strides so far (dilation 2 for the
second convolution and pooling, 4 for the first fully connected layer, which
is a convolution spanning the window's 5x8 pooled map).  Output ``t`` is then
the window centred on frame ``t`` (``tests/test_frame_cnn.py`` checks it
against the plain per-window network).  The fully connected layers are 1x1
convolutions over the frames.

**Training on every k-th frame.**  :meth:`FrameCNN.logits_at` runs the fully
connected layers (most of the cost) only at frames ``offset, offset + k, ...``
(the convolutions still cover every frame, as the windows need them); the
trainer's ``frame_step`` uses it.

**Layers.**  :meth:`FrameCNN.layers` lists them as the paper numbers them:
``conv1``, ``conv2`` (1-2), ``fc3``, ``fc4``, ``fc5`` (3-5) and ``output``
(6), each with its batch norm, so ``freeze: l`` holds the paper's first ``l``.

**Frozen layers computed once.**  With layers 1-3 frozen (``freeze`` 3 to 5)
their output depends on the input alone: frozen batch norms use their running
statistics, and the first dropout comes after layer 3.  :meth:`FrameCNN.frozen_split`
then gives layer 3's output per frame (after its ReLU, before that dropout) and
a :class:`FrameCNNHead`, layers 4-6 as modules shared with the model, which
trains on those outputs instead of the log-mel input: the same network, about
four times fewer operations a training step (``tests/test_frame_cnn.py``).
The cut cannot sit higher: the dropout after layer 3 draws afresh each step,
so layer 4's output is not fixed even when its weights are.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from serkit.models.base import UtteranceModel, check_option, check_positive
from serkit.models.layers import MaskedBatchNorm2d
from serkit.models.masking import length_mask, zero_padding

#: Time taps of the first fully connected layer are this far apart: the two poolings' strides.
_FC_DILATION = 4


@dataclasses.dataclass(frozen=True)
class FrameCNNConfig:
    n_dims: int
    n_classes: int
    #: Frames per window, centred on the frame classified (odd).
    context: int = 31
    channels: tuple[int, int] = (64, 128)
    #: Kernels as (frames, bands).
    kernel1: tuple[int, int] = (5, 4)
    kernel2: tuple[int, int] = (3, 3)
    hidden: int = 1024
    dropout: float = 0.4

    def __post_init__(self) -> None:
        check_positive({"n_dims": self.n_dims, "n_classes": self.n_classes, "context": self.context,
                        "channels": self.channels, "kernel1": self.kernel1, "kernel2": self.kernel2,
                        "hidden": self.hidden}, "frame_cnn")
        check_option(self.context % 2 == 1, "frame_cnn", f"context must be odd (centred), not {self.context}")
        check_option(len(self.channels) == 2 and len(self.kernel1) == 2 and len(self.kernel2) == 2, "frame_cnn",
                     "channels, kernel1 and kernel2 take two values each")
        check_option(0.0 <= self.dropout < 1.0, "frame_cnn", "dropout must be in [0, 1)")
        check_option(min(self.pooled_window) >= 1, "frame_cnn",
                     f"a {self.context}-frame window of {self.n_dims} dims does not survive the two poolings")

    @property
    def context_each_side(self) -> int:
        """Input frames on each side that one output frame depends on (half its window)."""
        return self.context // 2

    @property
    def pooled_window(self) -> tuple[int, int]:
        """(frames, bands) of one window after the second pooling (5x8 for Table 1)."""
        return _pooled(self.context, self.kernel1[0], self.kernel2[0]), _pooled(
            self.n_dims, self.kernel1[1], self.kernel2[1])


def _pooled(size: int, kernel1: int, kernel2: int) -> int:
    return ((size - kernel1 + 1) // 2 - kernel2 + 1) // 2


class _ConvLayer(nn.Module):
    """Convolution and batch norm (a numbered layer); ReLU and pooling are applied by the model."""

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int], dilation: int):
        super().__init__()
        # (bands, frames) on the tensor's last two axes; time taps spread by ``dilation``
        self.conv = nn.Conv2d(in_channels, out_channels, (kernel[1], kernel[0]), dilation=(1, dilation))
        self.norm = MaskedBatchNorm2d(out_channels)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        return self.norm(self.conv(x), mask)


class _DenseLayer(nn.Module):
    """A fully connected layer applied at every frame (a convolution), with its batch norm."""

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int] = (1, 1), dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, dilation=(1, dilation))
        self.norm = MaskedBatchNorm2d(out_channels)

    def forward(self, x: Tensor, mask: Tensor, step: int = 1) -> Tensor:
        return self.norm(F.conv2d(x, self.conv.weight, self.conv.bias, stride=(1, step),
                                  dilation=self.conv.dilation), mask)


class FrameCNN(UtteranceModel):
    """Logits per frame ``(batch, frames, n_classes)``; options are :class:`FrameCNNConfig`'s fields."""

    name = "frame_cnn"
    Config = FrameCNNConfig
    frame_level: ClassVar[bool] = True

    def __init__(self, n_dims: int, n_classes: int, **options):
        super().__init__(n_dims, n_classes, **options)
        c = self.config
        frames, bands = c.pooled_window
        self.conv1 = _ConvLayer(1, c.channels[0], c.kernel1, dilation=1)
        self.conv2 = _ConvLayer(c.channels[0], c.channels[1], c.kernel2, dilation=2)
        self.fc3 = _DenseLayer(c.channels[1], c.hidden, (bands, frames), dilation=_FC_DILATION)
        self.fc4 = _DenseLayer(c.hidden, c.hidden)
        self.fc5 = _DenseLayer(c.hidden, c.hidden)
        self.output = nn.Conv2d(c.hidden, c.n_classes, 1)
        self.dropout = nn.Dropout(c.dropout)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):  # He-normal, as the paper
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def layers(self) -> list[tuple[str, nn.Module]]:
        return [(name, getattr(self, name)) for name in ("conv1", "conv2", "fc3", "fc4", "fc5", "output")]

    def output_frames(self, frames: int) -> int:
        return frames

    def logits(self, x: Tensor, lengths: Tensor) -> Tensor:
        return self.logits_at(x, lengths, 1, 0)

    def logits_at(self, x: Tensor, lengths: Tensor, step: int, offset: int) -> Tensor:
        """Logits at frames ``offset, offset + step, ...`` of the batch's time axis only."""
        h, mask = self._first_dense(x, lengths, step, offset)
        return _upper_layers(h, mask, (self.fc4, self.fc5), self.output, self.dropout)

    #: Frozen layers from which :meth:`frozen_split` can cut: layer 3's output is then fixed.
    SPLIT_FROM = 3

    def frozen_split(self, n_frozen: int) -> tuple[Callable[[Tensor, Tensor], Tensor], FrameCNNHead] | None:
        """With the first ``n_frozen`` >= 3 layers frozen: (layer 3's output per frame, a head over
        it sharing this model's layers 4-6); None for fewer (see the module docstring)."""
        if n_frozen < self.SPLIT_FROM:
            return None
        return self.first_dense_outputs, FrameCNNHead(self)

    def first_dense_outputs(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Layer 3's output at every frame, after its ReLU and before dropout: ``(batch, hidden, frames)``
        (call in evaluation mode: its batch norms then use their running statistics)."""
        h, _ = self._first_dense(zero_padding(x, lengths), lengths, 1, 0)
        return h.squeeze(2)

    def _first_dense(self, x: Tensor, lengths: Tensor, step: int, offset: int) -> tuple[Tensor, Tensor]:
        """Layers 1-3 at the selected frames: ``(batch, hidden, 1, selected)`` after ReLU, and their mask."""
        frames = x.shape[-1]
        half = self.config.context // 2
        h = F.pad(x, (half, half)).unsqueeze(1)  # (batch, 1, bands, frames + context - 1)
        padded = lengths + 2 * half
        h, padded = self._conv(self.conv1, h, padded, pool_dilation=1)
        h, _ = self._conv(self.conv2, h, padded, pool_dilation=2)
        # the first dense layer at the selected window starts only (window t starts at padded frame t)
        selected = math.ceil((frames - offset) / step)
        span = (selected - 1) * step + 1 + _FC_DILATION * (self.config.pooled_window[0] - 1)
        valid = torch.div(lengths - offset + step - 1, step, rounding_mode="floor").clamp(min=0)
        mask = length_mask(valid, selected)
        return F.relu(self.fc3(h[..., offset:offset + span], mask, step)), mask

    @staticmethod
    def _conv(layer: _ConvLayer, h: Tensor, lengths: Tensor, pool_dilation: int) -> tuple[Tensor, Tensor]:
        """Convolution, batch norm, ReLU, then 2x2 max-pooling: stride 2 over bands, every frame in time."""
        shrink = layer.conv.dilation[1] * (layer.conv.kernel_size[1] - 1)
        h = layer(h, length_mask(lengths - shrink, h.shape[-1] - shrink))
        h = F.max_pool2d(F.relu(h), kernel_size=2, stride=(2, 1), dilation=(1, pool_dilation))
        return h, lengths - shrink - pool_dilation


def _upper_layers(h: Tensor, mask: Tensor, dense: tuple[_DenseLayer, ...], output: nn.Conv2d,
                  dropout: nn.Dropout) -> Tensor:
    """Layers 4-6 from layer 3's output ``(batch, hidden, 1, frames)``: logits ``(batch, frames, classes)``."""
    h = dropout(h)
    for layer in dense:
        h = dropout(F.relu(layer(h, mask)))
    return output(h).squeeze(2).transpose(1, 2)


@dataclasses.dataclass(frozen=True)
class FrameCNNHeadConfig:
    #: Layer 3's width (the model's ``hidden``).
    n_dims: int
    n_classes: int
    dropout: float = 0.4


class FrameCNNHead(UtteranceModel):
    """A :class:`FrameCNN`'s layers 4-6 over its layer 3's outputs ``(batch, hidden, frames)``.

    Its modules are the model's own (training the head trains the model), so it is built from a
    model, never from a configuration, and is saved as part of that model."""

    name = "frame_cnn_head"
    Config = FrameCNNHeadConfig
    frame_level: ClassVar[bool] = True

    def __init__(self, model: FrameCNN):
        super().__init__(model.config.hidden, model.config.n_classes, dropout=model.config.dropout)
        self.fc4, self.fc5, self.output, self.dropout = model.fc4, model.fc5, model.output, model.dropout

    def output_frames(self, frames: int) -> int:
        return frames

    def logits(self, x: Tensor, lengths: Tensor) -> Tensor:
        return self.logits_at(x, lengths, 1, 0)

    def logits_at(self, x: Tensor, lengths: Tensor, step: int, offset: int) -> Tensor:
        selected = x[..., offset::step]
        valid = torch.div(lengths - offset + step - 1, step, rounding_mode="floor").clamp(min=0)
        mask = length_mask(valid, selected.shape[-1])
        # channels-last, as layer 3's output is when serkit trains the model (training_layout):
        # dropout draws its mask in memory order, so the head then draws the model's masks
        h = selected.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        return _upper_layers(h, mask, (self.fc4, self.fc5), self.output, self.dropout)

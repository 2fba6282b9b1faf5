"""Seed 003's speech recognizer (Lakomkin et al. 2017, Section 3.1.1, Figure 2): DeepSpeech 2-like.

Two 2-D convolutions over a spectrogram ``(batch, bins, frames)``, each with
batch norm and DeepSpeech 2's clipped ReLU (``min(max(x, 0), 20)``), then
``num_layers`` bidirectional GRU layers (the paper has five) and a linear
layer giving each output frame's character logits ``(batch, frames,
n_classes)``, class 0 the CTC blank, as :class:`serkit.training.ctc.CTCRecognition`
takes them.  The convolutions' kernels and strides are DeepSpeech 2's
(Amodei et al. 2016, as ``deepspeech.pytorch`` builds them): 41x11 then
21x11 (bins by frames), strides 2x2 then 2x1, zero padding of half a kernel,
so 161 bins become 41 and the output runs at half the input's frame rate
(:meth:`DS2.output_lengths`: ``ceil(frames / 2)``).  Every GRU layer but the
first reads its input through batch norm (DeepSpeech 2's sequence-wise
normalisation); the directions' outputs are concatenated.  The widths are
sized for a CPU: 16 maps per convolution (DeepSpeech 2: 32) and 192 cells per
direction (3.7 M parameters; DeepSpeech 2 has hundreds of cells more), a
training step on one thread costs about 40 ms per second of audio.

**Padding.**  Every layer zeroes its outputs past each item's valid length
(the convolutions' lengths follow their strides), and the GRUs run without
packed sequences (:class:`~serkit.models.blstm.MaskedBLSTM`), so a padded
batch gives each item's logits as alone, and the model exports to ONNX.
Past an item's last output frame the logits say blank with certainty (0 for
the blank, :data:`PAD_LOGIT` for every character): the ctc task and the
predictor count an item's frames at the input rate, and these trailing
blanks add nothing to the CTC loss (each is the blank with probability 1)
and change no decoding (a blank ends no prefix and adds none).

**Layers.**  :meth:`DS2.layers` lists ``conv1``, ``conv2``, ``gru1`` ...
``gruN``, ``output``, so that the paper's layer x (its x-th GRU layer) is
``gru{x}`` for ``freeze`` and ``init``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from serkit.models.base import UtteranceModel, check_common, check_option, check_positive
from serkit.models.blstm import MaskedBLSTM
from serkit.models.layers import MaskedBatchNorm2d
from serkit.models.masking import Length, fill_padding, length_mask, output_lengths

#: DeepSpeech 2's clipped ReLU ceiling.
CLIP = 20.0
#: Logit of every character past an item's end (the blank's is 0): probability exp(-1e4) = 0.
PAD_LOGIT = -1e4


@dataclasses.dataclass(frozen=True)
class DS2Config:
    n_dims: int
    n_classes: int
    #: Feature maps of conv1 and conv2.
    channels: tuple[int, int] = (16, 16)
    #: Kernel sizes along the bins and along the frames (odd: the padding centres them).
    freq_kernels: tuple[int, int] = (41, 21)
    time_kernels: tuple[int, int] = (11, 11)
    freq_strides: tuple[int, int] = (2, 2)
    #: The output frame rate is the input's divided by their product.
    time_strides: tuple[int, int] = (2, 1)
    #: GRU cells per direction.
    hidden: int = 192
    num_layers: int = 5
    #: Before the output layer.
    dropout: float = 0.0

    def __post_init__(self) -> None:
        check_common(self, "ds2", n_pools=0)
        pairs = {"channels": self.channels, "freq_kernels": self.freq_kernels, "time_kernels": self.time_kernels,
                 "freq_strides": self.freq_strides, "time_strides": self.time_strides}
        check_positive({**pairs, "hidden": self.hidden, "num_layers": self.num_layers}, "ds2")
        check_option(all(k % 2 for k in (*self.freq_kernels, *self.time_kernels)), "ds2",
                     f"kernels must be odd, not {self.freq_kernels} x {self.time_kernels}")
        check_option(self.n_classes >= 2, "ds2", "needs the blank and at least one character")


class _ConvLayer(nn.Module):
    """Strided convolution (zero padding of half a kernel), masked batch norm, clipped ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int], stride: tuple[int, int]):
        super().__init__()
        padding = (kernel[0] // 2, kernel[1] // 2)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, padding, bias=False)  # the norm has one
        self.norm = MaskedBatchNorm2d(out_channels)

    def bins(self, bins: int) -> int:
        """Size of the bins axis after the convolution."""
        return output_lengths(bins, self.conv.kernel_size[0], self.conv.stride[0], 2 * self.conv.padding[0])

    def output_lengths(self, lengths: Length) -> Length:
        return output_lengths(lengths, self.conv.kernel_size[1], self.conv.stride[1], 2 * self.conv.padding[1])

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        h = self.conv(x)
        lengths = self.output_lengths(lengths)
        mask = length_mask(lengths, h.shape[-1])
        h = F.hardtanh(self.norm(h, mask), 0.0, CLIP)
        return fill_padding(h, mask, 0.0), lengths  # zeros past each end, as the next layer's padding


class _GRULayer(nn.Module):
    """A bidirectional GRU layer over ``(batch, frames, features)``, its input batch-normalised
    (over the valid frames) unless it is the first."""

    def __init__(self, n_inputs: int, hidden: int, norm: bool):
        super().__init__()
        self.norm = MaskedBatchNorm2d(n_inputs) if norm else None
        self.rnn = MaskedBLSTM(n_inputs, hidden, 1, cell=nn.GRU)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        if self.norm is not None:  # as (batch, features, 1, frames), the layout the norm takes
            mask = length_mask(lengths, x.shape[1])
            x = fill_padding(self.norm(x.transpose(1, 2).unsqueeze(2), mask), mask, 0.0).squeeze(2).transpose(1, 2)
        return self.rnn(x, lengths)


class DS2(UtteranceModel):
    """Character logits per output frame; options are the fields of :class:`DS2Config`."""

    name = "ds2"
    Config = DS2Config
    frame_level: ClassVar[bool] = True

    def __init__(self, n_dims: int, n_classes: int, **options):
        super().__init__(n_dims, n_classes, **options)
        c = self.config
        self.conv1 = _ConvLayer(1, c.channels[0], (c.freq_kernels[0], c.time_kernels[0]),
                                (c.freq_strides[0], c.time_strides[0]))
        self.conv2 = _ConvLayer(c.channels[0], c.channels[1], (c.freq_kernels[1], c.time_kernels[1]),
                                (c.freq_strides[1], c.time_strides[1]))
        bins = self.conv2.bins(self.conv1.bins(c.n_dims))
        for k in range(1, c.num_layers + 1):
            n_inputs = c.channels[1] * bins if k == 1 else 2 * c.hidden
            self.add_module(f"gru{k}", _GRULayer(n_inputs, c.hidden, norm=k > 1))
        self.dropout = nn.Dropout(c.dropout)
        self.output = nn.Linear(2 * c.hidden, c.n_classes)

    def layers(self) -> list[tuple[str, nn.Module]]:
        names = ["conv1", "conv2", *(f"gru{k}" for k in range(1, self.config.num_layers + 1)), "output"]
        return [(name, getattr(self, name)) for name in names]

    def output_lengths(self, lengths: Length) -> Length:
        """Output frames of inputs of ``lengths`` frames (an int or a tensor of lengths)."""
        return self.conv2.output_lengths(self.conv1.output_lengths(lengths))

    def output_frames(self, frames: int) -> int:
        return self.output_lengths(frames)

    def logits(self, x: Tensor, lengths: Tensor) -> Tensor:
        h, lengths = self.conv2(*self.conv1(x.unsqueeze(1), lengths))
        h = h.flatten(1, 2).transpose(1, 2)  # (batch, frames, channels x bins)
        for k in range(1, self.config.num_layers + 1):
            h = getattr(self, f"gru{k}")(h, lengths)
        logits = self.output(self.dropout(h))
        blank = torch.full((self.n_classes,), PAD_LOGIT, dtype=logits.dtype, device=logits.device)
        blank = F.pad(blank[1:], (1, 0))  # 0 for the blank, PAD_LOGIT for every character
        return torch.where(length_mask(lengths, logits.shape[1])[..., None], logits, blank)

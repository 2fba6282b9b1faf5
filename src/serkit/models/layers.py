"""Building blocks shared by the model families: masked convolution blocks and the classifier.

Tensors of the convolutional models are ``(batch, channels, dims, frames)``:
frequency (or coefficient) by time, time last.  A block takes and returns
``(x, lengths)``; its output is zero past each item's valid length, which is
what makes a padded batch equal to its items alone: a 'same'-padded
convolution then sees zeros past an item's end, exactly as the zero padding
it applies to an item on its own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from serkit.models.masking import Length, fill_padding, length_mask, output_lengths

POOL = 2
"""Side of the max pooling window and its stride, on both axes (seeds 000 and 002)."""


def pooled_size(size: Length, n_pools: int) -> Length:
    """Size of an axis (int or tensor of lengths) after ``n_pools`` 2x2 max poolings."""
    for _ in range(n_pools):
        size = output_lengths(size, POOL, stride=POOL)
    return size


class SameConv2d(nn.Conv2d):
    """Stride-1 convolution whose output has the input's size on both axes.

    The padding of an even kernel is asymmetric (one more zero after than
    before, as PyTorch's ``padding="same"``); doing it explicitly avoids the
    extra copy and warning of ``padding="same"`` with even kernels.  No bias:
    batch normalisation follows and would cancel it.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int]):
        super().__init__(in_channels, out_channels, kernel_size, bias=False)
        (kf, kt) = self.kernel_size
        self._padding = ((kt - 1) // 2, kt // 2, (kf - 1) // 2, kf // 2)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(F.pad(x, self._padding))


class MaskedBatchNorm2d(nn.BatchNorm2d):
    """Batch normalisation whose training statistics ignore padded frames.

    ``torch.nn.BatchNorm2d`` in training mode averages over every position,
    padding included, so its statistics (and the running averages kept for
    evaluation) would depend on how much padding a batch happens to have.
    Here the mean and variance are taken over valid frames only; otherwise it
    is ``BatchNorm2d`` (same parameters, buffers and momentum rule).  In
    evaluation mode it is exactly ``BatchNorm2d``: running statistics, no
    dependence on the batch.
    """

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:  # type: ignore[override]
        if not self.training and self.running_mean is not None:
            return super().forward(x)  # running statistics: nothing to mask
        if self.training and bool(mask.all()):
            # Nothing padded: BatchNorm2d's own fused kernel computes the same
            # statistics (up to rounding) several times faster.  Training only,
            # so that no exported (traced) model holds this branch.
            return super().forward(x)
        # statistics in float32: bf16 (autocast) counts frames and sums them too coarsely
        dtype, x = x.dtype, x.float()
        count = mask.sum().to(x.dtype) * x.shape[2]
        mean = fill_padding(x, mask, 0.0).sum((0, 2, 3)) / count
        centred = x - mean[None, :, None, None]
        var = fill_padding(centred.square(), mask, 0.0).sum((0, 2, 3)) / count
        if self.training and self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), count.detach())
        scale = torch.rsqrt(var + self.eps)
        out = centred * scale[None, :, None, None]
        if self.affine:
            out = out * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return out.to(dtype)

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, var: Tensor, count: Tensor) -> None:
        self.num_batches_tracked.add_(1)
        # the same rule as BatchNorm: momentum None means a cumulative average
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        unbiased = var * count / (count - 1).clamp(min=1)
        self.running_mean.lerp_(mean, factor)
        self.running_var.lerp_(unbiased, factor)


class ConvBlock(nn.Module):
    """Convolution, masked batch norm, ReLU and (optionally) 2x2 max pooling.

    The convolution must keep the time length (a :class:`SameConv2d`, or a
    concatenation of them); pooling halves it, rounding down, and
    :meth:`output_lengths` says so.  The output is zero past each item's
    valid length.
    """

    def __init__(self, conv: nn.Module, channels: int, pool: bool = True):
        super().__init__()
        self.conv = conv
        self.norm = MaskedBatchNorm2d(channels)
        self.pool = pool

    def n_pools(self) -> int:
        return int(self.pool)

    def output_lengths(self, lengths: Length) -> Length:
        return pooled_size(lengths, self.n_pools())

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x = F.relu(self.norm(self.conv(x), length_mask(lengths, x.shape[-1])))
        if self.pool:
            x = F.max_pool2d(x, POOL)
            lengths = self.output_lengths(lengths)
        mask = length_mask(lengths, x.shape[-1])
        if self.training and bool(mask.all()):
            return x, lengths  # nothing padded to zero (training only, as in the norm)
        return fill_padding(x, mask, 0.0), lengths


class ClassifierHead(nn.Sequential):
    """Dropout, a hidden fully connected layer with ReLU, and the output layer (logits)."""

    def __init__(self, n_inputs: int, hidden: int, n_classes: int, dropout: float):
        super().__init__(
            nn.Dropout(dropout),
            nn.Linear(n_inputs, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_classes),
        )


class ConvStack(nn.ModuleList):
    """:class:`ConvBlock` after :class:`ConvBlock`, carrying the valid lengths along."""

    def n_pools(self) -> int:
        return sum(block.n_pools() for block in self)

    def output_lengths(self, lengths: Length) -> Length:
        """Valid length (or size of the frequency axis) after the whole stack."""
        return pooled_size(lengths, self.n_pools())

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        for block in self:
            x, lengths = block(x, lengths)
        return x, lengths

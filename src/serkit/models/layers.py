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
        weight = self.weight if self.affine else torch.ones(x.shape[1], device=x.device)
        bias = self.bias if self.affine else torch.zeros(x.shape[1], device=x.device)
        out, mean, var, count = _MaskedBatchNorm.apply(x, mask, weight, bias, self.eps)
        if self.training and self.track_running_stats:
            self._update_running_stats(mean, var, count)
        return out

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, var: Tensor, count: Tensor) -> None:
        self.num_batches_tracked.add_(1)
        # the same rule as BatchNorm: momentum None means a cumulative average
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        unbiased = var * count / (count - 1).clamp(min=1)
        self.running_mean.lerp_(mean, factor)
        self.running_var.lerp_(unbiased, factor)


class _MaskedBatchNorm(torch.autograd.Function):
    """Batch normalisation of ``(batch, channels, bins, frames)`` with the statistics of the valid
    frames (``mask``: ``(batch, frames)``, valid frames first), its gradient written out.

    Left to autograd, masking the statistics took a dozen passes over the activations forward and
    twice that backward (docs/benchmarks.md, "Masked batch norm").  Here every pass is one of
    PyTorch's fused batch-norm kernels, which read a bf16 input without a float32 copy of it and
    vectorise along the channels of a channels-last tensor (elementwise operations broadcasting a
    per-channel vector there take a slow path, most of all in place on bf16): the statistics item
    by item over its valid frames (padding garbage never enters); the output, normalisation with
    them (evaluation mode); the gradient, that mode's ``w s g`` with ``dw = sum(g xhat)`` and
    ``db = sum(g)``, then the statistics' share, an affine map of ``x`` per channel, added on each
    item's valid frames.  With ``xhat`` the normalised input, ``s`` the inverse deviation, ``m``
    the mask and ``n`` the number of valid positions (sums over every position, as every output
    depends on the statistics)::

        dx = w s (g - m (sum(g) + xhat sum(g xhat)) / n)
    """

    @staticmethod
    def forward(ctx, x: Tensor, mask: Tensor, weight: Tensor, bias: Tensor, eps: float):
        lengths = mask.sum(1)
        if not torch.equal(mask, length_mask(lengths, mask.shape[1])):
            raise ValueError("MaskedBatchNorm2d: the mask must hold each item's valid frames first")
        lengths = lengths.tolist()
        mean, var, count = _valid_statistics(x, lengths)
        weight, bias = weight.to(mean.dtype), bias.to(mean.dtype)
        out = torch.batch_norm(x, weight, bias, mean, var, False, 0.0, eps, False)
        ctx.save_for_backward(x, weight, mean, var, count)
        ctx.lengths, ctx.eps = lengths, eps
        ctx.mark_non_differentiable(mean, var, count)
        return out, mean, var, count

    @staticmethod
    def backward(ctx, grad: Tensor, *_):
        x, weight, mean, var, count = ctx.saved_tensors
        # the fused kernel sums coarsely when the gradient's layout is not the input's
        grad = grad.contiguous(memory_format=_layout(x))
        grad_x, g_xhat, g_sum = torch.ops.aten.native_batch_norm_backward(
            grad, x, weight, mean, var, None, None, False, ctx.eps, [True, True, True])
        inverse = torch.rsqrt(var + ctx.eps)
        # -w s (sum(g) + xhat sum(g xhat)) / n on the valid frames: slope * x + offset
        scale = -weight * inverse / count
        slope, offset = scale * inverse * g_xhat, scale * (g_sum - mean * inverse * g_xhat)
        correction = _affine(x, slope, offset)
        for item, length in enumerate(ctx.lengths):
            if length < x.shape[3]:
                correction[item, :, :, length:] = 0.0
        grad_x += correction
        return grad_x, None, g_xhat, g_sum, None


def _layout(x: Tensor) -> torch.memory_format:
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    return torch.channels_last if channels_last else torch.contiguous_format


def _affine(x: Tensor, slope: Tensor, offset: Tensor) -> Tensor:
    """``slope * x + offset`` per channel, by the fused evaluation-mode batch-norm kernel."""
    zero, one = torch.zeros_like(slope), torch.ones_like(slope)
    return torch.batch_norm(x, slope, offset, zero, one, False, 0.0, 0.0, False)


def _valid_statistics(x: Tensor, lengths: list[int]) -> tuple[Tensor, Tensor, Tensor]:
    """Per channel, the mean and (biased) variance of ``x`` over each item's valid frames, and
    their count, in float32 at least: each item's by the batch-norm statistics kernel (which sums
    a bf16 input in float32 when handed float32 running buffers; momentum 0 leaves them as they
    are), then combined exactly (Chan et al.'s pairwise rule), so whatever the padding holds
    never enters."""
    dtype = torch.promote_types(x.dtype, torch.float32)
    unused = torch.zeros(x.shape[1], dtype=dtype, device=x.device), torch.ones(x.shape[1], dtype=dtype, device=x.device)
    valid = [(item, length) for item, length in enumerate(lengths) if length]  # no 0 / 0
    if not valid:
        raise ValueError("MaskedBatchNorm2d: no item of the batch has a valid frame")
    items = [torch.batch_norm_update_stats(x[item:item + 1, :, :, :length], *unused, 0.0) for item, length in valid]
    means, variances = torch.stack([mean for mean, _ in items]), torch.stack([var for _, var in items])
    counts = torch.tensor([length for _, length in valid], dtype=dtype, device=x.device)[:, None] * x.shape[2]
    count = counts.sum()
    mean = (counts * means).sum(0) / count
    var = (counts * (variances + (means - mean) ** 2)).sum(0) / count
    return mean, var, count


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

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
    twice that backward, 2 to 6 times as long as now on seed 002's first layers, and a training
    step of that network three times as long when a batch held one short utterance (most do) as
    when it held none (docs/benchmarks.md, "Masked batch norm").  Here the statistics are summed item by item over the valid frames, the output is
    one multiply-add, and the gradient is, with ``xhat`` the normalised input, ``s`` the inverse
    deviation, ``m`` the mask and ``n`` the number of valid positions (sums over every position,
    as every output depends on the statistics)::

        dx = w s (g - m (sum(g) + xhat sum(g xhat)) / n),  dw = sum(g xhat),  db = sum(g)

    Statistics and arithmetic are float32 whatever ``x`` is (bf16 under autocast would count
    frames and sum them too coarsely); the output has ``x``'s dtype.
    """

    @staticmethod
    def forward(ctx, x: Tensor, mask: Tensor, weight: Tensor, bias: Tensor, eps: float):
        ctx.dtype = x.dtype
        # one explicit cast: operations mixing bf16 and float32 take a slow, unvectorised path
        x = x.to(torch.promote_types(x.dtype, torch.float32))
        lengths = mask.sum(1)
        if not torch.equal(mask, length_mask(lengths, mask.shape[1])):
            raise ValueError("MaskedBatchNorm2d: the mask must hold each item's valid frames first")
        lengths = lengths.tolist()
        ctx.tails = [(item, length) for item, length in enumerate(lengths) if length < x.shape[3]]
        count = torch.tensor(sum(lengths) * x.shape[2], dtype=x.dtype, device=x.device)
        mean = _valid_sum(x, lengths) / count
        centred = x - _per_channel(mean)
        var = _valid_sum(centred, lengths, square=True) / count
        inverse = torch.rsqrt(var + eps)
        out = torch.addcmul(_per_channel(bias.to(x.dtype)), centred, _per_channel(weight.to(x.dtype) * inverse))
        ctx.save_for_backward(centred, inverse, weight, count)
        ctx.mark_non_differentiable(mean, var, count)
        return out.to(ctx.dtype), mean, var, count

    @staticmethod
    def backward(ctx, grad: Tensor, *_):
        centred, inverse, weight, count = ctx.saved_tensors
        g = grad.to(centred.dtype)
        g_sum = g.sum((0, 2, 3))
        g_xhat = inverse * (g * centred).sum((0, 2, 3))
        scale = weight.to(g.dtype) * inverse
        # -w s m (sum(g) + xhat sum(g xhat)) / n, then w s g added in place
        grad_x = torch.addcmul(_per_channel(-scale * g_sum / count), centred, _per_channel(-scale * inverse * g_xhat / count))
        for item, length in ctx.tails:
            grad_x[item, :, :, length:] = 0.0
        grad_x = grad_x.addcmul_(g, _per_channel(scale)).to(ctx.dtype)
        return grad_x, None, g_xhat.to(weight.dtype), g_sum.to(weight.dtype), None


def _per_channel(values: Tensor) -> Tensor:
    return values[None, :, None, None]


def _valid_sum(x: Tensor, lengths: list[int], square: bool = False) -> Tensor:
    """Per channel, the sum (of squares) of ``x`` over each item's valid frames, item by item:
    whatever the padding holds never enters (a product then a sum: x.square() is a slow pow
    kernel on a CPU)."""
    parts = [x[item, :, :, :length] for item, length in enumerate(lengths)]
    return torch.stack([(part * part if square else part).sum((1, 2)) for part in parts]).sum(0)


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

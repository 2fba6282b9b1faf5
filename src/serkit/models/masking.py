"""Masks over padded batches: valid lengths, masked pooling, per-item reversal.

A batch holds items of different lengths, padded on the right to the longest.
Every model carries ``lengths`` (valid frames per item) alongside its tensors
and uses these helpers so that padding never reaches an output: a padded batch
gives the same logits as each item alone.

All helpers are tensor operations without data-dependent Python control flow,
so models built on them trace and export to ONNX with dynamic batch and time
axes.  Padding is replaced with ``torch.where`` rather than multiplied by the
mask, so that even NaN or infinite garbage in the padding cannot leak.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor

POOLINGS = ("mean", "max")
"""Names accepted by :func:`pool_time`."""

Length = TypeVar("Length", int, Tensor)


def output_lengths(
    lengths: Length, kernel: int, stride: int = 1, total_padding: int = 0, dilation: int = 1
) -> Length:
    """Output length of a convolution or pooling along one axis.

    The one place the arithmetic lives: it works on Python ints (sizes,
    :attr:`min_frames`) and on int64 tensors (per-item valid lengths), and
    matches ``torch.nn.Conv*`` / ``MaxPool*`` with ``ceil_mode=False``.
    ``total_padding`` is the sum of both sides' padding.
    """
    return (lengths + total_padding - dilation * (kernel - 1) - 1) // stride + 1


def smallest_valid_input(output_size: Callable[[int], int], limit: int = 1 << 16) -> int:
    """Smallest input size ``n >= 1`` for which ``output_size(n) >= 1``."""
    for n in range(1, limit + 1):
        if output_size(n) >= 1:
            return n
    raise ValueError(f"no input of up to {limit} frames gives an output")


def length_mask(lengths: Tensor, frames: int) -> Tensor:
    """``(batch, frames)`` boolean mask, True at the valid frames of each item."""
    return torch.arange(frames, device=lengths.device)[None, :] < lengths[:, None]


def _along(mask: Tensor, x: Tensor, dim: int) -> Tensor:
    """View a ``(batch, time)`` mask so that it broadcasts against ``x`` with time at ``dim``."""
    shape = [1] * x.dim()
    shape[0] = mask.shape[0]
    shape[dim] = mask.shape[1]
    return mask.reshape(shape)


def fill_padding(x: Tensor, mask: Tensor, value: float, dim: int = -1) -> Tensor:
    """``x`` with its padded frames (``mask`` False, time at ``dim``) set to ``value``."""
    fill = torch.full((), value, dtype=x.dtype, device=x.device)
    return torch.where(_along(mask, x, dim), x, fill)


def zero_padding(x: Tensor, lengths: Tensor, dim: int = -1) -> Tensor:
    """``x`` with every frame past each item's length set to zero."""
    return fill_padding(x, length_mask(lengths, x.shape[dim]), 0.0, dim)


def masked_mean(x: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    """Mean over the valid frames of the time axis ``dim`` (removed)."""
    total = fill_padding(x, mask, 0.0, dim).sum(dim)
    count = mask.sum(1).clamp(min=1).to(x.dtype)
    return total / count.reshape([-1] + [1] * (total.dim() - 1))


def masked_max(x: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    """Maximum over the valid frames of the time axis ``dim`` (removed).

    Padding is filled with -inf first; every item must have a valid frame,
    which the models guarantee by clamping lengths to ``min_frames``.
    """
    return fill_padding(x, mask, float("-inf"), dim).amax(dim)


def pool_time(x: Tensor, mask: Tensor, how: str, dim: int = -1) -> Tensor:
    """Masked ``"mean"`` or ``"max"`` over the time axis ``dim``."""
    if how == "mean":
        return masked_mean(x, mask, dim)
    if how == "max":
        return masked_max(x, mask, dim)
    raise ValueError(f"unknown pooling {how!r}; known: {', '.join(POOLINGS)}")


def masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """Softmax of ``(batch, ..., time)`` scores over all trailing positions except padding.

    Every axis after the batch axis is pooled together (a frequency-by-time
    map's positions); padded frames get exactly zero weight.
    """
    filled = fill_padding(scores, mask, float("-inf"), -1)
    return torch.softmax(filled.flatten(1), dim=1).reshape(scores.shape)


def reverse_within_lengths(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each item of ``(batch, time, features)`` within its own length.

    Frame ``t < length`` moves to ``length - 1 - t``; padded frames stay where
    they are, after the reversed valid part.  Applying it twice restores ``x``.
    This is what lets an ordinary (forward) LSTM run the backward direction
    of a padded batch without packed sequences.
    """
    mask = length_mask(lengths, x.shape[1])
    steps = torch.arange(x.shape[1], device=x.device)[None, :]
    # lengths may exceed the frames; the mask's count is the length actually present
    present = mask.sum(1, keepdim=True)
    index = torch.where(mask, present - 1 - steps, steps)
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


def pad_to_min_frames(x: Tensor, lengths: Tensor, min_frames: int) -> tuple[Tensor, Tensor]:
    """Zero-pad time (last axis) so that every item has at least ``min_frames`` frames.

    An item shorter than ``min_frames`` is treated exactly as if it had been
    zero-padded to ``min_frames`` frames before it reached the model, in a
    batch or alone.  The padding is unconditional (``min_frames - 1`` zeros)
    so that no control flow depends on the data.  ``x`` must already be zero
    past each item's length.
    """
    if min_frames > 1:
        x = F.pad(x, (0, min_frames - 1))
    return x, lengths.clamp(min=min_frames)

"""The pooling heads of seed 002 (Li et al., section 2.4 and 3.3): feature map to logits.

Each head takes the last convolution's ``(batch, channels, bins, frames)``
map, zero past each item's valid frames, and the ``(batch, frames)`` mask of
valid frames, and pools over the valid positions (every bin of every valid
frame) only, so padding never changes a score.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from serkit.models.masking import fill_padding, masked_mean, masked_softmax

SIGNED_SQRT_EPS = 1e-8
"""Keeps the signed square root's gradient finite at zero."""


class GlobalAveragePooling(nn.Module):
    """GAP (equation 3): the mean over valid positions, then one fully connected layer."""

    def __init__(self, channels: int, n_classes: int):
        super().__init__()
        self.fc = nn.Linear(channels, n_classes)

    def forward(self, maps: Tensor, mask: Tensor) -> Tensor:
        return self.fc(masked_mean(maps.mean(2), mask))


class BilinearPooling(nn.Module):
    """Second-order pooling (equation 4, as in Lin et al.'s bilinear CNN).

    The ``channels x channels`` matrix ``X^T X`` over the valid positions
    (6400 values for 80 channels), averaged so that it does not grow with the
    length, then the signed square root, l2 normalisation and a fully
    connected layer.

    ``scale`` multiplies the unit-length feature before that layer (1: the paper).  Its
    6400 entries average 1/80 in size, so a layer initialised for inputs of unit size gives
    near-equal logits and, at one learning rate for the whole network, learns about
    ``scale**2`` times more slowly than with the feature scaled up: the slow start that
    Lin et al. avoid by first training the last layer alone at a high rate, and that
    NormFace (Wang et al. 2017) fixes, for any l2-normalised feature, with such a scale.
    """

    def __init__(self, channels: int, n_classes: int, scale: float = 1.0):
        super().__init__()
        self.scale = scale
        self.fc = nn.Linear(channels * channels, n_classes)

    def forward(self, maps: Tensor, mask: Tensor) -> Tensor:
        x = fill_padding(maps, mask, 0.0).flatten(2)  # (batch, channels, positions)
        positions = (mask.sum(1) * maps.shape[2]).clamp(min=1).to(maps.dtype)
        second_order = (x @ x.transpose(1, 2)).flatten(1) / positions[:, None]
        signed_root = torch.sign(second_order) * torch.sqrt(second_order.abs() + SIGNED_SQRT_EPS)
        return self.fc(self.scale * F.normalize(signed_root, dim=1))


class AttentionPooling(nn.Module):
    """Attention pooling (equation 8): ``score(k) = 1^T (X a_k o softmax(X b))``.

    ``X a_k`` is the class-specific top-down map (a 1x1 convolution to one map
    per class), ``X b`` the class-agnostic bottom-up map (a 1x1 convolution to
    one map), turned into weights by a softmax over the valid positions.  The
    product is summed over positions as equation 8 writes it; with softmax
    weights summing to one that sum *is* the attention-weighted average the
    text calls "spatially averaged".  Dividing once more by the number of
    positions would only rescale fixed-size inputs, but would make scores
    shrink with the length of variable-length ones, so we do not.
    """

    def __init__(self, channels: int, n_classes: int):
        super().__init__()
        self.top_down = nn.Conv2d(channels, n_classes, 1)
        # a bias on the bottom-up map would cancel in the softmax
        self.bottom_up = nn.Conv2d(channels, 1, 1, bias=False)

    def forward(self, maps: Tensor, mask: Tensor) -> Tensor:
        weights = masked_softmax(self.bottom_up(maps), mask)
        return (self.top_down(maps) * weights).sum((2, 3))


HEAD_CLASSES: dict[str, type[nn.Module]] = {
    "gap": GlobalAveragePooling,
    "bilinear": BilinearPooling,
    "attention": AttentionPooling,
}
HEADS = tuple(HEAD_CLASSES)

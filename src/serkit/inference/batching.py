"""Array helpers shared by the predictors: padding a batch of features, and the softmax."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pad_batch(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(batch, dims, frames)`` zero-padded at the end of time, and the int64 lengths."""
    lengths = np.array([a.shape[1] for a in arrays], dtype=np.int64)
    x = np.zeros((len(arrays), arrays[0].shape[0], int(lengths.max())), dtype=np.float32)
    for row, array in zip(x, arrays):
        row[:, : array.shape[1]] = array
    return x, lengths


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)

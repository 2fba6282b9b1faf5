"""Array helpers shared by the predictors: batches bounded in padded frames, chunks of a long
input scored exactly, padding a batch of features, and the softmax."""

from __future__ import annotations

import dataclasses
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


def batches(lengths: Sequence[int], batch_size: int, max_frames: int) -> list[list[int]]:
    """Indices of items of ``lengths`` frames, shortest first, in batches of at most ``batch_size``
    items and ``max_frames`` padded frames (an item longer than that alone): a model's memory grows
    with the padded batch, and 32 one-hour recordings would not fit."""
    grouped: list[list[int]] = []
    for index in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        batch = grouped[-1] if grouped else None
        if batch is None or len(batch) == batch_size or (len(batch) + 1) * lengths[index] > max_frames:
            grouped.append([index])
        else:
            batch.append(index)
    return grouped


@dataclasses.dataclass(frozen=True)
class Chunk:
    """Frames ``[start, stop)`` of item ``owner``'s input; its outputs ``[keep, keep + kept)`` are
    that item's output frames ``start + keep`` on, the same as over the whole input."""

    owner: int
    start: int
    stop: int
    keep: int
    kept: int


def chunks(owner: int, frames: int, longest: int, context: int | None) -> list[Chunk]:
    """Item ``owner`` (``frames`` long) in chunks of at most about ``longest`` frames, for a model whose
    output frame depends on ``context`` input frames on each side: each chunk carries that much of its
    neighbours' input, and only its own frames' outputs are kept.  One chunk where the item fits, or
    where ``context`` is None (a model reading its whole input, such as a recurrent one)."""
    if context is None or frames <= longest:
        return [Chunk(owner, 0, frames, 0, frames)]
    step = max(1, longest - 2 * context)
    cut = []
    for first in range(0, frames, step):
        last = min(first + step, frames)
        start, stop = max(0, first - context), min(frames, last + context)
        cut.append(Chunk(owner, start, stop, first - start, last - first))
    return cut

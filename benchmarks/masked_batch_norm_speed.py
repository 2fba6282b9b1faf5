"""What masking batch-norm statistics costs: one forward and backward pass of a training-mode batch norm.

Every convolutional model of serkit normalises with :class:`serkit.models.layers.MaskedBatchNorm2d`,
whose training statistics leave out padded frames.  When nothing in a batch is padded it calls
BatchNorm2d's own fused kernel; when an item is shorter (seed 002's short utterances: most batches of
64 windows hold one) it computes the masked statistics itself.  Three ways on the first two layers'
activations of seed 002's network (and the first of seed 000's CNN), a batch of 64 with a quarter of
it three quarters long, one thread, channels-last as the engine trains:

- *autograd*: the masked statistics as plain tensor operations (``torch.where``, sums) with autograd
  taking the gradient, as the engine computed them up to commit d8f70b6;
- *serkit*: ``MaskedBatchNorm2d`` as it is (statistics item by item over valid frames, normalisation
  and gradient by PyTorch's fused batch-norm kernels, the statistics' share of the gradient added);
- *nothing padded*: ``BatchNorm2d``'s own kernel on the same tensor with no item shorter, the floor.

    python benchmarks/masked_batch_norm_speed.py [--rounds 3] [--write]

``--write`` replaces the "Masked batch norm" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import torch
from torch import Tensor

from serkit.devices import reuse_freed_memory
from serkit.models.layers import MaskedBatchNorm2d
from serkit.models.masking import length_mask
from machine import cpu_model, publish, rounds_arguments  # benchmarks/machine.py

BATCH, SHORTER = 64, 16
#: (label, channels, bins, frames) of the activations a batch norm sees
LAYERS = [
    ("seed 002 paper, Conv1 (16 x 400 x 200)", 16, 400, 200),
    ("seed 002 paper, Conv2 (32 x 200 x 100)", 32, 200, 100),
    ("seed 002 cheaper, Conv1 (16 x 200 x 200)", 16, 200, 200),
    ("seed 000 cnn, Conv1 (32 x 40 x 251)", 32, 40, 251),
]


def autograd_masked(norm: MaskedBatchNorm2d, x: Tensor, mask: Tensor) -> Tensor:
    """The masked statistics left to autograd: float32 statistics, the output in ``x``'s dtype."""
    dtype, x = x.dtype, x.float()
    keep = mask[:, None, None, :]
    count = mask.sum() * x.shape[2]
    mean = torch.where(keep, x, 0.0).sum((0, 2, 3)) / count
    centred = x - mean[None, :, None, None]
    var = torch.where(keep, centred.square(), 0.0).sum((0, 2, 3)) / count
    scale = norm.weight * torch.rsqrt(var + norm.eps)
    return (centred * scale[None, :, None, None] + norm.bias[None, :, None, None]).to(dtype)


def seconds(forward: Callable[[Tensor], Tensor], x: Tensor, rounds: int) -> float:
    upstream = torch.randn_like(x)

    def once() -> float:
        leaf = x.detach().requires_grad_()
        start = time.perf_counter()
        forward(leaf).backward(upstream)
        return time.perf_counter() - start

    once()
    return min(once() for _ in range(rounds))


def row(label: str, shape: tuple[int, int, int], dtype: torch.dtype, rounds: int) -> str:
    channels, bins, frames = shape
    torch.manual_seed(0)
    x = torch.randn(BATCH, channels, bins, frames).to(dtype=dtype, memory_format=torch.channels_last)
    lengths = torch.full((BATCH,), frames)
    lengths[:SHORTER] = frames * 3 // 4
    mask, full = length_mask(lengths, frames), torch.ones(BATCH, frames, dtype=torch.bool)
    norm = MaskedBatchNorm2d(channels).train()
    old = seconds(lambda v: autograd_masked(norm, v, mask), x, rounds)
    ours = seconds(lambda v: norm(v, mask), x, rounds)
    floor = seconds(lambda v: norm(v, full), x, rounds)
    name = "bf16" if dtype == torch.bfloat16 else "float32"
    return (f"| {label} | {name} | {1000 * old:.0f} ms | {1000 * ours:.0f} ms | {1000 * floor:.0f} ms | "
            f"{old / ours:.1f}x | {ours / floor:.1f}x |")


def section(lines: list[str], rounds: int) -> str:
    return "\n".join([
        "## Masked batch norm",
        "",
        "One forward and backward pass of a training-mode batch norm over a batch of 64, a quarter of it",
        "three quarters long, one thread, channels-last (`benchmarks/masked_batch_norm_speed.py` says",
        "what each column computes): the masked statistics left to autograd (the engine up to commit",
        "d8f70b6), serkit's `MaskedBatchNorm2d` (statistics item by item over valid frames, normalisation",
        "and gradient by PyTorch's fused batch-norm kernels; tests/test_models.py holds it against",
        "autograd), and BatchNorm2d's own kernel with nothing padded, the floor. Most of seed 002's",
        "training batches hold a short utterance, so the masked path is the one they take. Its first",
        "written-out version (d8f70b6 to 2026-12-07, float32 elementwise passes) measured 2.2-5.7x",
        "faster than autograd here; the fused kernels made the masked layer 2.6-3.6x faster again (bf16,",
        "seed 002's first three layers side by side in one process).",
        "",
        "### Command",
        "",
        "```",
        f"python benchmarks/masked_batch_norm_speed.py --rounds {rounds} --write",
        "```",
        "",
        "### Machine",
        "",
        f"{os.cpu_count()} cores, {cpu_model()}; torch {torch.__version__}, 1 thread, freed memory kept for",
        f"reuse as the engine trains; shared with other jobs, so each figure is the best of {rounds} passes",
        "after a warm-up pass.",
        "",
        "### Results",
        "",
        "| activations | dtype | autograd | serkit | nothing padded | autograd / serkit | serkit / floor |",
        "|---|---|---|---|---|---|---|",
        *lines,
    ])


def main() -> None:
    args = rounds_arguments(__doc__.split("\n\n")[0])
    torch.set_num_threads(1)
    with reuse_freed_memory():
        lines = [row(label, shape, dtype, args.rounds)
                 for label, *shape in LAYERS for dtype in (torch.float32, torch.bfloat16)]
    text = section(lines, args.rounds)
    publish("Masked batch norm", text, args.write)


if __name__ == "__main__":
    main()

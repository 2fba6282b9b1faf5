"""What makes a CPU training step fast: freed memory kept for reuse, and bf16 autocast.

The engine trains inside :func:`serkit.devices.reuse_freed_memory` (glibc keeps a batch's freed
activations for the next step instead of unmapping them); ``train.precision: bfloat16`` computes
convolutions and matrix products in bf16.  One SGD step (forward, cross-entropy, backward, update)
of a batch of 64 utterances for the papers' utterance models at their inputs' sizes, one thread,
channels-last as the engine trains, the best of ``--rounds`` steps after a warm-up step, in three
settings: memory handed back after every step (glibc's default, serkit before the change), memory
kept, memory kept and bf16.  Where the processor has no native bf16 (AVX512-BF16 or AMX) the bf16
figures are emulated.  bf16 gives other numbers, so it is a recipe setting; whether training still
reaches the same figures is measured on real folds (docs/seed002.md), not here.

    python benchmarks/cpu_training_speed.py [--rounds 3] [--write]

``--write`` replaces the "CPU training steps" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import contextlib
import os
import time

import torch

from serkit.devices import reuse_freed_memory
from serkit.models import build_model
from serkit.training.optim import training_layout
from machine import cpu_model, publish, rounds_arguments  # benchmarks/machine.py

BATCH, CLASSES = 64, 4
#: (label, model, options, input rows, frames): each paper's model at its input size.
MODELS = [
    ("seed 002 cnn_tf gap, cheaper (200 x 200)", "cnn_tf", {"head": "gap"}, 200, 200),
    ("seed 002 cnn_tf attention, cheaper (200 x 200)", "cnn_tf", {"head": "attention"}, 200, 200),
    ("seed 002 cnn_tf bilinear, cheaper (200 x 200)", "cnn_tf", {"head": "bilinear"}, 200, 200),
    ("seed 002 cnn_tf attention, paper (400 x 200)", "cnn_tf", {"head": "attention"}, 400, 200),
    ("seed 000 cnn (40 log-mel x 251)", "cnn", {}, 40, 251),
    ("seed 000 cnn_blstm (40 log-mel x 251)", "cnn_blstm", {}, 40, 251),
]
#: (memory kept for reuse, precision) of each column
SETTINGS = ((False, "float32"), (True, "float32"), (True, "bfloat16"))


def step_seconds(name: str, options: dict, shape: tuple[int, int], reuse: bool, precision: str,
                 rounds: int) -> float:
    rows, frames = shape
    torch.manual_seed(0)
    model = training_layout(build_model(name, rows, CLASSES, **options)).train()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, lengths = torch.randn(BATCH, rows, frames), torch.full((BATCH,), frames)
    targets = torch.randint(0, CLASSES, (BATCH,))

    def step() -> float:
        start = time.perf_counter()
        optimiser.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16"):
            loss = torch.nn.functional.cross_entropy(model(x, lengths).float(), targets)
        loss.backward()
        optimiser.step()
        return time.perf_counter() - start

    with reuse_freed_memory() if reuse else contextlib.nullcontext():
        step()  # warms up
        return min(step() for _ in range(rounds))


def rows(rounds: int) -> list[str]:
    lines = []
    for label, name, options, height, frames in MODELS:
        handed, kept, half = (step_seconds(name, options, (height, frames), reuse, precision, rounds)
                              for reuse, precision in SETTINGS)
        lines.append(f"| {label} | {handed:.2f} s | {kept:.2f} s | {half:.2f} s | {handed / kept:.2f}x | "
                     f"{kept / half:.2f}x | {handed / half:.2f}x |")
    return lines


def native_bf16() -> bool:
    return bool(getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)())


def section(lines: list[str], rounds: int) -> str:
    return "\n".join([
        "## CPU training steps",
        "",
        f"One SGD step on a batch of {BATCH} utterances, one thread, channels-last as the engine trains:",
        "with glibc's default allocator, which unmaps every freed block over 32 MB (a batch's activations)",
        "so that the next step has the kernel map and zero them again page by page (serkit's engine",
        "before `reuse_freed_memory`); with freed memory kept for reuse, as the engine now trains; and",
        "with bf16 autocast besides (`train.precision: bfloat16`: convolutions and matrix products in",
        "bf16, weights and optimiser in float32). The memory setting changes no number; bf16 does.",
        "Recurrent layers stay float32 under CPU autocast. No item of these batches is padded; where one",
        "is, every batch norm takes its masked path (\"Masked batch norm\" below).",
        "",
        "### Command",
        "",
        "```",
        f"python benchmarks/cpu_training_speed.py --rounds {rounds} --write",
        "```",
        "",
        "### Machine",
        "",
        f"{os.cpu_count()} cores, {cpu_model()} (native bf16: {'yes' if native_bf16() else 'no, emulated'});",
        f"torch {torch.__version__}, 1 thread; shared with other jobs, so each figure is the best of {rounds}",
        "steps after a warm-up step.",
        "",
        "### Results",
        "",
        "| model (input) | memory handed back | memory kept | kept, bf16 | kept / handed back | bf16 / float32 "
        "| both |",
        "|---|---|---|---|---|---|---|",
        *lines,
    ])


def main() -> None:
    args = rounds_arguments(__doc__.split("\n\n")[0])
    torch.set_num_threads(1)
    text = section(rows(args.rounds), args.rounds)
    publish("CPU training steps", text, args.write)


if __name__ == "__main__":
    main()

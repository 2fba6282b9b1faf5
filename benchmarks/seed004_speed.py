"""Training speed of seed 004's networks against a BLSTM of about as many parameters (Section 6.2).

The paper: "given a convolutional network and a BLSTM network with approximately equal number of
learnable parameters, one epoch of training on the AVEC dataset takes about 13 seconds on the
convolutional network while one epoch of training takes about 10 minutes on the BLSTM network"
(a GPU, Keras on Theano).  Here: one training step on one whole 5-minute recording (7500 stacked
40 ms frames of 160 dims, batch 1 as the paper), forward, CCC loss, backward and an Adam step, on
the CPU with one thread; an AVEC 2016 epoch is 9 such recordings.  Each BLSTM (``frame_blstm``,
two layers as its default, no dropout) gets the hidden size whose parameter count is nearest the
network it is set against.  Each figure is the best of ``--rounds`` steps after one warm-up step,
because the machine may be shared.  The receptive field is measured, not computed: the input
frames whose gradient at the middle output frame is not zero.  How near 10x can come on this
processor: each network's arithmetic per step (forward and backward, counted by
``torch.utils.flop_counter``) at the rate the processor multiplies large float32 matrices (a 2048 x 2048
product, the best a convolution's matrix products can hope for) gives the fastest step it could
take; the column "10x needs" is the rate the network would have to reach to step ten times as fast
as its BLSTM.

    python benchmarks/seed004_speed.py [--rounds 5] [--write]

``--write`` replaces the "Seed 004 training speed" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from serkit.models import build_model
from serkit.models.registry import parameter_count
from serkit.training.regression import Regression
from machine import cpu_model, publish  # benchmarks/machine.py

FRAMES, DIMS, RECORDINGS = 7500, 160, 9
TARGETS = ("arousal", "valence")
NETWORKS = [
    ("dilated", {}),
    ("updown", {}),
    ("updown", {"width": 128}),
    ("receptive_probe", {"length": 512}),
]
#: Networks whose filter runs by FFT, which the operation counter does not see.
BY_FFT = {"receptive_probe"}


def build(name: str, options: dict) -> torch.nn.Module:
    return build_model(name, DIMS, len(TARGETS), **options)


def count(name: str, options: dict) -> int:
    return parameter_count(lambda: build(name, options))


def matching_blstm(parameters: int) -> dict:
    """The two-layer frame_blstm whose parameter count is nearest ``parameters``."""
    hidden = min(range(1, 513), key=lambda h: abs(count("frame_blstm", {"hidden": h, "dropout": 0.0}) - parameters))
    return {"hidden": hidden, "dropout": 0.0}


def step_seconds(model: torch.nn.Module, rounds: int) -> float:
    task = Regression(TARGETS)
    x = torch.randn(1, DIMS, FRAMES)
    lengths = torch.tensor([FRAMES])
    targets = task.collate_targets([torch.randn(FRAMES, len(TARGETS)).cumsum(0).numpy() / 50])
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    best = float("inf")
    for i in range(rounds + 1):
        start = time.perf_counter()
        optimiser.zero_grad()
        task.loss(model(x, lengths), targets).backward()
        optimiser.step()
        if i:  # the first step warms up
            best = min(best, time.perf_counter() - start)
    return best


def reach(model: torch.nn.Module, frames: int = 4000) -> str:
    """Frames before / after the middle output frame that it reads (by its gradient)."""
    model.eval()
    x = torch.randn(1, DIMS, frames, requires_grad=True)
    at = frames // 2
    model(x, torch.tensor([frames]))[0, at].sum().backward()
    gradient = x.grad[0].abs().sum(0)
    touched = torch.nonzero(gradient > 1e-6 * gradient.max()).flatten()  # above an FFT's float rounding
    before, after = at - int(touched.min()), int(touched.max()) - at
    if touched.min() == 0 and touched.max() == frames - 1:
        return "the whole recording"
    return f"{before} / {after} ({(before + after + 1) * 0.04:.1f} s)"


def step_flops(model: torch.nn.Module) -> float:
    """Floating-point operations of one forward and backward pass over a recording (matrix products
    and convolutions; not an FFT's)."""
    x = torch.randn(1, DIMS, FRAMES)
    with FlopCounterMode(display=False) as counter:
        model(x, torch.tensor([FRAMES])).sum().backward()
    return counter.get_total_flops()


def matrix_product_rate(size: int = 2048, rounds: int = 5) -> float:
    """Operations a second of a large float32 matrix product at the current thread count."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def rows(rounds: int) -> list[str]:
    lines = []
    for name, options in NETWORKS:
        torch.manual_seed(0)
        net = build(name, options)
        blstm_options = matching_blstm(count(name, options))
        blstm = build("frame_blstm", blstm_options)
        conv_s, blstm_s = step_seconds(net, rounds), step_seconds(blstm, rounds)
        flops = None if name in BY_FFT else step_flops(net)
        rate = "(FFT)" if flops is None else f"{flops / conv_s / 1e9:.0f} GFLOP/s"
        needs = "-" if flops is None else f"{10 * flops / blstm_s / 1e9:.0f} GFLOP/s"
        label = name + "".join(f" {k}={v}" for k, v in options.items())
        lines.append(f"| {label} | {count(name, options):,} | {conv_s:.3f} s | {conv_s * RECORDINGS:.2f} s | "
                     f"{reach(net)} | frame_blstm hidden={blstm_options['hidden']} | "
                     f"{count('frame_blstm', blstm_options):,} | {blstm_s * RECORDINGS:.1f} s | "
                     f"{blstm_s / conv_s:.1f}x | {rate} | {needs} |")
    return lines


def section(tables: list[tuple[int, list[str]]], rounds: int) -> str:
    threads = " ".join(str(t) for t, _, _ in tables)
    results = []
    for count, peak, lines in tables:
        results += [f"**{count} thread{'s' * (count > 1)}** (a 2048 x 2048 float32 matrix product: "
                    f"{peak / 1e9:.0f} GFLOP/s)", "",
                    "| network | parameters | per recording | per epoch (9) | reach before / after | BLSTM | parameters "
                    "| BLSTM per epoch | BLSTM / network | network's rate | 10x needs |",
                    "|---|---|---|---|---|---|---|---|---|---|---|", *lines, ""]
    return "\n".join([
        "## Seed 004 training speed",
        "",
        "One training step on one whole 5-minute recording (7500 stacked 40 ms frames, 160 dims, batch 1),",
        "forward, CCC loss, backward and an Adam step, each network against a two-layer BLSTM of about as many",
        "parameters (the paper, on a GPU: 13 s against 10 minutes per AVEC epoch of 9 recordings).",
        "On a GPU a convolution computes all 7500 frames at once while a recurrent layer still takes 7500",
        "steps one after another; on one CPU thread both are bound by their arithmetic, so the ratio here",
        "is nearer the ratio of their work, and the paper's is not expected; more threads share a",
        "convolution's frames among them, while a recurrent layer's steps stay one after another.",
        "\"Network's rate\" is its arithmetic per step (forward and backward, `torch.utils.flop_counter`)",
        "over its step time, and \"10x needs\" the rate at which it would step ten times as fast as its",
        "BLSTM: where that is above the matrix-product rate of the same threads, no implementation of",
        "the network reaches 10x on this processor in float32.",
        "",
        "### Command",
        "",
        "```",
        f"python benchmarks/seed004_speed.py --rounds {rounds} --threads {threads} --write",
        "```",
        "",
        "### Machine",
        "",
        f"{os.cpu_count()} cores, {cpu_model()}; torch {torch.__version__}, {threads} thread(s); shared with other",
        f"engineers, so each figure is the best of {rounds} steps after a warm-up step.",
        "",
        "### Results",
        "",
        *results,
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1],
                        help="torch threads; several give a table each (the paper's GPU runs a convolution's "
                             "frames in parallel, a recurrent layer's one after another)")
    parser.add_argument("--write", action="store_true", help="write the section of docs/benchmarks.md")
    args = parser.parse_args()
    tables = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        tables.append((threads, matrix_product_rate(), rows(args.rounds)))
    text = section(tables, args.rounds)
    publish("Seed 004 training speed", text, args.write)


if __name__ == "__main__":
    main()

"""DDP training throughput with one and two processes (torchrun, gloo on the loopback).

The network of ``recipes/seed000/loso-cnn-mfcc.yaml`` (``cnn``, its default
widths, batch norm synchronised across ranks under DDP) trains on the MFCCs of
the first ``--files`` EMO-DB files (sorted by name) in global batches of 10,
Adam, no validation part, no output folder.  Rank 0 notes the time of every
optimiser step; the throughput is the utterances of the steps after the
first epoch (a warm-up) over their wall time, the best of ``--rounds`` runs.
Three ways to use the machine's two cores: one process with one thread, one
process with two threads, and two processes with one thread each.

    python benchmarks/distributed.py [--files 120] [--epochs 3] [--rounds 2] [--write]

``--write`` replaces the "Cluster: PyTorch distributed" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from serkit.features.presets import get_preset
from serkit.models import build_model
from serkit.training import FeatureDataset, OptimiserConfig, TrainConfig, Trainer, UtteranceClassification
from serkit.training import distributed
from serkit.training.optim import build_seeded
from machine import cpu_model, write_section  # benchmarks/machine.py

ROOT = Path(__file__).resolve().parents[1]
LABELS = ("W", "L", "E", "A", "F", "T", "N")  # EMO-DB's emotion letters
BATCH = 10


def worker(data: str, result: str, epochs: str, threads: str) -> None:
    """One training run (one rank of it under torchrun); rank 0 writes the step times."""
    arrays = np.load(data)
    names = [str(n) for n in arrays["names"]]
    task = UtteranceClassification(LABELS)
    features = [arrays[f"x{i}"] for i in range(len(names))]
    train = FeatureDataset.from_arrays(features, task.encode([n[5] for n in names]), names)
    config = TrainConfig(epochs=int(epochs), batch_size=BATCH, seed=0, optimiser=OptimiserConfig(name="adam"))
    model = build_seeded(lambda: build_model("cnn", features[0].shape[0], len(LABELS)), 0)
    times: list[float] = []
    with distributed.process_group("cpu") as world:
        Trainer(model, task, config, threads=int(threads), progress=lambda done, total: times.append(time.perf_counter())
                ).fit(train)
    if world.main:
        Path(result).write_text(json.dumps({"times": times, "items": len(names), "world": world.size}))


def throughput(times: list[float], items: int) -> float:
    """Utterances per second over the steps after the first epoch."""
    steps = -(-items // BATCH)
    later = np.asarray(times[steps - 1:])  # from the end of the first epoch's last step
    return (len(later) - 1) * items / steps / (later[-1] - later[0])


def run(way: str, data: Path, folder: Path, epochs: int) -> dict:
    result = folder / f"{way}.json"
    script = [__file__, "--worker", str(data), str(result), str(epochs)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if way == "2 processes x 1 thread":
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                   *script, "1"]
    else:
        threads = way.split(" x ")[1][0]
        command = [sys.executable, *script, threads]
        env["OMP_NUM_THREADS"] = threads
    load = os.getloadavg()[0]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise SystemExit(f"{way} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    figures = json.loads(result.read_text())
    return {"per_s": throughput(figures["times"], figures["items"]), "load": load}


def section(rows: list[tuple[str, float, float]], files: int, frames: int, epochs: int, rounds: int,
            command: str) -> str:
    base = rows[0][1]
    ddp = rows[-1][1] / base
    table = [f"| {way} | {per_s:.1f} | {per_s / BATCH:.2f} | {per_s / base:.2f}x | {load:.1f} |"
             for way, per_s, load in rows]
    return "\n".join([
        "## Cluster: PyTorch distributed",
        "",
        "Training throughput of `serkit.training.Trainer` under DistributedDataParallel (`torchrun`, gloo on",
        "the loopback) against one process: `recipes/seed000/loso-cnn-mfcc.yaml`'s `cnn` (default widths,",
        f"batch norm synchronised across ranks) on the MFCCs of the first {files} EMO-DB files ({frames:,}",
        f"frames), global batches of {BATCH} (5 per rank with two), Adam, no validation part. Utterances per",
        f"second over the steps after the first epoch, of {epochs}; the best of {rounds} runs.",
        "",
        "### Command",
        "",
        "```",
        command,
        "```",
        "",
        "### Machine",
        "",
        f"{os.cpu_count()} cores, {cpu_model()}; torch {torch.__version__}. The one-minute load average,",
        "sampled at each run's start, is in the table: where it nears the cores, other work shared them",
        "and the figures are noisy.",
        "",
        "### Results",
        "",
        "| processes x threads | utterances / s | steps / s | against 1 x 1 | load |",
        "|---|---|---|---|---|",
        *table,
        "",
        f"Two processes trained at {ddp:.2f}x the speed of one single-threaded process. Each DDP step",
        "all-reduces the gradients (0.16 M parameters) and the synchronised batch norm's sums over gloo;",
        "torch's threads within one process share the same work without either, but a small cnn step",
        "splits poorly over threads. On a two-core VM this is not a scaling figure: DDP is for",
        "more machines or GPUs than one process can use (docs/cluster.md).",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=120)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--root", type=Path, default=ROOT.parent / "shared" / "data" / "emodb")
    parser.add_argument("--write", action="store_true", help="write the section of docs/benchmarks.md")
    args = parser.parse_args()
    wavs = sorted((args.root / "wav").glob("*.wav"))[: args.files]
    feature = get_preset("mfcc-seed000").feature
    ways = ("1 process x 1 thread", "1 process x 2 threads", "2 processes x 1 thread")
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "mfcc.npz"
        arrays = {f"x{i}": feature.process_file(w) for i, w in enumerate(wavs)}
        np.savez(data, names=[w.stem for w in wavs], **arrays)
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.rounds):
            for way in ways:  # the ways take turns, so a change in the machine's load hits each
                figures = run(way, data, Path(folder), args.epochs)
                if way not in best or figures["per_s"] > best[way][0]:
                    best[way] = (figures["per_s"], figures["load"])
                print(f"{way}: {figures['per_s']:.1f} utterances/s (load {figures['load']:.1f})", flush=True)
    rows = [(way, *best[way]) for way in ways]
    frames = sum(a.shape[1] for a in arrays.values())
    command = (f"python benchmarks/distributed.py --files {args.files} --epochs {args.epochs} "
               f"--rounds {args.rounds} --write")
    text = section(rows, len(wavs), frames, args.epochs, args.rounds, command)
    if args.write:
        write_section("Cluster: PyTorch distributed", text)
    print(text)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(*sys.argv[2:])
    else:
        main()

"""Whisper encoder speed on this machine: audio seconds per wall-clock second on real clips.

Measures the ``whisper`` feature end to end per clip (log-mel, encoder, the
real frames kept) on EMO-DB clips (about 3 s each), for each known recognizer:

* padded (the default: each clip padded to Whisper's 30 s window), every layer;
* padded, stopping at one layer (``layer=K`` runs K blocks only);
* unpadded (the declared fast option: the clip's own frames only);
* padded and batched: B clips' windows through the encoder in one call
  (encoder only; how far batching takes it).

Each configuration runs ``--rounds`` times and the best round counts (the
machine may be shared).  Torch uses every core this process may use.

    python benchmarks/whisper.py [--root ../shared/data/emodb] [--clips 40] [--rounds 3] [--write]

``--write`` replaces the "Whisper encoder" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from serkit.audio import load_audio
from serkit.features.presets import get_feature
from serkit.features.whisper.frontend import log_mel, pad_window
from serkit.features.whisper.registry import RECOGNIZERS, load_recognizer, recognizer_status
from machine import cpu_model, write_section  # benchmarks/machine.py

LAYER = 3
BATCHES = (4, 8)
SPEED = Path(__file__).with_name("whisper-speed.json")


def best_of(rounds: int, run) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(name: str, clips: list[np.ndarray], rounds: int) -> dict[str, float]:
    audio = sum(len(c) for c in clips) / 16_000
    figures = {}
    start = time.perf_counter()
    encoder = load_recognizer(name)
    figures["load seconds (hash check + read)"] = time.perf_counter() - start
    for label, spec in (("padded, all layers", name), (f"padded, layers 0-{LAYER}", f"{name}:layer={LAYER}"),
                        ("unpadded, all layers", f"{name}:padded=false")):
        feature = get_feature(spec)
        feature._encoder = encoder  # share the loaded weights across configurations
        feature.process_signal(clips[0])  # warm up
        figures[label] = audio / best_of(rounds, lambda f=feature: [f.process_signal(c) for c in clips])
    for size in BATCHES:
        windows = [torch.stack([log_mel(pad_window(c)) for c in clips[i:i + size]])
                   for i in range(0, len(clips) - size + 1, size)]
        used = sum(len(c) for c in clips[: len(windows) * size]) / 16_000

        def run(windows=windows):
            with torch.inference_mode():
                for w in windows:
                    encoder(w)

        figures[f"padded, batches of {size} (encoder only)"] = used / best_of(rounds, run)
    return figures


def section(results: dict[str, dict[str, float]], clips: list[np.ndarray], command: str) -> str:
    seconds = [len(c) / 16_000 for c in clips]
    lines = [
        "## Whisper encoder",
        "",
        "Speed of the `whisper` feature (serkit's PyTorch port of the encoder, weights from the pinned "
        "packages): seconds of audio per wall-clock second, end to end per clip (log-mel, encoder, real "
        f"frames kept) unless marked encoder only. {len(clips)} EMO-DB clips, {np.mean(seconds):.2f} s on "
        f"average ({sum(seconds):.1f} s); {torch.get_num_threads()} torch threads; best of the rounds.",
        "",
        "### Command",
        "",
        f"    {command}",
        "",
        f"### Results ({cpu_model()})",
        "",
        "| recognizer | configuration | x real time | s per clip | x real time on a 3 s clip |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, figures in results.items():
        for label, value in figures.items():
            if label.startswith("load"):
                lines.append(f"| {name} | {label} | | {value:.2f} | |")
                continue
            per_clip = sum(seconds) / value / len(clips)
            # A padded clip costs one 30 s window whatever its length; unpadded cost scales with it.
            at_3s = 3.0 / per_clip if label.startswith("padded") else value
            lines.append(f"| {name} | {label} | {value:.1f} | {per_clip:.3f} | {at_3s:.1f} |")
    lines += [
        "",
        "The goal is tiny.en, padded, at least 10x real time on 3 s clips: each padded clip costs one "
        "full 30 s window whatever its length, so the rate on a 3 s clip is 3 s / (time per clip), the last column. "
        "Unpadded encoding costs in proportion to the clip. Batching padded windows gains little on two "
        "cores: the encoder's matrix products already use both.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("../shared/data/emodb"))
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write the Whisper section of docs/benchmarks.md")
    args = parser.parse_args()
    paths = sorted((args.root / "wav").glob("*.wav"))[: args.clips]
    if not paths:
        sys.exit(f"no EMO-DB clips under {args.root}/wav")
    clips = [load_audio(p, 16_000) for p in paths]
    results = {}
    for name, recognizer in RECOGNIZERS.items():
        status = recognizer_status(recognizer)
        if status != "installed":
            print(f"skipping {name}: {status}")
            continue
        results[name] = measure(name, clips, args.rounds)
        for label, value in results[name].items():
            print(f"{name:16s} {label:40s} {value:8.2f}")
    command = f"python benchmarks/whisper.py --clips {args.clips} --rounds {args.rounds} --write"
    text = section(results, clips, command)
    if args.write:
        write_section("Whisper encoder", text)
        # docs/results.md quotes these figures beside the accuracy tables.
        SPEED.write_text(json.dumps({"command": command, "clips": len(clips), "cpu": cpu_model(),
                                     "x_real_time": results}, indent=2) + "\n")
        print(f"wrote the Whisper encoder section of docs/benchmarks.md and {SPEED.name}")


if __name__ == "__main__":
    main()

"""Inference speed: a model over all of EMO-DB, with PyTorch and onnxruntime, one file at a time and batched.

Every figure is end to end, as ``serkit predict`` works: read the file,
compute its features, normalise, run the network, softmax.  Throughput is
seconds of audio per wall-clock second; latency is the wall time of one
``predict_file`` call (one file at a time).  The ONNX side is the same model
exported by ``serkit export`` into a temporary folder.  Both sides are warmed
up on a few files first; each configuration runs ``--rounds`` times and the
best round counts, because the machine may be shared.

    python benchmarks/inference.py [--model DIR|NAME] [--root ../shared/data/emodb] [--rounds 3] [--write]

``--write`` replaces the "Inference" section of ``docs/benchmarks.md`` (the
other sections are kept as they are).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from serkit.experiments.train import card_markdown
from serkit.inference import load_model, resolve_model
from serkit.inference.export import export_onnx
from machine import DOC, cpu_model, write_section  # benchmarks/machine.py

REPO = Path(__file__).resolve().parents[1]
BATCH = 32
WARM_FILES = 8


def one_at_a_time(predictor, paths: list[str]) -> tuple[float, np.ndarray]:
    latencies = []
    start = time.perf_counter()
    for path in paths:
        t = time.perf_counter()
        predictor.predict_file(path)
        latencies.append(time.perf_counter() - t)
    return time.perf_counter() - start, np.array(latencies)


def batched(predictor, paths: list[str]) -> float:
    start = time.perf_counter()
    results = predictor.predict_files(paths, batch_size=BATCH)
    elapsed = time.perf_counter() - start
    failed = [r.error for r in results if not r.ok]
    if failed:
        sys.exit(f"{len(failed)} files failed, e.g. {failed[0]}")
    return elapsed


def measure(predictor, paths: list[str], rounds: int) -> dict[str, float]:
    predictor.predict_files(paths[:WARM_FILES], batch_size=BATCH)
    for path in paths[:WARM_FILES]:
        predictor.predict_file(path)
    single, latencies, batch = np.inf, None, np.inf
    for _ in range(rounds):
        wall, lat = one_at_a_time(predictor, paths)
        if wall < single:
            single, latencies = wall, lat
        batch = min(batch, batched(predictor, paths))
    return {"single": single, "batched": batch, "median": float(np.median(latencies)),
            "p95": float(np.percentile(latencies, 95)), "max": float(latencies.max())}


def goal_line(model: str, audio: float, figures: dict[str, dict[str, float]]) -> str:
    """Issue 18's speed goal for the model: the default at least 200x real time batched, the
    accurate models at least 30x one file at a time (as `serkit predict` runs)."""
    if model.startswith("accurate"):
        best, goal, how = max(audio / f["single"] for f in figures.values()), 30, "one file at a time"
    else:
        best, goal, how = max(audio / f["batched"] for f in figures.values()), 200, "batched"
    verdict = "meets" if best >= goal else "misses"
    return f"The goal is at least {goal}x real time {how}: the best such figure, {best:.0f}x, {verdict} it."


def section(title: str, model: str, predictor, paths: list[str], audio: float, figures: dict[str, dict[str, float]],
            rounds: int, command: str) -> str:
    import onnxruntime

    card = predictor.card
    rows = []
    for backend, f in figures.items():
        rows.append(f"| {backend} | one file at a time | {f['single']:.2f} s | {audio / f['single']:.0f}x | "
                    f"{f['median'] * 1e3:.1f} / {f['p95'] * 1e3:.1f} / {f['max'] * 1e3:.1f} ms |")
        rows.append(f"| {backend} | batched ({BATCH}) | {f['batched']:.2f} s | {audio / f['batched']:.0f}x | |")
    goal = goal_line(model, audio, figures)
    return "\n".join([
        f"## {title}",
        "",
        "How fast a trained model predicts, end to end as `serkit predict` works: read each file, compute",
        "its features, normalise, run the network, softmax. Throughput is seconds of audio per wall-clock",
        "second; latency is one `predict_file` call (median / 95th percentile / worst).",
        "",
        "### Command",
        "",
        "```",
        command,
        "```",
        "",
        "### Setup",
        "",
        f"- model: `{model}` ({card.get('model', '?')} on {card.get('features', '?')}, "
        f"{len(predictor.labels)} classes); the ONNX side is the same model after `serkit export`.",
        f"- data: EMO-DB, {len(paths)} files, {audio:.1f} s of audio (none is longer than the 8 s "
        "segmentation threshold but one, which goes through voice activity detection).",
        f"- machine: {__import__('os').cpu_count()} cores, {cpu_model()}; torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__}; shared with other "
        "engineers, so each figure is the best of "
        f"{rounds} rounds after warming up on {WARM_FILES} files.",
        "",
        f"### Results ({len(paths)} files, {audio:.1f} s of audio)",
        "",
        "| backend | mode | wall time | audio s per wall s | latency per file |",
        "|---|---|---|---|---|",
        *rows,
        "",
        goal,
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model folder or shipped name (default: the shipped default)")
    parser.add_argument("--root", type=Path, default=REPO.parent / "shared" / "data" / "emodb")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--files", type=int, default=None, help="only the first N files (for slow models)")
    parser.add_argument("--write", action="store_true", help="write the Inference section of docs/benchmarks.md")
    parser.add_argument("--card", action="store_true",
                        help="also record the one-at-a-time PyTorch figure as the speed on the model's card")
    args = parser.parse_args()
    paths = sorted(str(p) for p in (args.root / "wav").glob("*.wav"))[: args.files]
    if not paths:
        sys.exit(f"no .wav files in {args.root / 'wav'}")
    audio = sum(sf.info(p).duration for p in paths)
    source = resolve_model(args.model)
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        predictors = {
            "PyTorch": load_model(source, backend="torch"),
            "onnxruntime": load_model(export_onnx(source, Path(tmp) / "m.onnx")),
        }
        for backend, predictor in predictors.items():
            figures[backend] = f = measure(predictor, paths, args.rounds)
            print(f"{backend:12s} one at a time {f['single']:6.2f} s ({audio / f['single']:4.0f}x), latency median "
                  f"{f['median'] * 1e3:.1f} ms p95 {f['p95'] * 1e3:.1f} ms; batched {f['batched']:6.2f} s "
                  f"({audio / f['batched']:4.0f}x)")
    threads = os.environ.get("OMP_NUM_THREADS")
    command = (f"OMP_NUM_THREADS={threads} " if threads else "") + "python benchmarks/inference.py" + \
        (f" --model {args.model}" if args.model else "") + (f" --files {args.files}" if args.files else "") + \
        f" --rounds {args.rounds} --write" + (" --card" if args.card else "")
    title = "Inference" if args.model in (None, "default") else f"Inference: {args.model}"
    text = section(title, args.model or "default", predictors["PyTorch"], paths, audio, figures, args.rounds, command)
    if args.write:
        write_section(title, text)
        print(f"wrote the {title} section of {DOC}")
    if args.card:
        write_card_speed(source, audio, figures["PyTorch"], len(paths), command)


def write_card_speed(model_dir: Path, audio: float, figures: dict[str, float], files: int, command: str) -> None:
    """The model's real-time factor on its card (one file at a time, as `serkit predict` runs)."""
    path = Path(model_dir) / "card.json"
    card = json.loads(path.read_text())
    card["speed"] = {"x_real_time": round(audio / figures["single"], 1),
                     "x_real_time_batched": round(audio / figures["batched"], 1),
                     "median_latency_s": round(figures["median"], 3), "files": files,
                     "cpu": cpu_model(), "command": command}
    path.write_text(json.dumps(card, indent=2) + "\n")
    (Path(model_dir) / "README.md").write_text(card_markdown(card))
    print(f"wrote the speed on {path} and README.md")


if __name__ == "__main__":
    main()

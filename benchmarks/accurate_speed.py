"""The accurate model's speed: where its time goes, and what the faster ways to run Whisper cost in accuracy.

The shipped ``accurate`` model is Whisper base's layer 4, mean-pooled, then a
linear layer.  This script measures, for each way of computing that layer:

* **speed** on ``--files`` EMO-DB files with 1 and 2 threads, one file at a
  time: reading the file, the log-mel front end, the encoder, the rest of
  ``predict_file`` (pooling, the linear layer, softmax, checks), and the end to
  end rate one file at a time and batched (``predict_files``, 32 a batch), as
  benchmarks/inference.py measures a model.  Variants run one after another
  within each round and the best of ``--rounds`` counts, so their ratios hold
  on a shared machine;
* **features**: the median and largest absolute difference of the pooled
  layer from the reference (the padding encoded in PyTorch, as the model
  shipped before computed it) and from PyTorch on the same window, over
  EMO-DB's 4-class files;
* **UA**: leave-one-speaker-out over EMO-DB's 4 classes with the layer fixed
  at 4 and the logistic regression's cost at 1.0 (what the shipped model chose;
  the recipe's inner search over layers and costs is too slow to repeat for
  every variant), pooled UA; ``--loco N`` adds N files each of nEMO and ASED
  (stratified sample, fixed seed) and leave-one-corpus-out over the three;
  the same leave-one-speaker-out for every layer, the padding encoded or
  cached; and the recipe's own cross-validation each way, read from runs/product/;
* **shorter windows** (10 s, or 2 s of silence after the clip), for accuracy
  only: no feature option runs them.

    python benchmarks/accurate_speed.py [--root ../shared/data/emodb] [--files 40] [--rounds 2]
        [--threads 1 2] [--loco 300] [--cache /tmp/accurate-speed] [--write]

``--write`` replaces the "Accurate model speed" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch

from serkit.audio import load_audio
from serkit.corpora import read_corpus, select_classes
from serkit.evaluation.metrics import unweighted_average_recall
from serkit.features.whisper.frontend import SAMPLE_RATE, log_mel
from serkit.features.whisper.layers import ENCODER_HOP, WhisperLayers
from serkit.features.whisper.registry import load_recognizer
from serkit.inference import load_model
from serkit.inference.predictor import Predictor
from serkit.models.classical import build_classical
from machine import cpu_model, write_section  # benchmarks/machine.py

REPO = Path(__file__).resolve().parents[1]
TITLE = "Accurate model speed"
LAYER, COST, BATCH, SEED = 4, 1.0, 32, 0
#: The shipped configuration first: the reference of every comparison.
VARIANTS = {
    "padded, PyTorch (shipped before)": {"padded": True, "runtime": "torch"},
    "unpadded, PyTorch": {"padded": False, "runtime": "torch"},
    "unpadded, onnxruntime": {"padded": False, "runtime": "onnx"},
    "unpadded, onnxruntime int8": {"padded": False, "runtime": "onnx-int8"},
    "padded, padding cached, PyTorch": {"padded": True, "padding": "cached", "runtime": "torch"},
    "padded, padding cached, onnxruntime": {"padded": True, "padding": "cached", "runtime": "onnx"},
    "padded, padding cached, onnxruntime int8": {"padded": True, "padding": "cached", "runtime": "onnx-int8"},
}
#: Shorter windows, tried for accuracy only (no feature option runs them): seconds of audio the
#: clip is padded to, or seconds of silence after it.
SHORTER = {"padded to 10 s": ("window", 10.0), "2 s of silence after the clip": ("silence", 2.0)}
REFERENCE = next(iter(VARIANTS))
SHIPPED = "the shipped `accurate` model, as loaded"
#: Every layer, the padding encoded or cached: whether the layers' UAs differ, layer by layer.
EVERY_LAYER = {"every layer, padding encoded": {"layer": None, "padded": True},
               "every layer, padding cached": {"layer": None, "padded": True, "padding": "cached"}}
#: The shipped recipe's own cross-validation (layer and cost chosen in each fold), each way.
RECIPE_RUNS = {"padding encoded": "runs/product/emodb-4class-best",
               "padding cached": "runs/product/emodb-4class-best-cached"}
#: Each onnxruntime variant's PyTorch counterpart: the same window, the same padding.
SAME_WINDOW = {name: name.replace("onnxruntime int8", "PyTorch").replace("onnxruntime", "PyTorch")
               for name in VARIANTS if "onnxruntime" in name}


def shipped_feature(shipped: Predictor) -> WhisperLayers:
    """A fresh copy of the shipped model's feature (nothing built yet), as ``load_model`` gives it."""
    return WhisperLayers(shipped.spec.feature.config)


def feature(variant: str, encoder) -> WhisperLayers:
    made = WhisperLayers(model="whisper-base", **{"layer": LAYER, **(VARIANTS | EVERY_LAYER)[variant]})
    made._encoder = encoder  # one verified copy of the weights for every variant
    return made


def stage_times(made: WhisperLayers, predictor: Predictor, paths: list[str]) -> dict[str, float]:
    """Seconds over ``paths``, one file at a time, by stage; then end to end and batched."""
    times = dict.fromkeys(("read", "front end", "encoder"), 0.0)
    for path in paths:
        start = time.perf_counter()
        signal = load_audio(path, made.sample_rate)
        read = time.perf_counter()
        with torch.inference_mode():
            mel = made.encoder_input(signal)[0]
            front = time.perf_counter()
            made.encode_mel(mel)
        times["read"] += read - start
        times["front end"] += front - read
        times["encoder"] += time.perf_counter() - front
    start = time.perf_counter()
    for path in paths:
        predictor.predict_file(path)
    times["one at a time"] = time.perf_counter() - start
    times["rest"] = max(times["one at a time"] - times["read"] - times["front end"] - times["encoder"], 0.0)
    start = time.perf_counter()
    predictor.predict_files(paths, batch_size=BATCH)
    times["batched"] = time.perf_counter() - start
    return times


def measure_speed(paths: list[str], threads: list[int], rounds: int) -> dict[int, dict[str, dict[str, float]]]:
    shipped = load_model("accurate", backend="torch")
    encoder = load_recognizer("whisper-base")
    results: dict[int, dict[str, dict[str, float]]] = {}
    for count in threads:
        torch.set_num_threads(count)  # before the features are made: their sessions take this count
        setups = {}
        for variant in [*VARIANTS, SHIPPED]:
            # The shipped model as loaded, its own feature settings, last: the final choice, measured again.
            made = shipped_feature(shipped) if variant == SHIPPED else feature(variant, encoder)
            start = time.perf_counter()
            made.compute(load_audio(paths[0], made.sample_rate))  # builds an onnxruntime session, a cache
            build = time.perf_counter() - start
            predictor = Predictor(dataclasses.replace(shipped.spec, feature=made), shipped.backend, shipped.config)
            predictor.predict_files(paths[:4], batch_size=BATCH)  # warm up
            setups[variant] = (made, predictor, build)
        best: dict[str, dict[str, float]] = {}
        for _ in range(rounds):
            for variant, (made, predictor, build) in setups.items():
                times = stage_times(made, predictor, paths)
                kept = best.setdefault(variant, {"first call": build})
                for stage, seconds in times.items():
                    kept[stage] = min(kept.get(stage, np.inf), seconds)
                print(f"{count} thread(s) {variant:32s} " + " ".join(f"{k} {v:.2f}" for k, v in times.items()),
                      f"| {uptime()}", flush=True)
        results[count] = best
    return results


def sample(table: pd.DataFrame, n: int) -> pd.DataFrame:
    """``n`` rows, the same share of each label, fixed seed."""
    share = n / len(table)
    picked = [part.sample(n=round(len(part) * share), random_state=SEED) for _, part in table.groupby("label")]
    return pd.concat(picked).sort_values("path")


def shorter_audio(signal: np.ndarray, kind: str, seconds: float) -> np.ndarray:
    """``signal`` padded to ``seconds`` (``window``; at least its own frames and one more), or
    followed by ``seconds`` of silence (``silence``)."""
    n = len(signal)
    own = n + 2 * ENCODER_HOP - n % ENCODER_HOP
    target = max(int(seconds * SAMPLE_RATE), own) if kind == "window" else n + int(seconds * SAMPLE_RATE)
    return np.pad(signal, (0, target - n))


def pooled(variant: str, paths: list[str], encoder, cache: Path) -> np.ndarray:
    """Layer 4 (or every layer) mean-pooled over each file's frames, ``(files, 512)`` (or ``(files, 7 * 512)``),
    cached by variant and file list."""
    settings = (VARIANTS | EVERY_LAYER).get(variant) or SHORTER[variant]
    place = cache / f"{hashlib.sha256(json.dumps([settings, paths]).encode()).hexdigest()[:16]}.npy"
    if place.exists():
        return np.load(place)
    vectors = []
    made = feature(variant, encoder) if variant in VARIANTS | EVERY_LAYER else None
    for path in paths:
        signal = load_audio(path, SAMPLE_RATE)
        if made is not None:
            vectors.append(made.compute(signal).mean(axis=1))
            continue
        with torch.inference_mode():
            states = encoder(log_mel(shorter_audio(signal, *settings))[None], upto=LAYER)[-1]
        vectors.append(states[0, : 1 + len(signal) // ENCODER_HOP].mean(0).numpy())
    cache.mkdir(parents=True, exist_ok=True)
    np.save(place, np.stack(vectors))
    return np.stack(vectors)


def fitted_ua(x_train, y_train, x_test, y_test, labels) -> tuple[np.ndarray, float]:
    model = build_classical("logistic", seed=SEED, c=COST).fit(x_train, y_train)
    predicted = model.predict(x_test)
    return predicted, unweighted_average_recall(y_test, predicted, labels=labels)


def loso_ua(x: np.ndarray, table: pd.DataFrame, labels: list[str]) -> float:
    predicted = np.empty(len(table), dtype=object)
    for speaker in sorted(table.speaker.unique()):
        test = (table.speaker == speaker).to_numpy()
        predicted[test], _ = fitted_ua(x[~test], table.label[~test], x[test], table.label[test], labels)
    return unweighted_average_recall(table.label.to_numpy(), predicted, labels=labels)


def loco_uas(x: np.ndarray, table: pd.DataFrame, labels: list[str]) -> dict[str, float]:
    uas = {}
    for corpus in sorted(table.corpus.unique()):
        test = (table.corpus == corpus).to_numpy()
        _, uas[corpus] = fitted_ua(x[~test], table.label[~test], x[test], table.label[test], labels)
    return uas


def measure_accuracy(root: Path, loco: int, cache: Path) -> dict[str, dict[str, float]]:
    torch.set_num_threads(os.cpu_count() or 1)
    tables = [select_classes(read_corpus("emodb", root), "4class")]
    if loco:
        tables += [sample(select_classes(read_corpus(name), "4class"), loco) for name in ("nemo", "ased")]
    table = pd.concat(tables, ignore_index=True)
    labels = sorted(table.label.unique())
    emodb = (table.corpus == "emodb").to_numpy()
    encoder = load_recognizer("whisper-base")
    vectors = {variant: pooled(variant, table.path.tolist(), encoder, cache) for variant in [*VARIANTS, *SHORTER]}
    results: dict = {"_layers": {}}
    for variant, x in vectors.items():
        fp32 = vectors[SAME_WINDOW.get(variant, variant)]
        gap = np.abs(x - vectors[REFERENCE])[emodb]
        row = {"diff from reference, median": float(np.median(gap)), "diff from reference, max": float(gap.max()),
               "diff from PyTorch, same window, max": float(np.abs(x - fp32)[emodb].max()),
               "EMO-DB loso UA": loso_ua(x[emodb], table[emodb].reset_index(drop=True), labels)}
        if loco:
            per_corpus = loco_uas(x, table, labels)
            row.update({f"loco UA, {c} held out": ua for c, ua in per_corpus.items()})
            row["loco mean UA"] = float(np.mean(list(per_corpus.values())))
        results[variant] = row
        print(variant, {k: round(v, 4) for k, v in row.items()}, flush=True)
    emodb_table = table[emodb].reset_index(drop=True)
    for variant in EVERY_LAYER:
        x = pooled(variant, emodb_table.path.tolist(), encoder, cache)
        width = x.shape[1] // 7
        results["_layers"][variant] = {
            layer: loso_ua(x if layer == "all" else x[:, layer * width:(layer + 1) * width], emodb_table, labels)
            for layer in ["all", *range(7)]}
    results["_scale"] = {"largest magnitude": float(np.abs(vectors[REFERENCE][emodb]).max()),
                         "median standard deviation of a dimension": float(np.median(vectors[REFERENCE][emodb].std(0)))}
    return results


def recipe_ua(run: str) -> float:
    return json.loads((REPO / run / "results.json").read_text())["pooled"]["ua"]


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip().split("load average: ")[-1]


def section(speed, accuracy, audio: float, files: int, command: str, loads: list[str]) -> str:
    lines = [f"## {TITLE}", "",
             "The `accurate` model (Whisper base's layer 4, mean-pooled, one linear layer) with the layer computed",
             "in several ways, one after another in the same process so that their ratios hold on a shared",
             "machine. x real time: seconds of audio per wall-clock second, end to end as `serkit predict` runs",
             "(read, features, model), one file at a time and batched (`predict_files`, 32 a batch; the features",
             "are computed file by file either way). Stages: one file at a time; first call: building the",
             "network (onnxruntime export, cached padding) on the first file. The goal (issue 18): at least 30x",
             "one file at a time, within 1 UA point of the shipped model.", "",
             "UA: leave-one-speaker-out on EMO-DB's 4 classes with the layer (4) and the cost (1.0) fixed at the",
             "shipped model's choice, the logistic regression refitted on each way's own features, pooled UA;",
             "loco: leave one corpus out over EMO-DB's 4-class files and a fixed stratified sample of nEMO's and",
             "ASED's (a development figure). Diffs: absolute differences of the pooled layer from the reference",
             "(the shipped padded PyTorch path) and from PyTorch on the same window, over EMO-DB's files.", "",
             "### Command", "", "```", command, "```", "",
             "### Machine", "",
             f"{os.cpu_count()} cores, {cpu_model()}, torch {torch.__version__}; shared with other jobs: load average "
             f"(1, 5, 15 min) {'; '.join(loads)} (start; end). Best of the rounds."]
    if speed:
        lines += ["", f"### Speed ({files} EMO-DB files, {audio:.1f} s of audio)", "",
                  "| threads | layer 4 computed | read | front end | encoder | rest | one at a time | batched (32) | "
                  "first call |", "|---|---|---|---|---|---|---|---|---|"]
        for count, variants in speed.items():
            for variant, t in variants.items():
                lines.append(f"| {count} | {variant} | {t['read']:.2f} s | {t['front end']:.2f} s | "
                             f"{t['encoder']:.2f} s | {t['rest']:.2f} s | {audio / t['one at a time']:.0f}x | "
                             f"{audio / t['batched']:.0f}x | {t['first call']:.1f} s |")
    if accuracy:
        keys = list(accuracy[REFERENCE])
        lines += ["", "### Accuracy", "", "| layer 4 computed | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        for variant, row in accuracy.items():
            if not variant.startswith("_"):
                lines.append(f"| {variant} | " + " | ".join(f"{v:.2g}" if "diff" in k else f"{100 * v:.1f}"
                                                           for k, v in row.items()) + " |")
        lines += ["", "The reference's pooled layer: " + ", ".join(f"{k} {v:.2f}" for k, v in accuracy["_scale"].items())
                  + ".", "", "Layer by layer (EMO-DB, leave-one-speaker-out, cost 1.0; `all`: every layer side by side):",
                  "", "| padding | " + " | ".join(map(str, next(iter(accuracy["_layers"].values())))) + " |",
                  "|---" * 9 + "|"]
        for variant, uas in accuracy["_layers"].items():
            lines.append(f"| {variant.split(', ')[1]} | " + " | ".join(f"{100 * ua:.1f}" for ua in uas.values()) + " |")
        lines += ["", "The recipe's own cross-validation (`emodb-4class-best`: layer and cost chosen in each fold by",
                  "leave-one-speaker-out over its training speakers), pooled UA: " + "; ".join(
                      f"{way} {100 * recipe_ua(run):.1f} (`{run}`)" for way, run in RECIPE_RUNS.items()) + "."]
    if speed and accuracy:
        threads, reference = min(speed), accuracy[REFERENCE]["EMO-DB loso UA"]
        lines += ["", f"### Against the goal ({threads} thread, one file at a time; UA within 1 point)", ""]
        for variant in VARIANTS:
            rate, ua = audio / speed[threads][variant]["one at a time"], accuracy[variant]["EMO-DB loso UA"]
            verdict = "meets" if rate >= 30 and abs(ua - reference) <= 0.01 else "misses"
            lines.append(f"- {variant}: {rate:.0f}x, UA {100 * ua:.1f} ({100 * (ua - reference):+.1f}): {verdict} it")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("SERKIT_DATA", REPO.parent / "shared" / "data"))
                        / "emodb")
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--loco", type=int, default=0, help="files each of nEMO and ASED for leave-one-corpus-out")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/accurate-speed"), help="pooled features kept here")
    parser.add_argument("--parts", nargs="+", choices=("speed", "accuracy"), default=["speed", "accuracy"])
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    loads = [uptime()]
    paths = sorted(str(p) for p in (args.root / "wav").glob("*.wav"))[: args.files]
    audio = sum(sf.info(p).duration for p in paths)
    speed = measure_speed(paths, args.threads, args.rounds) if "speed" in args.parts else {}
    accuracy = measure_accuracy(args.root, args.loco, args.cache) if "accuracy" in args.parts else {}
    loads.append(uptime())
    command = (f"nice -n 5 python benchmarks/accurate_speed.py --files {args.files} --rounds {args.rounds} --threads "
               + " ".join(map(str, args.threads)) + (f" --loco {args.loco}" if args.loco else "")
               + ("" if len(args.parts) == 2 else f" --parts {args.parts[0]}") + " --write")
    text = section(speed, accuracy, audio, len(paths), command, loads)
    print(text)
    if args.write:
        write_section(TITLE, text)


if __name__ == "__main__":
    main()

"""Cluster: Ray — feature extraction and LOSO cross-validation wall time with 1 and 2 workers, in this
machine's processes and on a local Ray instance, and what a 500-hour corpus would cost.

Extraction: ``--features`` over every EMO-DB file into a fresh feature cache, by
``serkit.features.extract`` with ``--workers`` 1 and 2, then by
``serkit.features.sharded.extract_on_ray`` on a Ray instance of 1 and 2 CPUs.
Cross-validation: ``--recipe`` (epochs cut to ``--epochs``, validation
``speakers:1``) leave-one-speaker-out over the ``--speakers`` only, features
already cached, with ``--jobs`` 1 and 2 (``--threads 1``) and on Ray of 1 and 2
CPUs; every run's figures are checked to equal the one-process run's.  Ray's
start-up (``ray.init``) is timed apart; a Ray run includes its workers'
first imports, as a local run of two jobs includes its spawned processes'.

    .venv/bin/python benchmarks/cluster.py [--write]

``--write`` replaces the "Cluster: Ray" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from machine import cpu_model, write_section  # benchmarks/machine.py
from serkit.experiments import load_recipe, run_cv
from serkit.experiments.executors import RayExecutor
from serkit.features.cache import FeatureCache
from serkit.features.extract import extract
from serkit.features.presets import get_preset
from serkit.features.sharded import extract_on_ray

REPO = Path(__file__).resolve().parents[1]
HOURS = 500
#: The estimate's machines: cores each, and how many.
CORES, MACHINES = 16, (1, 4, 16)
#: The estimate's cross-validation: folds and epochs of the measured network.
FOLDS, EPOCHS = 10, 30
#: Extractions timed per line (the best counts): each takes a second or two on a shared machine.
ROUNDS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("SERKIT_DATA", REPO.parent / "shared" / "data"))
                        / "emodb")
    parser.add_argument("--features", default="logmel-seed000")
    parser.add_argument("--recipe", type=Path, default=REPO / "recipes" / "seed000" / "loso-cnn-logmel.yaml")
    parser.add_argument("--speakers", default="03,08,09,10", help="the LOSO folds' speakers")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="write the section of docs/benchmarks.md")
    args = parser.parse_args()
    import ray

    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        files = [str(p) for p in sorted((args.root / "wav").glob("*.wav"))]
        audio = sum(sf.info(f).duration for f in files)
        feature = get_preset(args.features).feature
        corpus = subset(args.root, scratch / "emodb", args.speakers.split(","))
        recipe = load_recipe(args.recipe).override(root=str(corpus), epochs=args.epochs, validation="speakers:1",
                                                   features=args.features)
        cache = FeatureCache(scratch / "cv-cache")
        extract(feature, [str(p) for p in sorted((corpus / "wav").glob("*.wav"))], cache=cache)

        rows, reference, fold_costs = [], None, []
        for workers in (1, 2):
            timed = min(extract(feature, files, cache=FeatureCache(scratch / f"local-{workers}-{r}"),
                                workers=workers).wall_seconds for r in range(ROUNDS))
            started = time.perf_counter()
            summary = run_cv(recipe, scratch / f"cv-local-{workers}", cache=cache, workers=1, threads=1,
                             jobs=workers)
            cv_seconds = time.perf_counter() - started
            reference = reference or summary
            assert summary["pooled"] == reference["pooled"], "the figures depend on the executor"
            rows.append(("local", workers, None, None, timed, cv_seconds))
            if workers == 1:
                fold_costs = training_costs(scratch / "cv-local-1", corpus, args.epochs)
        for workers in (1, 2):
            started = time.perf_counter()
            ray.init(address="local", num_cpus=workers, include_dashboard=False, logging_level=logging.WARNING)
            init_seconds = time.perf_counter() - started
            try:
                # first with workers that have yet to import serkit, then again into an empty cache
                cold = extract_on_ray(feature, files, FeatureCache(scratch / f"ray-{workers}-cold")).wall_seconds
                timed = min(extract_on_ray(feature, files, FeatureCache(scratch / f"ray-{workers}-{r}")).wall_seconds
                            for r in range(ROUNDS))
                started = time.perf_counter()
                summary = run_cv(recipe, scratch / f"cv-ray-{workers}", cache=cache, workers=1, threads=1,
                                 executor=RayExecutor())
                cv_seconds = time.perf_counter() - started
            finally:
                ray.shutdown()
            assert summary["pooled"] == reference["pooled"], "the figures depend on the executor"
            rows.append(("ray", workers, init_seconds, cold, timed, cv_seconds))

        load.append(os.getloadavg()[0])
        sizes = [extract(feature, [f], cache=FeatureCache(scratch / "local-1-0")).features[f].nbytes for f in files]
        text = section(args, rows, len(files), audio, float(np.sum(sizes)), fold_costs, reference, load)
    print(text)
    if args.write:
        write_section("Cluster: Ray", text)


def subset(root: Path, out: Path, speakers: list[str]) -> Path:
    """An EMO-DB folder of links to the given speakers' files."""
    (out / "wav").mkdir(parents=True)
    for path in sorted((root / "wav").glob("*.wav")):
        if path.name[:2] in speakers:
            (out / "wav" / path.name).symlink_to(path)
    return out


def training_costs(run: Path, corpus: Path, epochs: int) -> list[float]:
    """Each fold's fit seconds per second of its training audio per epoch (one thread)."""
    costs = []
    for record in sorted(run.glob("folds/*/predictions.json")):
        fold = json.loads(record.read_text())
        train = set(fold["fold"]["groups"]["speaker"]["train"])
        seconds = sum(sf.info(p).duration for p in (corpus / "wav").glob("*.wav") if p.name[:2] in train)
        costs.append(fold["seconds"] / seconds / epochs)
    return costs


def section(args, rows, n_files, audio, feature_bytes, fold_costs, reference, load) -> str:
    local_1 = rows[0][4]
    extract_cost = local_1 / audio  # one core's seconds per second of audio
    train_cost = float(np.median(fold_costs))
    hours = HOURS * 3600
    lines = [
        "## Cluster: Ray",
        "",
        "Wall time of feature extraction and of leave-one-speaker-out cross-validation with one and two",
        "workers, in this machine's processes (`--workers N`, `serkit cv --jobs N --threads 1`) and on a local",
        "Ray instance of N CPUs (`--executor ray`; docs/cluster.md). Every run gives the same figures",
        f"(pooled UA {reference['pooled']['ua']:.3f}; the script checks it).",
        "",
        "### Command",
        "",
        "```",
        "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/cluster.py --write",
        "```",
        "",
        "### Setup",
        "",
        f"- extraction: `{args.features}` over all of EMO-DB ({n_files} files, {audio:.1f} s of audio) into an empty",
        f"  feature cache, best of {ROUNDS}; on Ray each chunk of files is a task of one CPU writing its files'",
        "  cache entries.",
        f"- cross-validation: `{args.recipe.relative_to(REPO)}` cut to {args.epochs} epochs and validation",
        f"  `speakers:1`, LOSO over speakers {args.speakers} ({len(reference['folds'])} folds), features already",
        "  cached, one torch thread per fold.",
        "- Ray start-up (`ray.init`, a new local instance) is timed apart. Ray's workers are processes that",
        "  import serkit on their first task: the first extraction is shown apart, and the extraction column",
        "  is a second one into an empty cache (local extraction forks, which costs no imports). A",
        "  cross-validation on Ray includes its workers' first imports of the training code and torch, as",
        "  `--jobs 2` includes its spawned processes' imports.",
        f"- machine: {os.cpu_count()} cores, {cpu_model()}; one-minute load average {load[0]:.1f} at the start,",
        f"  {load[1]:.1f} at the end (this benchmark's own processes included)"
        + (", so other work kept it loaded: the figures are noisy and the two-worker lines cannot show a "
           "clean 2x, there were not two idle cores to give." if max(load) > os.cpu_count() else "."),
        "",
        "### Results",
        "",
        "| executor | workers | Ray start-up | extraction, workers' first call | extraction | files per s "
        "| LOSO cross-validation |",
        "|---|---|---|---|---|---|---|",
    ]
    for executor, workers, init, cold, extraction, cv in rows:
        lines.append(f"| {executor} | {workers} | {_seconds(init)} | {_seconds(cold)} | {extraction:.2f} s | "
                     f"{n_files / extraction:.0f} | {cv:.1f} s |")
    storage = feature_bytes / audio * hours
    lines += [
        "",
        f"### What {HOURS} hours would cost",
        "",
        "From the costs measured above, one core each:",
        "",
        f"- extraction: {local_1:.2f} s (one worker, best of {ROUNDS}) for {audio:.0f} s of audio, **{extract_cost * 1e3:.2f} ms per second of",
        f"  audio** ({local_1 / n_files * 1e3:.1f} ms per utterance of EMO-DB's {audio / n_files:.1f} s on average); the",
        f"  arrays take {feature_bytes / audio / 1e3:.1f} kB per second of audio.",
        f"- training: the folds' median fit time per second of training audio per epoch, **{train_cost * 1e3:.1f}",
        f"  ms** (one thread, the network above; {', '.join(f'{c * 1e3:.1f}' for c in fold_costs)} ms by fold),",
        f"  {train_cost * audio / n_files * 1e3:.0f} ms per utterance per epoch; measured on the loaded machine, so",
        "  likely high.",
        "- every core of a cluster is taken to work as fast as one core here, and n cores n times as fast as",
        "  one: a lower bound on the wall time (the loaded machine above cannot measure how two workers",
        "  scale, and a shared file system may be the limit before the cores are).",
        "",
        f"{HOURS} hours are {hours:,} s of audio. Extraction costs {hours * extract_cost / 3600:.1f} core-hours",
        f"and writes {storage / 1e9:.0f} GB to the shared cache. A {FOLDS}-fold speaker-independent",
        f"cross-validation of the same network for {EPOCHS} epochs trains each fold on {FOLDS - 1}/{FOLDS} of",
        f"the audio: {FOLDS} x {EPOCHS} x {(FOLDS - 1) / FOLDS:.1f} x {hours:,} s x {train_cost * 1e3:.1f} ms = "
        f"{FOLDS * EPOCHS * (FOLDS - 1) / FOLDS * hours * train_cost / 3600:,.0f} core-hours",
        "(validation and test passes included, as in the measured fits).",
        "",
        f"| machines ({CORES} cores each) | extraction | cross-validation, one thread per fold | "
        f"cross-validation, {CORES} threads per fold |",
        "|---|---|---|---|",
    ]
    for n in MACHINES:
        cores = n * CORES
        extraction_h = hours * extract_cost / 3600 / cores
        train_h = FOLDS * EPOCHS * (FOLDS - 1) / FOLDS * hours * train_cost / 3600
        # one thread per fold: only FOLDS folds run at once, however many cores there are
        one_thread = train_h / min(FOLDS, n * CORES)
        many_threads = train_h / min(cores, FOLDS * CORES)
        lines.append(f"| {n} | {_hours(extraction_h)} | {_hours(one_thread)} | {_hours(many_threads)} |")
    lines += [
        "",
        f"The last column assumes a fold's {CORES} threads train {CORES} times as fast as one, which torch on a",
        "CPU does not reach: it is a bound. Folds are independent, so",
        f"beyond {FOLDS} folds' worth of cores only data-parallel training of each fold (DistributedDataParallel)",
        "or a GPU shortens cross-validation; extraction scales with the cores until the shared file system",
        f"is the limit (reading {HOURS} hours of 16 kHz 16-bit audio is {hours * 32000 / 1e9:.0f} GB).",
        "",
    ]
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f} s"


def _hours(value: float) -> str:
    if value < 1 / 60:
        return f"{value * 3600:.0f} s"
    return f"{value * 60:.0f} min" if value < 1 else f"{value:.1f} h"


if __name__ == "__main__":
    main()

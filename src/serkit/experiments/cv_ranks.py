"""``serkit cv`` under torchrun: the folds one after the other, each fitted by every process together.

Launched by torchrun, :func:`run_cv_on_ranks` joins the process group
(:func:`serkit.training.distributed.process_group`) and:

- rank 0 owns the run folder, reads the corpus, extracts the features (into
  the cache), records the thread count and tells the other ranks which folds
  are still to fit; they then read the corpus and the features, from the cache
  (a path every process sees, like the run folder);
- every rank fits each pending fold through the Trainer's DDP path (the global
  batch split over the ranks, rank 0 alone evaluating and writing
  checkpoints); rank 0 alone predicts the test part and writes the fold's
  predictions.json, and after the last fold results.json and the report.

A fold interrupted mid-training resumes from its last checkpoint with the same
number of processes, and a finished fold is skipped, as in one process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from serkit.errors import SerkitError
from serkit.experiments.cv import CvFoldJob, finish_cv, load_corpus, prepare_cv, run_folds
from serkit.experiments.extraction import corpus_features, training_copies
from serkit.experiments.executors import LocalExecutor, RayExecutor
from serkit.experiments.recipe import Recipe
from serkit.features.cache import FeatureCache
from serkit.outputs import owned_folder
from serkit.progress import StageProgress, for_stage
from serkit.training import distributed


def run_cv_on_ranks(recipe: Recipe, out_dir: str | Path, *, cache: FeatureCache | None, workers: int | None,
                    threads: int | None, jobs: int, executor: LocalExecutor | RayExecutor | None,
                    progress: StageProgress | None) -> dict[str, Any] | None:
    """:func:`~serkit.experiments.cv.run_cv` on every torchrun process; results.json's dict on rank 0,
    None on the others."""
    if jobs > 1 or isinstance(executor, RayExecutor) or (executor is not None and executor.jobs > 1):
        raise SerkitError("under torchrun every process fits each fold together, one fold after another: drop "
                          "--jobs and --executor, or run serkit cv without torchrun to fit folds at once with them")
    if recipe.classical:
        raise SerkitError(f"{recipe.name}: a classical model fits in one process; run serkit cv without "
                          "torchrun (--jobs N fits several folds at once)")
    with distributed.process_group(recipe.train.device) as world:
        if not world.main:
            _fit_along(recipe, Path(out_dir), cache, workers, world)
            return None
        with owned_folder(out_dir) as folder:
            # the ranks of this machine share its cores (the executor only extracts here)
            here = LocalExecutor(int(os.environ.get("LOCAL_WORLD_SIZE", world.size)))
            run = prepare_cv(recipe, folder, cache=cache, workers=workers, threads=threads, executor=here,
                             progress=progress)
            distributed.barrier(world)  # the features are in the cache: the other ranks read them now
            distributed.broadcast(([fold.index for fold in run.pending], run.job.threads), world)
            for fold in run.pending:
                run.job.fit(fold, for_stage(progress, f"fold {fold.index:02d}"))
            summary = finish_cv(run)
        distributed.barrier(world)  # the others leave the group once rank 0 is done with it
        return summary


def _fit_along(recipe: Recipe, out_dir: Path, cache: FeatureCache | None, workers: int | None,
               world: distributed.World) -> None:
    """A rank other than 0: the same corpus, folds and features, each pending fold trained along
    with rank 0 (which alone writes)."""
    corpus = load_corpus(recipe)  # read while rank 0 reads it too
    folds = run_folds(recipe, corpus)
    distributed.barrier(world)
    pending, threads = distributed.broadcast(None, world)
    pending = [fold for fold in folds if fold.index in pending]
    job = CvFoldJob(recipe, corpus, corpus_features(recipe, corpus.table, cache, workers, None), out_dir, threads,
                    training_copies(recipe, corpus.table, pending, cache, workers, None))
    for fold in pending:
        job.fit(fold)
    distributed.barrier(world)

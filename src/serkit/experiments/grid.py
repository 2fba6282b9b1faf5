"""A grid of recipes cross-validated at once: every (recipe, fold) pair one task on the executor.

:func:`run_grid` owns every recipe's run folder for the whole grid, prepares
each run as :func:`~serkit.experiments.cv.run_cv` does (corpus, folds, the
recorded thread count, features extracted once per recipe, before any fold is
dispatched), hands the executor all the pending folds together (its
``fit_many``: local processes with ``jobs``, or Ray tasks), then writes each
run's results.json and report.  Each folder is exactly what ``serkit cv``
writes for that recipe: the same figures and hashes, and a grid or a single
``serkit cv`` resumes it alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from serkit.errors import SerkitError
from serkit.experiments.cv import finish_cv, prepare_cv
from serkit.experiments.executors import LocalExecutor, RayExecutor
from serkit.experiments.recipe import Recipe
from serkit.features.cache import FeatureCache
from serkit.outputs import owned_folder
from serkit.progress import StageProgress
from serkit.training import distributed


def run_grid(
    runs: Sequence[tuple[Recipe, str | Path]],
    *,
    cache: FeatureCache | None = None,
    workers: int | None = None,
    threads: int | None = None,
    jobs: int = 1,
    progress: StageProgress | None = None,
    executor: LocalExecutor | RayExecutor | None = None,
) -> list[dict[str, Any]]:
    """Cross-validate each recipe into its folder (resuming what is there); returns each run's
    results.json dict, in the order given.  ``jobs``, ``threads`` and ``executor`` mean what they
    mean to :func:`~serkit.experiments.cv.run_cv`; ``jobs`` counts (recipe, fold) pairs."""
    folders = [Path(out_dir).resolve() for _, out_dir in runs]
    if len(set(folders)) < len(folders):
        twice = sorted({str(f) for f in folders if folders.count(f) > 1})
        raise SerkitError(f"two recipes of the grid would write into one run folder: {', '.join(twice)}")
    if distributed.launched().active:
        raise SerkitError("serkit grid does not run under torchrun: use --jobs N or --executor ray")
    executor = executor or LocalExecutor(jobs)
    with contextlib.ExitStack() as stack:
        owned = [stack.enter_context(owned_folder(folder, "--out-root")) for folder in folders]
        stack.enter_context(executor)
        prepared = [prepare_cv(recipe, folder, cache=cache, workers=workers, threads=threads, executor=executor,
                               progress=_named(progress, folder.name))
                    for (recipe, _), folder in zip(runs, owned)]
        executor.fit_many([(run.job, run.pending) for run in prepared], progress)
        return [finish_cv(run) for run in prepared]


def _named(progress: StageProgress | None, name: str) -> StageProgress | None:
    """``progress`` with a run's stages (its features) named after its folder."""
    if progress is None:
        return None
    return lambda stage, done, total: progress(f"{name} {stage}", done, total)

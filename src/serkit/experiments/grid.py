"""A grid of recipes cross-validated at once: every (recipe, fold) pair one task on the executor.

:func:`run_grid` owns every recipe's run folder for the whole grid, prepares
each run as :func:`~serkit.experiments.cv.run_cv` does (corpus, folds, the
recorded thread count, features extracted once per recipe, before any fold is
dispatched), hands the executor all the pending folds together (its
``fit_many``: local processes with ``jobs``, or Ray tasks), then writes each
run's results.json and report.  Each folder is exactly what ``serkit cv``
writes for that recipe: the same figures and hashes, and a grid or a single
``serkit cv`` resumes it alike.

A recipe whose ``init`` is another run of the grid (seed 001's transfer rows
start each fold from the same fold of a base run) waits for it: the grid runs
in stages (:func:`dependency_stages`), each stage's folds dispatched together
once the stages before it have finished, so one command runs a base and the
rows built on it.  Every recipe is still read, split and its features
extracted before the first fold; only its base model is checked when its
stage starts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from serkit.errors import SerkitError
from serkit.experiments.cv import finish_cv, prepare_cv
from serkit.experiments.executors import LocalExecutor, RayExecutor
from serkit.experiments.fitters.transfer import check_init
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
    stages = dependency_stages([recipe for recipe, _ in runs], folders)
    executor = executor or LocalExecutor(jobs)
    with contextlib.ExitStack() as stack:
        owned = [stack.enter_context(owned_folder(folder, "--out-root")) for folder in folders]
        stack.enter_context(executor)
        later = {number for stage in stages[1:] for number in stage}
        prepared = [prepare_cv(recipe, folder, cache=cache, workers=workers, threads=threads, executor=executor,
                               progress=_named(progress, folder.name), check_base=number not in later)
                    for number, ((recipe, _), folder) in enumerate(zip(runs, owned))]
        summaries: dict[int, dict[str, Any]] = {}
        for stage in stages:
            for number in stage:
                if number in later:  # its base run has just finished
                    check_init(runs[number][0], per_fold=True)
            executor.fit_many([(prepared[number].job, prepared[number].pending) for number in stage], progress)
            summaries.update({number: finish_cv(prepared[number]) for number in stage})
        return [summaries[number] for number in range(len(runs))]


def dependency_stages(recipes: Sequence[Recipe], folders: Sequence[Path]) -> list[list[int]]:
    """The grid's runs (their numbers) in stages: a run whose ``init`` is another run's folder of
    the grid comes in a stage after that run's.  Refuses a cycle."""
    number_of = {folder: number for number, folder in enumerate(folders)}
    base = {number: number_of.get(Path(recipe.init).resolve()) if recipe.init else None
            for number, recipe in enumerate(recipes)}
    stages: list[list[int]] = []
    placed: set[int] = set()
    while len(placed) < len(recipes):
        ready = [n for n in range(len(recipes)) if n not in placed and (base[n] is None or base[n] in placed)]
        if not ready:
            waiting = sorted(str(folders[n]) for n in range(len(recipes)) if n not in placed)
            raise SerkitError(f"these runs of the grid start from each other in a circle (init): {', '.join(waiting)}")
        stages.append(ready)
        placed.update(ready)
    return stages


def _named(progress: StageProgress | None, name: str) -> StageProgress | None:
    """``progress`` with a run's stages (its features) named after its folder."""
    if progress is None:
        return None
    return lambda stage, done, total: progress(f"{name} {stage}", done, total)

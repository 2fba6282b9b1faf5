"""Where cross-validation extracts its features and fits its folds: here, or on Ray.

An executor gives a run its features (:meth:`features`, before any fold is
dispatched) and fits the pending folds (:meth:`fit`) with one fold job (cv's
``CvFoldJob``, whose ``fit(fold)`` writes the fold's predictions.json), so a
local run and a Ray run share the code that fits a fold and write the same
files; the figures do not depend on the executor.  A grid of recipes
(:func:`serkit.experiments.grid.run_grid`) hands it several jobs at once
(:meth:`fit_many`): every (recipe, fold) pair is one task, dealt out recipe by
recipe in turn, so that every recipe's first folds start early.

- :class:`LocalExecutor` (``--executor local``, ``--jobs N``): features in
  this machine's processes; folds one after the other in this process, or N
  at once in spawned processes.
- :class:`RayExecutor` (``--executor ray`` or ``ray://HOST:PORT``): features
  on Ray tasks into the feature cache (:mod:`serkit.features.sharded`), and
  each pending fold a Ray task that declares its CPUs (the run's threads per
  fold) and GPUs.  A fold task is sent the cache's path and each file's
  digest, not the arrays, so the cache, like the run folder, must be a path
  every worker reads.  A worker that dies takes its fold with it and Ray runs
  the fold again (:data:`MAX_RETRIES`), resuming from its last checkpoint; a
  fold with its predictions.json is never fitted again.  Each attempt is
  recorded (host, pid, start and end times) in ``folds/NN/worker.json``.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import socket
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from serkit.cluster import Executor, import_ray, ray_session
from serkit.features.base import Feature
from serkit.features.cache import FeatureCache
from serkit.features.extract import extract
from serkit.outputs import atomic_write_text
from serkit.progress import Progress, StageProgress, for_stage
from serkit.protocols import Fold
from serkit.workers import exit_with_parent

#: How often Ray runs a fold again whose worker died (a fold that raises fails the run).
MAX_RETRIES = 3
#: A fold task's record of its attempts, in the fold's folder.
WORKER_RECORD = "worker.json"


class FoldJob(Protocol):
    """What an executor needs of cv's fold job."""

    threads: int | None
    #: the run folder (its name labels the job's folds where a grid runs several jobs)
    out_dir: Path

    def fit(self, fold: Fold, report: Progress | None = None) -> None: ...

    def folder(self, fold: Fold) -> Path: ...

    def predictions(self, fold: Fold) -> Path: ...


def make_executor(spec: str | Executor = "local", jobs: int = 1, gpus: float = 0) -> LocalExecutor | RayExecutor:
    """The executor ``--executor`` names; ``jobs`` is a local run's folds at once, and a local Ray
    instance's CPUs (default: every core)."""
    spec = Executor.parse(spec) if isinstance(spec, str) else spec
    if not spec.ray:
        return LocalExecutor(jobs)
    import_ray()  # says how to install it before any work
    return RayExecutor(spec.address, num_cpus=jobs if jobs > 1 else None, gpus=gpus)


class LocalExecutor:
    """This machine: ``jobs`` folds at once (see :func:`serkit.experiments.run_cv`)."""

    def __init__(self, jobs: int = 1):
        self.jobs = jobs
        #: how many folds share the cores (None: the executor does not know)
        self.folds_at_once: int | None = jobs

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def features(self, feature: Feature, paths: list[str], cache: FeatureCache | None, workers: int | None,
                 progress: Progress | None) -> Mapping[str, np.ndarray]:
        return extract(feature, paths, cache=cache, workers=workers, progress=progress).features

    def fit(self, job: FoldJob, folds: Sequence[Fold], progress: StageProgress | None) -> None:
        self.fit_many([(job, folds)], progress)

    def fit_many(self, work: Sequence[tuple[FoldJob, Sequence[Fold]]], progress: StageProgress | None) -> None:
        """Each job's folds, ``jobs`` (recipe, fold) pairs at once."""
        tasks = interleaved(work)
        jobs = [job for job, _ in work]
        if self.jobs <= 1 or len(tasks) <= 1:
            for number, fold in tasks:
                jobs[number].fit(fold, for_stage(progress, fold_label(jobs, number, fold)))
            return
        # Spawned, not forked: the parent may have run torch (Whisper features), whose
        # OpenMP pool does not survive a fork.  The jobs are pickled once per worker.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(self.jobs, len(tasks)), mp_context=context,
                                 initializer=_init_fold_worker, initargs=(jobs, os.getpid())) as pool:
            futures = [pool.submit(_fit_in_worker, number, fold) for number, fold in tasks]
            _report(progress, 0, len(tasks))
            for done, future in enumerate(as_completed(futures), 1):
                future.result()  # a failed fold stops the run, as it does in one process
                _report(progress, done, len(tasks))


def interleaved(work: Sequence[tuple[FoldJob, Sequence[Fold]]]) -> list[tuple[int, Fold]]:
    """The (job number, fold) pairs to fit, one job's fold after another's in turn."""
    queues = [list(folds) for _, folds in work]
    return [(number, queue[i]) for i in range(max(map(len, queues), default=0))
            for number, queue in enumerate(queues) if i < len(queue)]


def fold_label(jobs: Sequence[FoldJob], number: int, fold: Fold) -> str:
    """A fold's progress stage or task name: ``fold NN``, after its run folder's name in a grid."""
    label = f"fold {fold.index:02d}"
    return label if len(jobs) == 1 else f"{jobs[number].out_dir.name} {label}"


_worker_jobs: Sequence[FoldJob] = ()


def _init_fold_worker(jobs: Sequence[FoldJob], parent: int) -> None:
    global _worker_jobs
    exit_with_parent(parent)  # a fold must not go on writing into a run its parent no longer owns
    _worker_jobs = jobs


def _fit_in_worker(number: int, fold: Fold) -> None:
    assert _worker_jobs, "worker used without its initializer"
    _worker_jobs[number].fit(fold)


class RayExecutor:
    """Ray at ``address`` (``ray://HOST:PORT``), else a local instance of ``num_cpus`` (every core);
    each fold asks for the run's threads as CPUs and ``gpus`` GPUs.  Used as a context manager, it
    holds one Ray session for the run (started when first needed) and stops only what it started."""

    folds_at_once: int | None = None  # Ray places the folds: a fold's threads are the run's own choice

    def __init__(self, address: str | None = None, num_cpus: int | None = None, gpus: float = 0):
        self.address, self.num_cpus, self.gpus = address, num_cpus, gpus
        self._session = contextlib.ExitStack()
        self._ray: ModuleType | None = None

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self._session.close()
        self._ray = None

    def ray(self) -> ModuleType:
        if self._ray is None:
            self._ray = self._session.enter_context(ray_session(self.address, self.num_cpus))
        return self._ray

    def features(self, feature: Feature, paths: list[str], cache: FeatureCache | None, workers: int | None,
                 progress: Progress | None) -> Mapping[str, np.ndarray]:
        from serkit.features.sharded import extract_on_ray

        self.ray()  # this run's session, which the extraction joins
        return extract_on_ray(feature, paths, cache or FeatureCache(), progress=progress).features

    def fit(self, job: FoldJob, folds: Sequence[Fold], progress: StageProgress | None) -> None:
        self.fit_many([(job, folds)], progress)

    def fit_many(self, work: Sequence[tuple[FoldJob, Sequence[Fold]]], progress: StageProgress | None) -> None:
        """Each (job, fold) pair a Ray task."""
        tasks = interleaved(work)
        if not tasks:  # finished runs, resumed: nothing to start Ray for
            return
        ray = self.ray()
        jobs = [job for job, _ in work]
        # each job with folds to fit sent once; it holds the cache's path and digests, not the arrays
        refs = {number: ray.put(jobs[number]) for number in {number for number, _ in tasks}}
        task = ray.remote(_fit_on_ray)
        pending = [task.options(num_cpus=jobs[number].threads or 1, num_gpus=self.gpus, max_retries=MAX_RETRIES,
                                retry_exceptions=False, name=fold_label(jobs, number, fold)).remote(refs[number], fold)
                   for number, fold in tasks]
        _report(progress, 0, len(tasks))
        try:
            while pending:
                finished, pending = ray.wait(pending, num_returns=1)
                ray.get(finished[0])  # a failed fold stops the run, as it does here
                _report(progress, len(tasks) - len(pending), len(tasks))
        finally:
            for ref in pending:  # stopped, so that they write no more into a run this process gives up
                ray.cancel(ref, force=True)


def _fit_on_ray(job: FoldJob, fold: Fold) -> dict[str, Any] | None:
    """A Ray task: one fold, with its attempt recorded; nothing when an earlier attempt finished it."""
    if job.predictions(fold).exists():  # its worker died after the fold was written
        return None
    record = job.folder(fold) / WORKER_RECORD
    attempts = json.loads(record.read_text())["attempts"] if record.exists() else []
    attempts.append({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time(), "ended": None})
    record.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(record, json.dumps({"attempts": attempts}, indent=1) + "\n")
    job.fit(fold)
    attempts[-1]["ended"] = time.time()
    atomic_write_text(record, json.dumps({"attempts": attempts}, indent=1) + "\n")
    return attempts[-1]


def _report(progress: StageProgress | None, done: int, total: int) -> None:
    if progress:
        progress("folds", done, total)

"""Feature extraction for many files: cached, on every core, with the bad-input rule.

:func:`extract` runs one extractor over a list of files:

1. With a cache, each file is hashed once (in this process; hashing is much
   faster than any feature) and the arrays already cached are loaded.
2. The rest are computed in a :class:`~concurrent.futures.ProcessPoolExecutor`
   of ``workers`` processes (default: every core this process may use), in
   chunks of several files, so that per-task overhead stays small.  Each
   worker limits BLAS, OpenMP and torch to one thread: the processes already
   use every core, and nested threads would only compete.  ``workers=1``, or
   a single file to compute, runs in this process.
3. New arrays are stored in the cache.

**Bad input.**  A file that cannot be used raises an
:class:`~serkit.errors.AudioError` that names it and the reason (missing,
not audio, truncated, empty, NaN, too short for the feature).  By default the
first one met stops the extraction and raises; with ``skip_bad=True`` bad files
are collected in :attr:`Extraction.errors` and the others go on.  Errors that
are not about the input (bugs) always propagate.

Progress goes to ``progress(done, total)`` in files, never to the terminal.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import numpy as np
import threadpoolctl

from serkit.errors import AudioError
from serkit.features.base import Feature
from serkit.progress import Progress
from serkit.features.cache import FeatureCache
from serkit.workers import exit_with_parent

log = logging.getLogger(__name__)

#: Files per task at most: enough to amortise inter-process overhead, few
#: enough that progress moves and the load stays balanced.
MAX_CHUNK = 16


@dataclasses.dataclass
class Extraction:
    """What :func:`extract` produced."""

    #: Feature of every good file, keyed by its path as given, in input order.
    features: dict[str, np.ndarray]
    #: ``(path, reason)`` of every bad file, in input order (only with ``skip_bad``).
    errors: list[tuple[str, str]]
    #: Files computed, and files loaded from the cache.
    computed: int
    cached: int
    wall_seconds: float


def extract(
    feature: Feature,
    paths: Iterable[str | Path],
    *,
    cache: FeatureCache | None = None,
    workers: int | None = None,
    skip_bad: bool = False,
    progress: Progress | None = None,
    start_method: str | None = None,
) -> Extraction:
    """Run ``feature`` over ``paths``; see the module docstring for the rules.

    ``start_method`` picks how worker processes start (``multiprocessing``'s
    names); the default is ``"fork"`` on Linux, where it costs milliseconds
    instead of seconds of imports per pool, and ``"spawn"`` elsewhere.
    """
    started = time.perf_counter()
    keys = list(dict.fromkeys(str(p) for p in paths))  # unique, in input order
    total = len(keys)
    arrays: dict[str, np.ndarray] = {}
    bad: dict[str, str] = {}
    digests: dict[str, str] = {}

    def fail(path: str, reason: str) -> None:
        if not skip_bad:
            raise AudioError(path, reason)
        log.warning("skipping %s: %s", path, reason)
        bad[path] = reason

    todo: list[str] = []
    for key in keys:
        if cache is None:
            todo.append(key)
            continue
        try:
            digests[key] = cache.digest(key)
        except AudioError as e:
            fail(key, e.reason)
            continue
        array = cache.load(feature, digests[key])
        if array is None:
            todo.append(key)
        else:
            arrays[key] = array
    cached = len(arrays)
    done = cached + len(bad)
    if progress is not None and done:
        progress(done, total)

    # closing(): a raised bad-input error shuts the worker pool down at once.
    with contextlib.closing(_compute(feature, todo, workers, start_method)) as chunks:
        for results in chunks:
            for key, array, reason in results:
                if reason is not None:
                    fail(key, reason)
                else:
                    arrays[key] = array if cache is None else cache.kept(feature, digests[key], array)
            done += len(results)
            if progress is not None:
                progress(done, total)

    elapsed = time.perf_counter() - started
    log.info(
        "%s: %d files (%d computed, %d cached, %d bad) in %.2f s",
        feature.family, total, len(arrays) - cached, cached, len(bad), elapsed,
    )
    return Extraction(
        features={k: arrays[k] for k in keys if k in arrays},
        errors=[(k, bad[k]) for k in keys if k in bad],
        computed=len(arrays) - cached,
        cached=cached,
        wall_seconds=elapsed,
    )


Result = tuple[str, np.ndarray | None, str | None]


def _compute(feature: Feature, paths: list[str], workers: int | None, start_method: str | None):
    """Yield lists of ``(path, array, None)`` or ``(path, None, reason)``, chunk by chunk."""
    workers = min(available_cores() if workers is None else max(1, workers), len(paths))
    if workers <= 1:
        for path in paths:
            yield [_compute_one(feature, path)]
        return
    size = chunk_size(len(paths), workers)
    chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
    context = multiprocessing.get_context(start_method or _default_start_method())
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(feature, os.getpid())
    ) as pool:
        pending = {pool.submit(_compute_chunk, chunk) for chunk in chunks}
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield future.result()
        finally:
            # On an error, or when the caller stops early, drop the chunks not yet started.
            pool.shutdown(cancel_futures=True)


def chunk_size(n_files: int, workers: int) -> int:
    """Files per task: about four tasks per worker, at most :data:`MAX_CHUNK` files each."""
    return max(1, min(MAX_CHUNK, math.ceil(n_files / (4 * workers))))


def available_cores() -> int:
    """Cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _default_start_method() -> str:
    return "fork" if sys.platform.startswith("linux") else "spawn"


def _compute_one(feature: Feature, path: str) -> Result:
    try:
        return path, feature.process_file(path), None
    except AudioError as e:
        # The reason travels as text: AudioError's two-argument constructor does not unpickle.
        return path, None, e.reason


# The extractor of a worker process, set once by its initializer so that it is
# sent (and an openSMILE extractor built) once per process, not once per chunk.
_worker_feature: Feature | None = None


def _init_worker(feature: Feature, parent: int) -> None:
    global _worker_feature
    exit_with_parent(parent)
    single_threaded()
    _worker_feature = feature


def single_threaded() -> None:
    """One BLAS, OpenMP and torch thread in this worker process: the workers already fill the cores."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"  # for libraries this worker loads later
    threadpoolctl.threadpool_limits(1)  # for those already loaded
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _compute_chunk(paths: list[str]) -> list[Result]:
    assert _worker_feature is not None, "worker used without its initializer"
    return [_compute_one(_worker_feature, path) for path in paths]

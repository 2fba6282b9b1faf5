"""Feature extraction on Ray: files spread over workers, one memory-mappable array per file, an index.

:func:`extract_on_ray` sends the files to Ray tasks in chunks (about four per
CPU of the cluster, at most :data:`~serkit.features.extract.MAX_CHUNK` files
each; each task one CPU and one thread).  For each file a task hashes it, and,
unless the cache already holds it, computes the feature and stores it, at its
:meth:`FeatureCache.entry <serkit.features.cache.FeatureCache.entry>`: the
very file a local extraction reads and writes.  So a run here finds what the
cluster computed, and the other way round.

**Shards.**  A shard is one ``.npy`` file per utterance, the cache entry,
which ``np.load(path, mmap_mode="r")`` maps without reading it.  Packing many
utterances into one file would mean fewer files on a big corpus, but a second
layout beside the cache's, and a local run that no longer finds them.

**Index.**  Tasks return what they wrote (digest, shape, dtype, host), never
the arrays, and this process checks that every input file is there exactly
once and that each entry is readable *here* with the shape its worker wrote: a
cache that is not one shared path fails now, naming the worker's host.  The
index is then written, atomically, to
``CACHE/<family>/<config>/indexes/<hash of the file list>.json``::

    {"schema": 1, "feature": {...}, "cache": "/shared/cache",
     "files": {"/data/a.wav": {"digest": "…", "entry": "logmel/…/ab/ab….npy",
                               "shape": [64, 301], "dtype": "float32", "host": "node-3"}, …},
     "errors": {"/data/bad.wav": "empty file"}, "computed": 530, "cached": 5}

with ``entry`` relative to the cache folder.  :meth:`CachedFeatures.from_index`
reads it back as a mapping from path to array.

A killed worker's chunk is run again (Ray's task retries); every write is
atomic, so a chunk cut short leaves no half-written entry.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import logging
import socket
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from serkit.cluster import ray_session
from serkit.errors import AudioError, SerkitError
from serkit.features.base import Feature, feature_from_dict
from serkit.features.cache import FeatureCache
from serkit.features.extract import chunk_size, single_threaded
from serkit.outputs import atomic_write_text
from serkit.progress import Progress

log = logging.getLogger(__name__)

INDEX_SCHEMA = 1
#: How often Ray runs a chunk again whose worker died (not one that raised).
MAX_RETRIES = 3


@dataclasses.dataclass
class CachedFeatures(Mapping[str, np.ndarray]):
    """Path -> feature array, read from the cache at ``root`` when asked for: what a Ray task is sent
    instead of the arrays themselves (the cache is a path every worker reads)."""

    root: Path
    feature: Feature
    digests: dict[str, str]

    def __getitem__(self, path: str) -> np.ndarray:
        array = FeatureCache(self.root).load(self.feature, self.digests[path])
        if array is None:
            raise SerkitError(
                f"{path}: no feature at {FeatureCache(self.root).entry(self.feature, self.digests[path])} on "
                f"{socket.gethostname()}: the feature cache must be a path every worker reads (--cache)")
        return array

    def __iter__(self) -> Iterator[str]:
        return iter(self.digests)

    def __len__(self) -> int:
        return len(self.digests)

    @classmethod
    def from_index(cls, index_path: str | Path) -> CachedFeatures:
        """The arrays an index lists (:func:`extract_on_ray` wrote it)."""
        index = json.loads(Path(index_path).read_text())
        if index.get("schema") != INDEX_SCHEMA:
            raise SerkitError(f"{index_path}: not a feature index of schema {INDEX_SCHEMA}")
        return cls(Path(index["cache"]), feature_from_dict(index["feature"]),
                   {path: row["digest"] for path, row in index["files"].items()})


@dataclasses.dataclass
class ShardedExtraction:
    """What :func:`extract_on_ray` produced: the index's rows, in input order."""

    files: dict[str, dict[str, Any]]
    #: ``(path, reason)`` of every bad file, in input order (only with ``skip_bad``)
    errors: list[tuple[str, str]]
    computed: int
    cached: int
    wall_seconds: float
    index_path: Path
    features: CachedFeatures


def extract_on_ray(
    feature: Feature,
    paths: Iterable[str | Path],
    cache: FeatureCache,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    skip_bad: bool = False,
    progress: Progress | None = None,
) -> ShardedExtraction:
    """Run ``feature`` over ``paths`` on Ray (at ``address``, else a local instance of ``num_cpus``);
    see the module docstring.  Bad input follows :func:`serkit.features.extract.extract`'s rule."""
    started = time.perf_counter()
    keys = list(dict.fromkeys(str(p) for p in paths))
    root = cache.root.resolve()  # workers do not share this process's working directory
    rows: list[dict[str, Any]] = []
    with ray_session(address, num_cpus) as ray:
        size = chunk_size(len(keys), int(ray.cluster_resources().get("CPU", 1)))
        task = ray.remote(_extract_chunk).options(num_cpus=1, max_retries=MAX_RETRIES)
        feature_ref = ray.put(feature)
        pending = [task.remote(feature_ref, str(root), [(k, str(Path(k).resolve())) for k in keys[i:i + size]])
                   for i in range(0, len(keys), size)]
        try:
            while pending:
                finished, pending = ray.wait(pending, num_returns=1)
                chunk = ray.get(finished[0])
                first_bad = next((row for row in chunk if "error" in row), None)
                if first_bad is not None and not skip_bad:
                    raise AudioError(first_bad["path"], first_bad["error"])
                rows += chunk
                if progress is not None:
                    progress(len(rows), len(keys))
        finally:
            for ref in pending:  # on an error: the chunks not yet run are not wanted
                ray.cancel(ref)
    files = check_index(keys, rows, FeatureCache(root), feature)
    errors = [(row["path"], row["error"]) for row in _in_order(keys, rows) if "error" in row]
    for path, reason in errors:
        log.warning("skipping %s: %s", path, reason)
    computed = sum(not row["cached"] for row in files.values())
    index_path = FeatureCache(root).folder(feature) / "indexes" / f"{_files_hash(keys)}.json"
    index = {"schema": INDEX_SCHEMA, "feature": feature.to_dict(), "cache": str(root),
             "files": {path: {k: v for k, v in row.items() if k not in ("path", "cached")}
                       for path, row in files.items()},
             "errors": dict(errors), "computed": computed, "cached": len(files) - computed}
    index_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(index_path, json.dumps(index, indent=1) + "\n")
    elapsed = time.perf_counter() - started
    log.info("%s on ray: %d files (%d computed, %d cached, %d bad) in %.2f s",
             feature.family, len(keys), computed, len(files) - computed, len(errors), elapsed)
    return ShardedExtraction(files, errors, computed, len(files) - computed, elapsed, index_path,
                             CachedFeatures(root, feature, {p: row["digest"] for p, row in files.items()}))


def check_index(keys: list[str], rows: list[dict[str, Any]], cache: FeatureCache,
                feature: Feature) -> dict[str, dict[str, Any]]:
    """The good rows by path, in input order, once every input file is known to be there exactly once
    (a feature, or a reason it has none) and each entry reads here with the shape its worker wrote."""
    counts = collections.Counter(row["path"] for row in rows)
    missing = [k for k in keys if counts[k] == 0]
    repeated = sorted(path for path, n in counts.items() if n > 1)
    unknown = sorted(set(counts) - set(keys))
    for what, names in (("missing", missing), ("present more than once", repeated), ("not asked for", unknown)):
        if names:
            raise SerkitError(f"feature index: {len(names)} file(s) {what}, e.g. {names[0]}")
    files = {row["path"]: row for row in _in_order(keys, rows) if "error" not in row}
    for path, row in files.items():
        entry = cache.entry(feature, row["digest"])
        try:
            shape = np.load(entry, mmap_mode="r").shape
        except (OSError, ValueError):
            shape = None
        if shape != tuple(row["shape"]):
            raise SerkitError(f"{path}: its feature, written on {row['host']}, is not at {entry} here: "
                              "the feature cache must be one path every worker reads (--cache)")
        row["entry"] = str(entry.relative_to(cache.root))
    return files


def _in_order(keys: list[str], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_path = {row["path"]: row for row in rows}
    return [by_path[k] for k in keys if k in by_path]


def _files_hash(keys: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:16]


def _extract_chunk(feature: Feature, root: str, files: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """A Ray task: each file's feature stored in the cache at ``root`` unless it is there; a row each."""
    single_threaded()
    cache, host = FeatureCache(root), socket.gethostname()
    rows = []
    for key, path in files:
        try:
            digest = cache.digest(path)
            try:  # already there: its header says what it holds
                array, cached = np.load(cache.entry(feature, digest), mmap_mode="r"), True
            except (OSError, ValueError):
                array, cached = feature.process_file(path), False
                cache.store(feature, digest, array)
        except AudioError as e:  # the reason travels as text, as in a local extraction
            rows.append({"path": key, "error": e.reason})
            continue
        rows.append({"path": key, "digest": digest, "shape": list(array.shape), "dtype": str(array.dtype),
                     "host": host, "cached": cached})
    return rows

"""On-disk feature cache, keyed by the audio's content and the feature's configuration.

An entry is one ``.npy`` file at::

    ROOT/<family>/<config hash>-<sample rate>hz/<hash[:2]>/<content hash>.npy

where the content hash is the SHA-256 of the audio file's bytes
(:func:`serkit.audio.io.content_hash`), so a renamed or copied file hits and
a changed file misses, and the configuration hash is
:meth:`~serkit.features.base.Feature.config_hash`, so a changed setting
misses.  Each configuration folder also holds its ``feature.json``, to say
what made it.  ``ROOT`` is ``$SERKIT_CACHE`` or ``~/.cache/serkit/features``
unless given.

Writes are atomic (a temporary file in the same folder, then ``os.replace``),
so parallel extractions of the same file and interrupted runs never leave a
half-written entry.  A cache remembers the hashes it computed, keyed by the
file's inode, size and modification and change times, so one file is not
hashed twice while it is unchanged.  As git does with its index, it does not
remember the hash of a file changed less than :data:`RACY_SECONDS` before it
was hashed: file times are coarse (milliseconds, or seconds on some file
systems), so a second write within the same tick would leave them unchanged.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np

from serkit.audio.io import content_hash
from serkit.features.base import Feature
from serkit.outputs import atomic_write

log = logging.getLogger(__name__)

CACHE_ENV = "SERKIT_CACHE"
#: A file changed this recently when hashed is hashed again next time.
RACY_SECONDS = 2.0
#: Entries larger than this (bytes) are memory-mapped when loaded: Whisper base's stacked layers
#: are 0.7 MB per second of audio, spectral features a few kB.
MAP_ABOVE = 1 << 20


def default_cache_dir() -> Path:
    """``$SERKIT_CACHE``, or ``~/.cache/serkit/features``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "serkit" / "features"


class FeatureCache:
    """Feature arrays on disk under ``root`` (default: :func:`default_cache_dir`)."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()
        self._hashes: dict[tuple[str, int, int, int, int], str] = {}

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.root)!r})"

    def digest(self, path: str | Path) -> str:
        """Content hash of ``path``, computed once while the file is unchanged.

        Raises :class:`~serkit.errors.AudioError` for a missing or empty file.
        """
        path = Path(path)
        try:
            st = path.stat()
        except OSError:
            return content_hash(path)  # raises the AudioError that names the reason
        identity = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if identity in self._hashes:
            return self._hashes[identity]
        hashed_at = time.time_ns()
        digest = content_hash(path)
        if max(st.st_mtime_ns, st.st_ctime_ns) < hashed_at - RACY_SECONDS * 1e9:
            self._hashes[identity] = digest
        return digest

    def folder(self, feature: Feature) -> Path:
        return self.root / feature.family / f"{feature.config_hash()}-{feature.sample_rate}hz"

    def entry(self, feature: Feature, digest: str) -> Path:
        return self.folder(feature) / digest[:2] / f"{digest}.npy"

    def load(self, feature: Feature, digest: str) -> np.ndarray | None:
        """The cached array, or None when there is none (or it is unreadable).

        An entry over :data:`MAP_ABOVE` bytes is memory-mapped (copy on write: the entry on
        disk never changes), so that a corpus's stacked recognizer layers need not fit in memory."""
        path = self.entry(feature, digest)
        try:
            mapped = "c" if path.stat().st_size > MAP_ABOVE else None
            return np.load(path, mmap_mode=mapped, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            log.warning("ignoring unreadable cache entry %s (%s); recomputing", path, e)
            return None

    def store(self, feature: Feature, digest: str, array: np.ndarray) -> Path:
        path = self.entry(feature, digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        description = self.folder(feature) / "feature.json"
        if not description.exists():
            atomic_write(description, feature.save, durable=False)
        atomic_write(path, lambda tmp: _save_npy(tmp, array), durable=False)
        return path

    def kept(self, feature: Feature, digest: str, array: np.ndarray) -> np.ndarray:
        """``array`` stored, and what a caller keeps of it: the mapped entry for a large one."""
        self.store(feature, digest, array)
        return array if array.nbytes <= MAP_ABOVE else self.load(feature, digest)

    def get(self, feature: Feature, path: str | Path) -> np.ndarray:
        """``feature.process_file(path)``, from the cache when it holds it, else computed and stored."""
        digest = self.digest(path)
        array = self.load(feature, digest)
        if array is None:
            array = self.kept(feature, digest, feature.process_file(path))
        return array


def _save_npy(path: Path, array: np.ndarray) -> None:
    # A file object, because np.save appends ".npy" to a name that lacks it.
    with open(path, "wb") as f:
        np.save(f, np.asarray(array), allow_pickle=False)

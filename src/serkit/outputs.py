"""Where serkit writes: output paths checked before any work, folders owned by one process.

A command that writes a run or model folder checks the path first
(:func:`output_folder`, :func:`output_file`), so a bad ``--out`` is one line
before minutes of feature extraction, not a traceback after them.  It then
holds the folder's lock (:func:`owned_folder`) for as long as it writes there:
a second process on the same folder is refused instead of interleaving its
checkpoints with the first one's.  The lock is an ``flock`` on ``DIR/.lock``,
which the kernel drops when its holder dies, even by ``kill -9``.

Every file is written atomically (:func:`atomic_write_bytes`): into a
temporary file beside its target, flushed, then renamed over it, so a kill
leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from serkit.errors import SerkitError

log = logging.getLogger(__name__)

LOCK = ".lock"
#: What an interrupted atomic write leaves beside its target (``serkit.training.checkpoint``).
TEMPORARY_PREFIX = ".tmp-"


def output_folder(path: str | Path, option: str = "--out") -> Path:
    """Create ``path`` (and its parents) if needed and check that files can be written in it."""
    path = Path(path)
    _check_ancestors(path, option)
    if path.exists() and not path.is_dir():
        raise SerkitError(f"{option} {path}: a file is there, not a folder")
    _make_writable(path, path, option)
    return path


def output_file(path: str | Path, option: str = "--out") -> Path:
    """Check that ``path`` can be written as a file (its folder is created if needed)."""
    path = Path(path)
    _check_ancestors(path, option)
    if path.is_dir():
        raise SerkitError(f"{option} {path}: a folder is there, not a file")
    _make_writable(path.parent, path, option)
    return path


def _make_writable(folder: Path, named: Path, option: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f"{TEMPORARY_PREFIX}probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise SerkitError(f"{option} {named}: cannot write there ({_reason(error)})") from None


def _check_ancestors(path: Path, option: str) -> None:
    # mkdir's own error for a file in the way is "File exists" or "Not a directory": name the file.
    for parent in reversed(path.absolute().parents):
        if parent.exists() and not parent.is_dir():
            raise SerkitError(f"{option} {path}: {parent} is a file, not a folder")


def _reason(error: OSError) -> str:
    return error.strerror or errno.errorcode.get(error.errno or 0, str(error))


@contextlib.contextmanager
def owned_folder(path: str | Path, option: str = "--out") -> Iterator[Path]:
    """Check, lock and sweep ``path`` for the duration of the block; raises if another process holds it.

    Leftovers of interrupted atomic writes (``.tmp-*``) anywhere below are
    removed once the lock is held: no other process can be writing them.
    """
    path = output_folder(path, option)
    descriptor = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 64, 0).decode(errors="replace").strip() or "another process"
            raise SerkitError(
                f"{path} is in use by serkit process {holder}: wait for it to finish, or use another {option}"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        sweep_temporaries(path)
        yield path
    finally:
        os.close(descriptor)  # releases the lock


def sweep_temporaries(root: Path) -> int:
    """Remove what interrupted atomic writes left under ``root``; returns how many."""
    leftovers = [p for p in root.rglob(f"{TEMPORARY_PREFIX}*")]
    for leftover in leftovers:
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    if leftovers:
        log.info("%s: removed %d leftovers of interrupted writes", root, len(leftovers))
    return len(leftovers)


def atomic_write(path: str | Path, write: Callable[[Path], None], *, durable: bool = True) -> None:
    """Call ``write`` on a temporary file beside ``path``, then move it into place.

    ``durable`` flushes the file to disk before the rename, so that the rename
    never publishes an empty file after a power cut (a cache entry, which can
    be recomputed, skips it).  The temporary name is unique per call, so
    processes and threads writing the same target never share one.
    """
    path = Path(path)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMPORARY_PREFIX}{path.name}-")
    os.close(descriptor)
    temporary = Path(name)
    try:
        write(temporary)
        if durable:
            fsync_path(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda temporary: temporary.write_bytes(data))


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def fsync_path(path: Path) -> None:
    """Flush a file's (or a folder's entries') writes to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_flushed(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and flush it to disk (a rename is durable only after this)."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())

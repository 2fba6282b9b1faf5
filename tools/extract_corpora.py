"""Extract the nEMO and ASED repository snapshots into ``$SERKIT_CORPORA`` and check them.

Both corpora are public GitHub repositories; a snapshot is a bare git
directory (a ``git clone --bare``, or a clone's ``.git``). This script writes
``git archive HEAD`` of each into ``<out>/<name>/``, checks that every file
holds exactly its committed bytes (the ASED repository sets ``* text=auto``,
so a careless checkout could rewrite files) and that the number of wav files is
the one the corpus declares (nEMO 4481, ASED 2474), and exits 1 naming what is
wrong. It is idempotent: a folder already extracted from the same commit and
still whole is left as it is; anything else is extracted afresh beside it and
swapped in only once it checks out. The corpora are never committed.

    .venv/bin/python tools/extract_corpora.py --out /work/corpora \\
        nemo=/work/.mirror/amu-cai+nEMO/repo ased=/work/.mirror/Ethio2021+ASED_V1/repo

``--out`` defaults to ``$SERKIT_CORPORA``, where the readers' tests and the
data checks look for ``nemo/`` and ``ased/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

MARKER = ".serkit-snapshot.json"


@dataclass(frozen=True)
class Snapshot:
    """A corpus distributed as a git repository: where it lives and what it must hold."""

    name: str
    repository: str
    #: glob of its audio files, relative to the corpus folder
    audio: str
    files: int


SNAPSHOTS = {
    s.name: s
    for s in (
        Snapshot("nemo", "amu-cai/nEMO", "samples/*.wav", 4481),
        Snapshot("ased", "Ethio2021/ASED_V1", "*/*.wav", 2474),
    )
}


class ExtractError(Exception):
    """What is wrong with one snapshot, in one line."""


def git(git_dir: Path, *args: str) -> bytes:
    result = subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True)
    if result.returncode:
        raise ExtractError(f"{git_dir}: git {' '.join(args)} failed: {result.stderr.decode().strip()}")
    return result.stdout


def committed_blobs(git_dir: Path, commit: str) -> dict[str, str]:
    """Path -> blob id of every file in ``commit``."""
    listing = git(git_dir, "ls-tree", "-r", "-z", commit).decode().split("\0")
    blobs = {}
    for entry in filter(None, listing):
        meta, path = entry.split("\t", 1)
        _, kind, blob = meta.split()
        if kind == "blob":
            blobs[path] = blob
    return blobs


def blob_id(path: Path) -> str:
    """The id git gives a file's bytes (SHA-1 of ``blob <size>\\0`` and the bytes)."""
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def check(snapshot: Snapshot, folder: Path, blobs: dict[str, str]) -> None:
    """Raise :class:`ExtractError` unless ``folder`` holds the committed files and the declared count."""
    differ = [p for p, blob in blobs.items() if not (folder / p).is_file() or blob_id(folder / p) != blob]
    if differ:
        raise ExtractError(
            f"{snapshot.name}: {len(differ)} files missing or unlike their committed bytes in {folder}, "
            f"e.g. {differ[0]}"
        )
    found = len(list(folder.glob(snapshot.audio)))
    if found != snapshot.files:
        raise ExtractError(
            f"{snapshot.name}: {found} files match {snapshot.audio} in {folder}, "
            f"expected {snapshot.files} ({snapshot.repository})"
        )


def extract(snapshot: Snapshot, git_dir: Path, out: Path) -> str:
    """Extract ``git_dir``'s HEAD into ``out/<name>`` unless it is already there; says what it did."""
    commit = git(git_dir, "rev-parse", "HEAD^{commit}").decode().strip()
    target = out / snapshot.name
    if _marker(target).get("commit") == commit and len(list(target.glob(snapshot.audio))) == snapshot.files:
        return f"{snapshot.name}: {target} already holds {snapshot.repository} {commit[:12]}"
    blobs = committed_blobs(git_dir, commit)
    fresh = out / f".{snapshot.name}.partial"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    try:
        _archive(git_dir, commit, fresh)
        check(snapshot, fresh, blobs)
        record = {"repository": snapshot.repository, "commit": commit, "files": snapshot.files}
        (fresh / MARKER).write_text(json.dumps(record, indent=2) + "\n")
        _swap(fresh, target)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    return (f"{snapshot.name}: extracted {snapshot.repository} {commit[:12]} into {target} "
            f"({snapshot.files} wav files)")


def _marker(target: Path) -> dict:
    try:
        return json.loads((target / MARKER).read_text())
    except (OSError, ValueError):
        return {}


def _archive(git_dir: Path, commit: str, folder: Path) -> None:
    process = subprocess.Popen(
        ["git", f"--git-dir={git_dir}", "archive", "--format=tar", commit],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    with tarfile.open(fileobj=process.stdout, mode="r|") as archive:
        archive.extractall(folder, filter="data")  # no links or paths out of the folder
    if process.wait():
        raise ExtractError(f"{git_dir}: git archive failed: {process.stderr.read().decode().strip()}")


def _swap(fresh: Path, target: Path) -> None:
    # The old copy goes only once the new one is whole and in place.
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "snapshots", nargs="+", metavar="NAME=GIT_DIR",
        help=f"a corpus ({', '.join(SNAPSHOTS)}) and its bare git directory",
    )
    parser.add_argument("--out", type=Path, default=os.environ.get("SERKIT_CORPORA"),
                        help="folder to extract into (default $SERKIT_CORPORA)")
    args = parser.parse_args(argv)
    if args.out is None:
        parser.error("give --out or set SERKIT_CORPORA")
    errors = 0
    for item in args.snapshots:
        name, _, git_dir = item.partition("=")
        try:
            if name not in SNAPSHOTS or not git_dir:
                raise ExtractError(f"{item}: expected NAME=GIT_DIR with NAME one of {', '.join(SNAPSHOTS)}")
            print(extract(SNAPSHOTS[name], Path(git_dir), args.out.resolve()))
        except ExtractError as e:
            print(f"error: {e}", file=sys.stderr)
            errors += 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

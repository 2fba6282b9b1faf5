"""Scanning a corpus folder: finding its files, and turning a reader's records into a table.

Every reader finds its files (:func:`corpus_root`, :func:`find_files`), lists
them with what their names and label files say, then hands the records to
:func:`build_table`, which reads each file's header (no decoding) for its
duration and applies the bad-file rule: by default the first bad file
raises :class:`~serkit.errors.AudioError` naming it; with ``skip_bad=True``
the bad files are left out and listed in ``table.attrs["skipped"]`` as
``{"path", "reason"}`` dicts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from serkit.audio.io import check_complete, info
from serkit.corpora.table import make_table
from serkit.errors import AudioError, CorpusError
from serkit.progress import Progress

log = logging.getLogger(__name__)

def corpus_root(root: str | Path, corpus: str) -> Path:
    """``root`` as an absolute path, checked to be a folder."""
    path = Path(os.path.abspath(Path(root).expanduser()))
    if not path.is_dir():
        raise CorpusError(f"{path}: no such folder (the {corpus} root)")
    return path


def find_files(folder: Path, pattern: str) -> list[Path]:
    """Files under ``folder`` matching the glob ``pattern``, hidden ones left out.

    Hidden names are skipped because copies made on macOS carry ``._name``
    resource forks beside every file, which are not audio.
    """
    return sorted(
        p
        for p in folder.glob(pattern)
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def audio_duration(path: str | Path) -> float:
    """Seconds of audio in ``path``, from its header, after checking the file is whole.

    Raises :class:`AudioError` for a file that is missing, empty, not audio,
    holds no samples, or is truncated: a RIFF/AIFF or NIST SPHERE header that
    declares more data than the file holds, or a compressed stream (FLAC)
    whose last sample cannot be decoded.
    """
    header = info(path)
    check_complete(header, decode_end=True)
    return header.duration


def read_tree(
    corpus: str,
    root: str | Path,
    record: Callable[[Path], Mapping[str, Any]],
    *,
    pattern: str = "**/*.wav",
    skip_bad: bool = False,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """The table of a corpus whose file names say everything: ``record(path)`` per file."""
    root = corpus_root(root, corpus)
    records = [record(path) for path in find_files(root, pattern)]
    return build_table(corpus, records, root=root, skip_bad=skip_bad, progress=progress)


def build_table(
    corpus: str,
    records: Iterable[Mapping[str, Any]],
    *,
    root: str | Path,
    skip_bad: bool = False,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """The validated table of ``records`` (one dict of column values per file, no duration).

    Rows are sorted by path.  ``progress(done, total)`` is called as files
    are checked.
    """
    records = sorted(records, key=lambda r: r["path"])
    if not records:
        raise CorpusError(f"{root}: no {corpus} recordings found (see `serkit corpus list` for the layout)")
    rows, skipped = [], []
    total = len(records)
    if progress:
        progress(0, total)
    for done, record in enumerate(records, 1):
        try:
            rows.append({**record, "corpus": corpus, "duration": audio_duration(record["path"])})
        except AudioError as e:
            if not skip_bad:
                raise
            log.warning("skipping %s: %s", e.path, e.reason)
            skipped.append({"path": e.path, "reason": e.reason})
        if progress:
            progress(done, total)
    if not rows:
        raise CorpusError(f"{root}: every one of the {total} {corpus} files is bad")
    log.info("%s: %d recordings from %s, %d skipped", corpus, len(rows), root, len(skipped))
    return make_table(rows, attrs={"root": str(root), "skipped": skipped})

"""The leakage guard: no audio, speaker or grouped value on two sides of a fold.

:func:`check_fold` raises :class:`~serkit.errors.LeakageError` when

* identical audio (same SHA-256 of the file's bytes, whatever its name) sits
  in two parts of the fold — under every protocol, the speaker-dependent one
  included;
* a speaker, or a value of any other column the fold is grouped by (the
  crossed protocol's sentences, a session), sits in two parts — unless the
  fold is the declared speaker-dependent one.

"Two parts" means any pair of training, validation and test: a validation
speaker who is also a test speaker would let model selection peek at the
test speaker.

Hashing reads every file once; :func:`audio_hashes` does it for a whole table
so that the result can be kept (as a ``content_hash`` column or passed as
``hashes=``) and reused for every fold and protocol.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from serkit.audio.io import content_hash
from serkit.errors import LeakageError, SerkitError
from serkit.progress import Progress
from serkit.protocols.fold import PARTS, Fold, group_values

HASH_COLUMN = "content_hash"

Hashes = str | Mapping[str, str] | Sequence[str] | np.ndarray | pd.Series

_PART_NAMES = {"train": "training", "validation": "validation", "test": "test"}


def audio_hashes(
    table: pd.DataFrame, hashes: Hashes | None = None, progress: Progress | None = None
) -> np.ndarray:
    """Content hash of each row's audio, in row order.

    ``hashes`` may be a column name, a mapping from path to hash, or one hash
    per row; by default the table's ``content_hash`` column is used when it has
    one, and otherwise every distinct file is hashed (in threads: hashlib
    releases the GIL while it digests).
    """
    if hashes is None and HASH_COLUMN in table.columns:
        hashes = HASH_COLUMN
    if isinstance(hashes, str):
        if hashes not in table.columns:
            raise SerkitError(f"no column {hashes!r} of content hashes in the corpus table")
        values = table[hashes].to_numpy(dtype=object)
    elif isinstance(hashes, Mapping):
        paths = _paths(table)
        missing = [p for p in paths if p not in hashes]
        if missing:
            raise SerkitError(f"no content hash given for {len(missing)} files, e.g. {missing[0]}")
        values = np.array([hashes[p] for p in paths], dtype=object)
    elif hashes is not None:
        values = np.asarray(hashes, dtype=object)
        if values.shape != (len(table),):
            raise SerkitError(
                f"{len(values)} content hashes given for a table of {len(table)} rows"
            )
    else:
        values = _hash_files(_paths(table), progress)
    if pd.isna(values).any():
        raise SerkitError("content hashes are missing for some rows of the corpus table")
    return values


def check_fold(table: pd.DataFrame, fold: Fold, hashes: Hashes | None = None) -> None:
    """Raise :class:`LeakageError` if ``fold`` lets audio, a speaker or a group leak.

    ``table`` must be the table the fold was made from; ``hashes`` is as for
    :func:`audio_hashes` (computed when not given).
    """
    _check_positions(table, fold)
    if not fold.speaker_dependent and "speaker" not in fold.grouped_by:
        raise LeakageError(
            f"{_where(fold)}: a speaker-independent fold must keep speakers apart, "
            f"but it is grouped only by {list(fold.grouped_by)}"
        )
    columns = {column: _group_column(table, fold, column) for column in fold.grouped_by}
    for column, values in columns.items():
        # speakers-only validation shares the training side's other groups (sentences) on purpose;
        # the test part must still share nothing
        shared_ok = {("train", "validation")} if (
            column != "speaker" and fold.validation_strategy.startswith("speakers-only")) else set()
        _check_apart(table, fold, column, values, shared_ok)
    _check_apart(table, fold, "audio", audio_hashes(table, hashes))
    # Only a fold that leaks nothing is checked against its own record, so that
    # a hand-edited leaking fold is reported as the leak it is.
    for column in columns:
        _check_record(table, fold, column)


def _check_positions(table: pd.DataFrame, fold: Fold) -> None:
    if fold.n_rows != len(table):
        raise SerkitError(
            f"{_where(fold)} was made for a table of {fold.n_rows} rows; this one has {len(table)}"
        )
    for part, rows in fold.parts.items():
        if rows and (min(rows) < 0 or max(rows) >= len(table)):
            raise SerkitError(f"{_where(fold)}: {part} rows point outside the table")
    seen: dict[int, str] = {}
    for part, rows in fold.parts.items():
        for row in rows:
            if row in seen:
                raise LeakageError(
                    f"{_where(fold)}: {_path(table, row)} is in both the "
                    f"{_PART_NAMES[seen[row]]} and {_PART_NAMES[part]} parts"
                )
            seen[row] = part


def _group_column(table: pd.DataFrame, fold: Fold, column: str) -> np.ndarray:
    if column not in table.columns:
        raise LeakageError(f"{_where(fold)} is grouped by {column!r}, which the table lacks")
    values = table[column]
    used = np.fromiter(itertools.chain(*fold.parts.values()), dtype=np.int64)
    missing = used[values.iloc[used].isna().to_numpy()]
    if missing.size:
        raise LeakageError(
            f"{_where(fold)}: {_path(table, missing[0])} has no {column}, so the fold "
            f"cannot be shown to keep {column}s apart"
        )
    return values.astype(str).to_numpy(dtype=object)


def _check_record(table: pd.DataFrame, fold: Fold, column: str) -> None:
    recorded = fold.groups.get(column, {})
    for part, rows in fold.parts.items():
        if tuple(recorded.get(part, ())) != group_values(table, column, rows):
            raise SerkitError(
                f"{_where(fold)}: the {column}s it records for the {part} part do not match "
                "the table (was it made from another table?)"
            )


def _check_apart(table: pd.DataFrame, fold: Fold, what: str, values: np.ndarray,
                 shared_ok: set[tuple[str, str]] = frozenset()) -> None:
    """Raise if a value of ``values`` occurs in two parts of ``fold`` (except the pairs ``shared_ok``)."""
    for a, b in itertools.combinations(PARTS, 2):
        if (a, b) in shared_ok:
            continue
        rows_a = np.asarray(fold.parts[a], dtype=np.int64)
        rows_b = np.asarray(fold.parts[b], dtype=np.int64)
        shared = set(values[rows_a]) & set(values[rows_b])
        if not shared:
            continue
        value = min(shared)
        row_a = rows_a[values[rows_a] == value][0]
        row_b = rows_b[values[rows_b] == value][0]
        sides = f"the {_PART_NAMES[a]} and {_PART_NAMES[b]} parts"
        if what == "audio":
            reason = (
                f"identical audio (sha256 {value[:12]}) is in {sides}: "
                f"{_path(table, row_a)} and {_path(table, row_b)}"
            )
        else:
            reason = (
                f"{what} {value!r} is in {sides} (e.g. {_path(table, row_a)} and "
                f"{_path(table, row_b)})"
            )
        more = f"; {len(shared) - 1} more shared" if len(shared) > 1 else ""
        raise LeakageError(f"{_where(fold)}: {reason}{more}")


def _hash_files(paths: list[str], progress: Progress | None) -> np.ndarray:
    unique = list(dict.fromkeys(paths))
    digests: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for done, (path, digest) in enumerate(
            zip(unique, pool.map(content_hash, unique), strict=True), start=1
        ):
            digests[path] = digest
            if progress is not None:
                progress(done, len(unique))
    return np.array([digests[p] for p in paths], dtype=object)


def _paths(table: pd.DataFrame) -> list[str]:
    if "path" not in table.columns:
        raise SerkitError("the corpus table has no 'path' column to hash audio from")
    return table["path"].astype(str).tolist()


def _path(table: pd.DataFrame, row: int) -> str:
    return str(table["path"].iloc[row]) if "path" in table.columns else f"row {row}"


def _where(fold: Fold) -> str:
    return f"{fold.protocol} fold {fold.name!r}"

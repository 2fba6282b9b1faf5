"""Any other corpus, described by a CSV or TSV manifest.

``root`` is the manifest file, or a folder holding one ``manifest.csv`` or
``manifest.tsv``.  A ``.tsv`` or ``.tab`` file is tab-separated, anything else
comma-separated; the first line names the columns::

    path,speaker,label,gender
    wav/spk1_001.wav,spk1,anger,female

``path`` and ``speaker`` are required.  The other columns it may have are the
corpus table's own (see :mod:`serkit.corpora.table`) except ``corpus``,
``duration`` (always read from the audio header) and ``original_label`` (the
``label`` cell as written); any other column is an error rather than being
dropped unseen.  Relative paths (``path``, ``alignment``, the trace columns)
are resolved against the manifest's folder; an empty cell is None (NaN for
``valence``, ``arousal``, ``dominance``).

Labels are canonical names (``labels.yaml``) unless a ``label_map`` is given:
a dict from the manifest's codes to canonical names, or the name of a corpus
whose map in ``labels.yaml`` applies (``label_map="iemocap"`` for
IEMOCAP-coded labels).  Either way an unknown label is an error naming the
manifest, the line and the label.  The corpus is called ``corpus`` if given,
else after the manifest file (or its folder, for ``manifest.csv``).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from serkit.corpora.labels import corpus_codes, vocabulary
from serkit.corpora.scan import build_table
from serkit.corpora.table import COLUMNS
from serkit.errors import CorpusError
from serkit.progress import Progress

NAME = "manifest"
LAYOUT = "a CSV/TSV file (or a folder with manifest.csv/.tsv): path, speaker[, label, gender, ...]"

_COMPUTED = ("corpus", "duration", "original_label")
ALLOWED = tuple(c.name for c in COLUMNS if c.name not in _COMPUTED)
REQUIRED = ("path", "speaker")
_PATHS = tuple(c.name for c in COLUMNS if c.kind == "path")
_FLOATS = tuple(c.name for c in COLUMNS if c.kind == "float" and c.name not in _COMPUTED)


def read(
    root: str | Path,
    *,
    skip_bad: bool = False,
    progress: Progress | None = None,
    label_map: Mapping[str, str] | str | None = None,
    corpus: str | None = None,
) -> pd.DataFrame:
    """The table a manifest describes (see the module's format)."""
    manifest = find_manifest(root)
    codes = _codes(label_map, manifest)
    rows = _rows(manifest)
    name = corpus or (manifest.parent.name if manifest.stem == "manifest" else manifest.stem)
    records = [_record(row, line, manifest, codes) for line, row in rows]
    return build_table(name, records, root=manifest, skip_bad=skip_bad, progress=progress)


def find_manifest(root: str | Path) -> Path:
    path = Path(os.path.abspath(Path(root).expanduser()))
    if path.is_dir():
        found = [path / n for n in ("manifest.csv", "manifest.tsv") if (path / n).is_file()]
        if len(found) != 1:
            raise CorpusError(f"{path}: expected one manifest.csv or manifest.tsv here, found {len(found)}")
        return found[0]
    if not path.is_file():
        raise CorpusError(f"{path}: manifest not found")
    return path


def _rows(manifest: Path) -> list[tuple[int, dict[str, str]]]:
    delimiter = "\t" if manifest.suffix.lower() in (".tsv", ".tab") else ","
    with open(manifest, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        columns = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in REQUIRED if c not in columns]
        unknown = [c for c in columns if c not in ALLOWED]
        if missing or unknown:
            raise CorpusError(
                f"{manifest}: "
                + (f"missing column(s) {', '.join(missing)}; " if missing else "")
                + (f"unknown column(s) {', '.join(unknown)}; " if unknown else "")
                + f"a manifest's columns are {', '.join(ALLOWED)}"
            )
        reader.fieldnames = columns
        # Line numbers count the header as line 1.
        return [(number, row) for number, row in enumerate(reader, 2)]


def _record(row: dict[str, str], line: int, manifest: Path, codes: Mapping[str, str] | None) -> dict:
    where = f"{manifest}, line {line}"
    if None in row or any(v is None for v in row.values()):
        raise CorpusError(f"{where}: the row's field count differs from the header's")
    record: dict = {k: (v.strip() or None) for k, v in row.items()}
    for column in REQUIRED:
        if record[column] is None:
            raise CorpusError(f"{where}: empty {column}")
    for column in _PATHS:
        if record.get(column):
            record[column] = os.path.normpath(manifest.parent / record[column])
    for column in _FLOATS:
        if column in record:
            try:
                record[column] = np.nan if record[column] is None else float(record[column])
            except ValueError:
                raise CorpusError(f"{where}: {column} {record[column]!r} is not a number") from None
    if record.get("utterance") is None:
        relative = Path(os.path.relpath(record["path"], manifest.parent))
        record["utterance"] = relative.with_suffix("").as_posix()
    code = record.get("label")
    if code is not None:
        known = codes if codes is not None else {name: name for name in vocabulary()}
        if code not in known:
            what = "label code" if codes is not None else "label (not a canonical name; pass label_map)"
            raise CorpusError(f"{where}: unknown {what} {code!r}")
        record["label"], record["original_label"] = known[code], code
    return record


def _codes(label_map: Mapping[str, str] | str | None, manifest: Path) -> Mapping[str, str] | None:
    if label_map is None:
        return None
    codes = corpus_codes(label_map) if isinstance(label_map, str) else dict(label_map)
    wrong = sorted(set(codes.values()) - set(vocabulary()))
    if wrong:
        raise CorpusError(f"{manifest}: label_map maps to names outside the vocabulary: {', '.join(wrong)}")
    return codes

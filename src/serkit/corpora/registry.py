"""Corpus readers by name: :func:`read_corpus` and :func:`list_corpora`."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from serkit.corpora import (
    cremad,
    emodb,
    emovo,
    iemocap,
    librispeech,
    manifest,
    ravdess,
    recola,
    savee,
    tess,
    timit,
)
from serkit.errors import CorpusError
from serkit.progress import Progress

# Each reader module declares NAME, LAYOUT (one line) and read(root, *, skip_bad, progress, ...).
_READERS: dict[str, ModuleType] = {
    m.NAME: m
    for m in (emodb, iemocap, ravdess, cremad, tess, savee, emovo, recola, librispeech, timit, manifest)
}


def list_corpora() -> dict[str, str]:
    """Reader name -> the on-disk layout it expects, in one line."""
    return {name: module.LAYOUT for name, module in _READERS.items()}


def read_corpus(
    name: str,
    root: str | Path,
    *,
    skip_bad: bool = False,
    progress: Progress | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Read the corpus ``name`` from ``root`` into the corpus table.

    ``name`` is a reader name (case, ``-`` and ``_`` ignored: ``CREMA-D`` is
    ``cremad``).  A bad audio file raises :class:`~serkit.errors.AudioError`
    naming it, unless ``skip_bad`` is set: then it is left out and listed in
    ``table.attrs["skipped"]``.  ``progress(done, total)`` is called as files
    are checked.  ``options`` go to the reader (the manifest reader takes
    ``label_map`` and ``corpus``).
    """
    key = name.lower().replace("-", "").replace("_", "")
    if key not in _READERS:
        raise CorpusError(f"unknown corpus {name!r}; readers: {', '.join(_READERS)}")
    reader = _READERS[key].read
    accepted = set(inspect.signature(reader).parameters) - {"root", "skip_bad", "progress"}
    if set(options) - accepted:
        raise CorpusError(
            f"the {key} reader takes no option {', '.join(sorted(set(options) - accepted))}"
            f" (its options: {', '.join(sorted(accepted)) or 'none'})"
        )
    return reader(root, skip_bad=skip_bad, progress=progress, **options)

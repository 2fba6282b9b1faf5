"""Corpus readers by name: :func:`read_corpus` and :func:`list_corpora`."""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from serkit.corpora import (
    ased,
    cremad,
    emodb,
    emovo,
    iemocap,
    librispeech,
    manifest,
    nemo,
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
    for m in (emodb, iemocap, ravdess, cremad, tess, savee, emovo, nemo, ased, recola, librispeech, timit,
              manifest)
}


#: The folder holding corpora as ``<reader name>/`` (``tools/extract_corpora.py`` fills it), where
#: :func:`read_corpus` looks when given no root.
CORPORA_VARIABLE = "SERKIT_CORPORA"


def list_corpora() -> dict[str, str]:
    """Reader name -> the on-disk layout it expects, in one line."""
    return {name: module.LAYOUT for name, module in _READERS.items()}


def read_corpus(
    name: str,
    root: str | Path | None = None,
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
    ``label_map`` and ``corpus``).  Without ``root`` the corpus is read from
    ``$SERKIT_CORPORA/<reader name>`` (``nemo``, ``ased``).
    """
    key = name.lower().replace("-", "").replace("_", "")
    if key not in _READERS:
        raise CorpusError(f"unknown corpus {name!r}; readers: {', '.join(_READERS)}")
    if root is None:
        root = default_root(key)
    reader = _READERS[key].read
    accepted = set(inspect.signature(reader).parameters) - {"root", "skip_bad", "progress"}
    if set(options) - accepted:
        raise CorpusError(
            f"the {key} reader takes no option {', '.join(sorted(set(options) - accepted))}"
            f" (its options: {', '.join(sorted(accepted)) or 'none'})"
        )
    return reader(root, skip_bad=skip_bad, progress=progress, **options)


def default_root(name: str) -> Path:
    """``$SERKIT_CORPORA/<name>``, where a corpus is read from when no root is given."""
    folder = os.environ.get(CORPORA_VARIABLE)
    if not folder:
        raise CorpusError(
            f"no root for corpus {name!r}: give one, or set {CORPORA_VARIABLE} to the folder holding {name}/"
        )
    return Path(folder) / name


def corpus_licence(name: str) -> str | None:
    """A reader's corpus's terms of use as its module records them (None: none stated, or not recorded)."""
    module = _READERS.get(name.lower().replace("-", "").replace("_", ""))
    return getattr(module, "LICENCE", None)


def training_licences(table: pd.DataFrame) -> dict[str, str | None]:
    """Corpus -> terms of use, for every corpus a table's rows come from; a semi-synthetic test bed
    (``serkit streams``) counts as the corpora it was made from."""
    sources: list[str] = []
    for corpus in sorted(set(table["corpus"])):
        sources += semi_synthetic_sources(table, corpus) or [str(corpus)]
    return {name: corpus_licence(name) for name in sorted(set(sources))}


def semi_synthetic_sources(table: pd.DataFrame, corpus: str = "recola") -> list[str] | None:
    """The corpora a RECOLA-layout test bed of the table was made from by ``serkit streams`` (its
    manifest, ``streams.json``, beside the audio); None for anything else."""
    root = table.attrs.get("root") or table.attrs.get("corpora", {}).get(corpus, {}).get("root") or ""
    manifest = Path(str(root)) / "streams.json"
    if corpus != "recola" or not manifest.is_file():
        return None
    return str(json.loads(manifest.read_text())["corpus"]).split(",")


def weights_licence(licences: dict[str, str | None]) -> str:
    """What the terms of the training corpora leave for weights learnt from them."""
    unstated = sorted(name for name, licence in licences.items() if licence is None)
    if unstated:
        return f"not cleared for distribution: {', '.join(unstated)} states no licence"
    share_alike = sorted({licence for licence in licences.values() if licence and "-SA" in licence})
    if share_alike:  # a share-alike licence passes to what is learnt from the data
        return f"{share_alike[0]} (share-alike, from the training data)"
    return "the training corpora's terms: " + "; ".join(f"{name}: {licence}" for name, licence in licences.items())

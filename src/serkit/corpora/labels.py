"""Emotion labels as data: the vocabulary, each corpus's code map, the class sets.

Everything here is read from the package data file ``labels.yaml`` (see
docs/corpora.md), checked once when first needed, and handed out as
read-only views.  Readers turn a corpus's code into a canonical name with
:func:`map_label`, which raises :class:`~serkit.errors.CorpusError` naming the
file for a code the map does not know.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from serkit.errors import CorpusError, SerkitError


@dataclass(frozen=True)
class ClassSet:
    """A named set of classes in model order, with the merges applied before selecting."""

    name: str
    classes: tuple[str, ...]
    #: canonical name -> the class it counts as (``excitement`` -> ``happiness``)
    merge: Mapping[str, str]
    description: str = ""


@dataclass(frozen=True)
class LabelData:
    """The parsed contents of ``labels.yaml``."""

    vocabulary: Mapping[str, str]
    corpora: Mapping[str, Mapping[str, str]]
    class_sets: Mapping[str, ClassSet]


def vocabulary() -> tuple[str, ...]:
    """The canonical label names, in the data file's order."""
    return tuple(label_data().vocabulary)


def corpus_codes(corpus: str) -> Mapping[str, str]:
    """A corpus's map from its own codes to canonical names."""
    corpora = label_data().corpora
    if corpus not in corpora:
        raise CorpusError(f"no label map for corpus {corpus!r}; maps exist for: {', '.join(corpora)}")
    return corpora[corpus]


def map_label(corpus: str, code: str, where: str | Path) -> str:
    """The canonical name of ``corpus``'s ``code``, found in file ``where``."""
    codes = corpus_codes(corpus)
    if code not in codes:
        raise CorpusError(
            f"{where}: unknown {corpus} label code {code!r} (known: {', '.join(codes)})"
        )
    return codes[code]


def class_sets() -> Mapping[str, ClassSet]:
    return label_data().class_sets


def get_class_set(name: str | ClassSet) -> ClassSet:
    """The class set called ``name`` (a :class:`ClassSet` is returned as it is)."""
    if isinstance(name, ClassSet):
        return name
    sets = label_data().class_sets
    if name not in sets:
        raise CorpusError(f"unknown class set {name!r}; known: {', '.join(sets)}")
    return sets[name]


def class_set(name: str | ClassSet) -> tuple[str, ...]:
    """The class names of a class set, in the order models number them."""
    return get_class_set(name).classes


@functools.cache
def label_data() -> LabelData:
    """``labels.yaml``, parsed and checked (once: the file is package data)."""
    text = (resources.files("serkit.corpora") / "labels.yaml").read_text(encoding="utf-8")
    return parse_label_data(yaml.safe_load(text))


def parse_label_data(raw: Any) -> LabelData:
    """Check the structure of ``labels.yaml`` and freeze it.

    A mistake here is a packaging bug, not a user's: it raises
    :class:`~serkit.errors.SerkitError` saying which entry is wrong.
    """
    if not isinstance(raw, dict) or set(raw) != {"vocabulary", "corpora", "class_sets"}:
        raise SerkitError("labels.yaml must have exactly: vocabulary, corpora, class_sets")
    vocab = _str_map(raw["vocabulary"], "vocabulary")

    def known(name: Any, where: str) -> str:
        if name not in vocab:
            raise SerkitError(f"labels.yaml: {where}: {name!r} is not in the vocabulary")
        return name

    corpora = {
        corpus: MappingProxyType(
            {code: known(name, f"corpora.{corpus}") for code, name in _str_map(codes, corpus).items()}
        )
        for corpus, codes in _str_map(raw["corpora"], "corpora", values=dict).items()
    }
    sets = {}
    for name, spec in _str_map(raw["class_sets"], "class_sets", values=dict).items():
        where = f"class_sets.{name}"
        if not set(spec) <= {"classes", "merge", "description"} or "classes" not in spec:
            raise SerkitError(f"labels.yaml: {where} takes classes, merge and description")
        classes = tuple(known(c, where) for c in spec["classes"])
        if len(set(classes)) != len(classes):
            raise SerkitError(f"labels.yaml: {where} lists a class twice")
        merges = _str_map(spec.get("merge") or {}, where)
        merge = {known(a, where): known(b, where) for a, b in merges.items()}
        if not set(merge.values()) <= set(classes) or set(merge) & set(classes):
            raise SerkitError(f"labels.yaml: {where} must merge names outside its classes into its classes")
        sets[name] = ClassSet(name, classes, MappingProxyType(merge), str(spec.get("description", "")))
    return LabelData(MappingProxyType(vocab), MappingProxyType(corpora), MappingProxyType(sets))


def _str_map(value: Any, where: str, values: type = str) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, values) for k, v in value.items()
    ):
        raise SerkitError(
            f"labels.yaml: {where} must map text to {values.__name__} (quote codes such as \"01\")"
        )
    return dict(value)

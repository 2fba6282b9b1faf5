"""Emotion labels as data: the vocabulary, each corpus's code map, the class sets,
and each emotion's place on the arousal/valence plane.

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
class Place:
    """An emotion's place on the arousal/valence plane, on :attr:`Dimensions.scale`."""

    arousal: float
    valence: float
    #: the source entry it was rescaled from (``{"word", "valence", "arousal"}``)
    source_entry: Mapping[str, Any]


@dataclass(frozen=True)
class Dimensions:
    """The ``dimensions`` section of ``labels.yaml`` (docs/corpora.md)."""

    #: the common scale ``(lo, hi)`` of every place and every rescaled rating
    scale: tuple[float, float]
    source: str
    places: Mapping[str, Place]
    #: vocabulary names with no place -> why
    unplaced: Mapping[str, str]
    #: corpus name -> ``(lo, hi)`` of its own ``arousal``/``valence`` columns
    corpus_scales: Mapping[str, tuple[float, float]]


NO_DIMENSIONS = Dimensions((-1.0, 1.0), "", MappingProxyType({}), MappingProxyType({}), MappingProxyType({}))


@dataclass(frozen=True)
class LabelData:
    """The parsed contents of ``labels.yaml``."""

    vocabulary: Mapping[str, str]
    corpora: Mapping[str, Mapping[str, str]]
    class_sets: Mapping[str, ClassSet]
    dimensions: Dimensions = NO_DIMENSIONS


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
    if not isinstance(raw, dict) or not {"vocabulary", "corpora", "class_sets"} <= set(raw) <= {
        "vocabulary", "corpora", "class_sets", "dimensions"
    }:
        raise SerkitError("labels.yaml must have exactly: vocabulary, corpora, class_sets[, dimensions]")
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
    dimensions = _dimensions(raw["dimensions"], vocab) if "dimensions" in raw else NO_DIMENSIONS
    return LabelData(MappingProxyType(vocab), MappingProxyType(corpora), MappingProxyType(sets), dimensions)


def _dimensions(raw: Any, vocab: Mapping[str, str]) -> Dimensions:
    """Check the ``dimensions`` section: every vocabulary name placed or declared unplaced,
    every place inside the scale and equal to its source entry rescaled (x -> lo + x (hi - lo))."""
    keys = {"scale", "source", "places", "unplaced", "corpus_scales"}
    if not isinstance(raw, dict) or set(raw) != keys:
        raise SerkitError(f"labels.yaml: dimensions must have exactly: {', '.join(sorted(keys))}")
    scale = _range(raw["scale"], "dimensions.scale")
    places = {}
    for name, spec in _str_map(raw["places"], "dimensions.places", values=dict).items():
        where = f"dimensions.places.{name}"
        entry = spec.get("nrc_vad")
        if set(spec) != {"arousal", "valence", "nrc_vad"} or not (
            isinstance(entry, dict) and set(entry) == {"word", "valence", "arousal"}
        ):
            raise SerkitError(
                f"labels.yaml: {where} takes arousal, valence and nrc_vad: {{word, valence, arousal}}"
            )
        for dim in ("arousal", "valence"):
            value, raw_value = spec[dim], entry[dim]
            if not (_number(value) and _number(raw_value)):
                raise SerkitError(f"labels.yaml: {where}: {dim} must be numbers")
            if not (scale[0] <= value <= scale[1] and 0 <= raw_value <= 1):
                raise SerkitError(
                    f"labels.yaml: {where}: {dim} {value} is outside {list(scale)} "
                    f"(or its entry {raw_value} outside [0, 1])"
                )
            if abs(value - round(scale[0] + raw_value * (scale[1] - scale[0]), 3)) > 1e-9:
                raise SerkitError(
                    f"labels.yaml: {where}: {dim} {value} is not its nrc_vad entry {raw_value} rescaled"
                )
        places[name] = Place(float(spec["arousal"]), float(spec["valence"]), MappingProxyType(dict(entry)))
    unplaced = _str_map(raw["unplaced"], "dimensions.unplaced")
    for name in [*places, *unplaced]:
        if name not in vocab:
            raise SerkitError(f"labels.yaml: dimensions: {name!r} is not in the vocabulary")
    both = set(places) & set(unplaced)
    neither = [name for name in vocab if name not in places and name not in unplaced]
    if both or neither:
        raise SerkitError(
            "labels.yaml: dimensions must place or declare unplaced each vocabulary name once: "
            + ", ".join(sorted(both) + neither)
        )
    corpus_scales = {
        corpus: _range(value, f"dimensions.corpus_scales.{corpus}")
        for corpus, value in _str_map(raw["corpus_scales"], "dimensions.corpus_scales", values=list).items()
    }
    return Dimensions(
        scale, str(raw["source"]), MappingProxyType(places), MappingProxyType(unplaced),
        MappingProxyType(corpus_scales),
    )


def _range(value: Any, where: str) -> tuple[float, float]:
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(_number(v) for v in value)
        or not value[0] < value[1]
    ):
        raise SerkitError(f"labels.yaml: {where} must be [lo, hi] with lo < hi")
    return float(value[0]), float(value[1])


def _str_map(value: Any, where: str, values: type = str) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, values) for k, v in value.items()
    ):
        raise SerkitError(
            f"labels.yaml: {where} must map text to {values.__name__} (quote codes such as \"01\")"
        )
    return dict(value)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)

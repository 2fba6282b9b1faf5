"""Phone sets: an alignment's symbols folded to a documented, smaller set of phone classes.

A phone recogniser learns one class per frame; EMO-DB's ``lablaut`` files
spell 105 distinct symbols, many of them one phone in the labellers' finer
notation (a stop's release ``!t``, its aspiration ``tasp``, a mark written
into the phone field ``I+nas``) or a handful of occurrences.  A phone set,
kept as data in ``phone_sets.yaml`` like the label maps of ``labels.yaml``,
folds them.  Each symbol passes these rules first, in order:

1. A mark written into the phone field is cut off: from the first ``+``,
   ``-`` or ``[`` on (``I+nas`` -> ``I``, ``g-sth`` -> ``g``, ``[+eng`` -> nothing).
2. A misspelling listed under ``aliases`` becomes the symbol meant (``dsap`` -> ``dasp``).
3. A mark name listed under ``marks`` (``hoe``, written without its ``+``) is no phone.
4. SAMPA's stress marks (``'`` ``"`` ``%``) and length mark (``:``) are dropped.
5. A stop's parts are the stop: its release ``!t``, its closure after a pause
   ``_t`` and its aspiration ``tasp`` become ``t``.
6. A doubled symbol, a lengthened consonant (``nn``), is the single one.

What is left empty (a mark alone, a release ``!`` that does not name its
stop) is no phone of its own: the alignment's reader continues the phone
before (:mod:`serkit.experiments.frame_targets`).  What is left is looked up
in the set's table; a symbol the table lacks is an error naming it and its
file, never silently merged.  The ``pause`` symbols become :data:`PAUSE`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from serkit.errors import CorpusError, SerkitError

#: The class of every pause, in every phone set (and of alignments read without one).
PAUSE = "<p>"
DATA = "phone_sets.yaml"

_MARK = re.compile(r"[+\-\[]")
_STRESS_AND_LENGTH = str.maketrans("", "", "'\"%:")


@dataclass(frozen=True)
class PhoneSet:
    """A named phone set: its classes (the phones, then :data:`PAUSE`) and how symbols fold to them."""

    name: str
    classes: tuple[str, ...]
    #: folded symbol -> class
    table: Mapping[str, str]
    aliases: Mapping[str, str]
    marks: frozenset[str]

    def phone(self, symbol: str, source: str) -> str | None:
        """The class of one alignment symbol, or None where it is no phone of its own (see the
        module's rules); ``source`` (the alignment file) names where an unknown symbol stands."""
        folded = self.fold(symbol)
        if folded is None:
            return None
        if folded not in self.table:
            shown = repr(symbol) if folded == symbol else f"{symbol!r} (folded to {folded!r})"
            raise CorpusError(f"{source}: symbol {shown} is in no class of phone set {self.name} ({DATA})")
        return self.table[folded]

    def fold(self, symbol: str) -> str | None:
        """``symbol`` after the module's rules 1-6 (None when nothing of a phone is left)."""
        if symbol in self.table:  # the pause symbols, and phones written plainly
            return symbol
        base = _MARK.split(symbol, maxsplit=1)[0]
        base = self.aliases.get(base, base)
        if base in self.marks:
            return None
        base = base.translate(_STRESS_AND_LENGTH)
        if base[:1] in ("!", "_"):
            base = base[1:]
        if len(base) > 3 and base.endswith("asp"):
            base = base[:-3]
        if len(base) == 2 and base[0] == base[1]:
            base = base[0]
        return base or None


def phone_set(name: str) -> PhoneSet:
    """The phone set called ``name`` from ``phone_sets.yaml``."""
    sets = _phone_sets()
    if name not in sets:
        raise SerkitError(f"unknown phone set {name!r}; known: {', '.join(sets)}")
    return sets[name]


@functools.cache
def _phone_sets() -> dict[str, PhoneSet]:
    text = (resources.files("serkit.corpora") / DATA).read_text(encoding="utf-8")
    return {name: parse_phone_set(name, raw) for name, raw in yaml.safe_load(text).items()}


def parse_phone_set(name: str, raw: Any) -> PhoneSet:
    """Check one entry of ``phone_sets.yaml`` and freeze it (a mistake is a packaging bug)."""
    if not isinstance(raw, dict) or set(raw) != {"pause", "marks", "aliases", "classes"}:
        raise SerkitError(f"{DATA}: phone set {name} must have exactly: pause, marks, aliases, classes")
    table = {str(symbol): PAUSE for symbol in raw["pause"]}
    for phone, symbols in raw["classes"].items():
        if not symbols or str(phone) == PAUSE:
            raise SerkitError(f"{DATA}: {name}: class {phone!r} needs its symbols (and {PAUSE} is the pause's)")
        for symbol in map(str, symbols):
            if symbol in table:
                raise SerkitError(f"{DATA}: {name}: symbol {symbol!r} is in both {table[symbol]!r} and {phone!r}")
            table[symbol] = str(phone)
    classes = (*map(str, raw["classes"]), PAUSE)
    aliases = {str(k): str(v) for k, v in raw["aliases"].items()}
    return PhoneSet(name, classes, table, aliases, frozenset(map(str, raw["marks"])))

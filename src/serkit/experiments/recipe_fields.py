"""Recipe fields that take one name or a list of names, kept as one string (``+``-joined) so
that a recipe stays hashable and prints as it reads: ``features`` (presets on one frame grid,
:mod:`serkit.features.combined`) and ``corpus`` (:mod:`serkit.corpora.multi`)."""

from __future__ import annotations

from typing import Any

from serkit.corpora.multi import JOIN, corpus_names
from serkit.errors import ConfigError, SerkitError


def features_spec(value: Any) -> str:
    """``features`` as one string: a preset as it is (unchecked until it is built, as ever), a list
    of presets joined by ``+`` (one alone is that preset) and checked now: every part frame-level,
    all on one frame grid."""
    from serkit.features import combined

    if isinstance(value, (list, tuple)):
        if not value or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"features: give a preset name or a list of preset names, got {list(value)!r}")
        value = combined.SEPARATOR.join(value)
    if not isinstance(value, str):
        raise ConfigError(f"features: give a preset name or a list of preset names, got {value!r}")
    if combined.SEPARATOR not in value:
        return value
    from serkit.features.presets import all_presets, get_preset

    if len(combined.split(value, list(all_presets()))) > 1:
        try:
            get_preset(value)
        except SerkitError as e:
            raise ConfigError(f"features: {e}") from None
    return value


def corpus_spec(value: Any) -> str:
    """``corpus`` as one string: a reader's name, or several distinct names joined by ``+``."""
    names = corpus_names(value) if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else []
    if not names or not all(isinstance(v, str) and v and JOIN not in v for v in names):
        raise ConfigError(f"corpus: give a corpus name or a list of corpus names, got {value!r}")
    if len(set(names)) != len(names):
        raise ConfigError(f"corpus: {value!r} names a corpus twice")
    return JOIN.join(names)

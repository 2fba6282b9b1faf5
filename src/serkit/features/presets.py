"""Named feature presets: one set of names for every command.

Each family module declares the presets for the papers' settings in a
module-level ``PRESETS`` tuple; this module gathers them.  A preset name may
carry overrides of its configuration, ``NAME:key=value,key=value``
(``logmel-seed001:n_mels=64``), so that ``serkit features --kind`` and
``serkit cv --features`` accept the same strings.  Names joined by ``+``
(``mfcc-seed003+pitch-seed003``) name the combination of those presets on one
frame grid (:mod:`serkit.features.combined`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from serkit.errors import SerkitError
from serkit.features import (augmented, combined, filterbank, functionals, mfcc, mulaw, prosody, recognizer_layers,
                             spectrogram, stacked)
from serkit.features.base import Feature, Preset  # noqa: F401  (Preset re-exported)
from serkit.features.whisper import layers as whisper_layers

_FAMILY_MODULES = (spectrogram, filterbank, mfcc, mulaw, prosody, functionals, whisper_layers, recognizer_layers,
                   combined, stacked, augmented)


def all_presets() -> dict[str, Preset]:
    presets: dict[str, Preset] = {}
    for module in _FAMILY_MODULES:
        for preset in module.PRESETS:
            if preset.name in presets:
                raise SerkitError(f"feature preset {preset.name!r} is declared twice")
            presets[preset.name] = preset
    return presets


def get_preset(spec: str) -> Preset:
    """The preset named by ``spec`` (``NAME`` or ``NAME:key=value,...``, or several joined by ``+``)."""
    presets = all_presets()
    parts = combined.split(spec, list(presets))
    if len(parts) > 1:
        return _combined_preset(spec, parts)
    name, _, rest = spec.partition(":")
    if name not in presets:
        raise SerkitError(f"unknown feature kind {name!r}; known: {', '.join(sorted(presets))}")
    preset = presets[name]
    if not rest:
        return preset
    return preset.with_overrides(_parse_overrides(preset.feature, rest))


def _combined_preset(spec: str, parts: list[str]) -> Preset:
    feature = combined.combine(parts)  # checks the grid, naming the parts
    sources = dict.fromkeys(get_preset(part).source for part in parts)
    return Preset(spec, feature, "; ".join(sources), f"{', '.join(parts)} stacked on one frame grid")


def get_feature(spec: str) -> Feature:
    return get_preset(spec).feature


def _parse_overrides(feature: Feature, text: str) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(feature.config)}
    overrides: dict[str, Any] = {}
    for item in filter(None, text.split(",")):
        key, sep, raw = item.partition("=")
        if not sep or key not in fields:
            raise SerkitError(
                f"bad feature override {item!r}; {feature.family} takes: {', '.join(fields)}"
            )
        overrides[key] = _coerce(raw, getattr(feature.config, key), key)
    return overrides


def _coerce(raw: str, current: Any, key: str) -> Any:
    if raw.lower() in ("none", "null"):
        return None
    try:
        if isinstance(current, bool):
            return raw.lower() in ("1", "true", "yes", "on")
        if isinstance(current, int):
            return int(raw)
        if isinstance(current, float):
            return float(raw)
    except ValueError:
        raise SerkitError(f"feature override {key}={raw!r}: not a {type(current).__name__}") from None
    if current is None:  # optional field: guess the type from the text
        for cast in (int, float):
            try:
                return cast(raw)
            except ValueError:
                pass
    return raw

"""Several frame-level features on one frame grid, stacked along the feature axis.

A recipe's ``features: [mfcc-seed003, pitch-seed003]`` (or the string
``mfcc-seed003+pitch-seed003``) builds a :class:`Combined` feature: each part
runs on the same signal and their ``(dims, frames)`` outputs are concatenated
in order, giving ``(sum of dims, frames)``.

**Configuration.**  An ordered tuple of the parts' :meth:`~Feature.to_dict`
(family and full configuration), so that a model folder's ``model.json`` alone
rebuilds it, whatever presets named the parts.  Its
:meth:`~Combined.config_hash` (the cache key) is derived from the parts'
hashes, which carry each part's ``revision``.

**One grid.**  Every part must be frame-level, at one sample rate and one hop;
this is checked when the feature is built (a recipe is refused when read).

**Frame counts.**  They must agree exactly: a signal whose parts give
different frame counts is refused (:class:`~serkit.errors.AudioError` naming the
file and each part's count), never cropped.  Every family follows the shared
convention of :mod:`serkit.features.base` (``1 + n // hop`` frames, windows
centred on the frame, whatever their length), so parts on one grid agree by
construction; a difference means a family broke the convention, and cropping
would hide a misalignment of up to a frame in every later frame.

**Normalisation.**  Global normalisation fits per-dimension statistics, so
normalising the stacked array is normalising each part with its own statistics
(``tests/test_features_combined.py`` checks it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from serkit.errors import AudioError, ConfigError, SerkitError
from serkit.features.base import Feature, feature_from_dict

#: Joins the parts' preset names in a recipe's ``features`` string: ``mfcc-seed003+pitch-seed003``.
SEPARATOR = "+"


@dataclasses.dataclass(frozen=True)
class CombinedConfig:
    #: Each part's ``to_dict()`` (family and configuration), in stacking order.
    parts: tuple[dict[str, Any], ...] = ()

    def __hash__(self) -> int:  # the parts are dicts
        return hash(json.dumps(self.parts, sort_keys=True))


class _FrameCountMismatch(SerkitError):
    pass


class Combined(Feature):
    """Frame-level parts on one grid, stacked: ``(sum of the parts' dims, frames)``."""

    family = "combined"
    Config = CombinedConfig
    revision = 1

    def __init__(self, config: Any = None, **overrides: Any):
        super().__init__(config, **overrides)  # builds and checks the parts (validate)
        # the parts as their own to_dict gives them: defaults filled in, JSON's lists, so that a
        # feature read back from model.json equals the one that wrote it
        canonical = tuple(json.loads(json.dumps(p.to_dict())) for p in self.parts)
        self.config = dataclasses.replace(self.config, parts=canonical)

    def validate(self) -> None:
        parts = self.config.parts
        if not isinstance(parts, tuple) or len(parts) < 2:
            raise ValueError("give two or more parts (a combination of one feature is that feature)")
        built = []
        for i, data in enumerate(parts):
            if not isinstance(data, dict):
                raise ValueError(f"part {i} must be a feature's dict (family and config), got {data!r}")
            try:
                built.append(feature_from_dict(data))
            except SerkitError as e:
                raise ValueError(f"part {i}: {e}") from None
        check_parts([(part.family, part) for part in built])
        self.parts: tuple[Feature, ...] = tuple(built)

    @property
    def sample_rate(self) -> int:
        return self.parts[0].sample_rate

    @property
    def hop(self) -> int | None:
        return self.parts[0].hop

    @property
    def min_samples(self) -> int:
        return max(part.min_samples for part in self.parts)

    def compute(self, signal: np.ndarray) -> np.ndarray:
        outputs = [part.compute(signal) for part in self.parts]
        counts = [out.shape[-1] for out in outputs]
        if len(set(counts)) > 1:
            found = ", ".join(f"{p.family} {n}" for p, n in zip(self.parts, counts))
            raise _FrameCountMismatch(f"the combined feature's parts disagree in frame count ({found} "
                                      f"frames for {len(signal)} samples); they must be equal")
        return np.concatenate([np.asarray(out, dtype=np.float32) for out in outputs], axis=0)

    def process_signal(
        self, signal: np.ndarray, sample_rate: int | None = None, path: str | Path | None = None
    ) -> np.ndarray:
        try:
            return super().process_signal(signal, sample_rate, path)
        except _FrameCountMismatch as e:
            raise AudioError(path, str(e)) from None

    def process_file(self, path: str | Path) -> np.ndarray:
        try:
            return super().process_file(path)
        except _FrameCountMismatch as e:
            raise AudioError(path, str(e)) from None

    def config_hash(self) -> str:
        """Derived from the parts' hashes (each with its family's revision), in order."""
        text = json.dumps({"family": self.family, "revision": self.revision,
                           "parts": [part.config_hash() for part in self.parts]})
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_parts(named: Sequence[tuple[str, Feature]]) -> None:
    """Raise ``ValueError`` unless every part is frame-level and all share one frame grid."""
    for name, part in named:
        if not part.frame_level:
            raise ValueError(f"{name} is a functional (one vector per utterance); "
                             "only frame-level features combine")
    grids = {(part.sample_rate, part.hop) for _, part in named}
    if len(grids) > 1:
        found = ", ".join(f"{name} hop {part.hop} at {part.sample_rate} Hz" for name, part in named)
        raise ValueError(f"parts on different frame grids ({found}); they must share one hop and sample rate")


def combine(parts: Sequence[str | dict[str, Any] | Feature]) -> Combined:
    """The combined feature of ``parts``: preset names (``NAME`` or ``NAME:key=value``), features'
    dicts (:meth:`Feature.to_dict`) or features.  Raises :class:`ConfigError` naming the parts."""
    from serkit.features.presets import get_feature  # presets imports this module

    named: list[tuple[str, Feature]] = []
    for part in parts:
        if isinstance(part, Feature):
            named.append((part.family, part))
        elif isinstance(part, dict):
            feature = feature_from_dict(part)
            named.append((feature.family, feature))
        else:
            named.append((str(part), get_feature(part)))
    try:
        if len(named) < 2:
            raise ValueError("give two or more parts (a combination of one feature is that feature)")
        check_parts(named)
    except ValueError as e:
        raise ConfigError(f"combined: {e}") from None
    return Combined(CombinedConfig(tuple(feature.to_dict() for _, feature in named)))


def split(spec: str, known: Sequence[str]) -> list[str]:
    """The part specifications of ``NAME+NAME...``; a ``+`` inside an override's value
    (``logmel-seed001:fmin=1e+2``) stays with its part (a new part starts with a known name)."""
    parts: list[str] = []
    for piece in spec.split(SEPARATOR):
        if parts and ":" in parts[-1] and piece.partition(":")[0] not in known:
            parts[-1] += SEPARATOR + piece
        else:
            parts.append(piece)
    return parts


PRESETS = ()

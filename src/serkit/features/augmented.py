"""A feature of an augmented copy of each signal: seed 003's tempo and gain copies, computed once.

Seed 003 (Lakomkin et al., Section 3.3) trains its emotion models on audio whose tempo (0.85-1.15)
and gain (-3..+6 dB) are drawn afresh every epoch.  Fresh draws mean running the recognizer whose
layers the model reads on new audio every epoch, the costly part of a run.  Instead,
:class:`AugmentedCopy` is copy number ``copy`` of every signal, perturbed
(:func:`serkit.audio.perturb.perturb`) before its ``part`` (any feature) is computed: a feature like
any other, so copies are extracted in parallel and cached once, and every fold and every seed of a
recipe reuses them.  Training then draws, each epoch and for each utterance, the original or one of
its copies (``train.waveform_augment.copies``, :class:`serkit.training.data.AugmentedCopies`).

The draws of copy ``k`` come from a generator keyed by the signal's content and ``k``: the same
recording gets the same copies in every fold, run and process, and two copies differ.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import numpy as np

from serkit.audio.perturb import perturb
from serkit.errors import SerkitError
from serkit.features.base import Feature, feature_from_dict


@dataclasses.dataclass(frozen=True)
class AugmentedCopyConfig:
    #: The feature computed from the copy: its ``to_dict()`` (family and configuration).
    part: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: Uniform spans ``(low, high)`` of the gain in dB and the tempo factor, or None for off.
    gain_db: tuple[float, float] | None = (-3.0, 6.0)
    tempo: tuple[float, float] | None = (0.85, 1.15)
    #: Which copy (1, 2, ...): each draws its own tempo and gain for every signal.
    copy: int = 1

    def __post_init__(self) -> None:
        for name in ("gain_db", "tempo"):  # lists, as JSON and YAML give them
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))

    def __hash__(self) -> int:  # the part is a dict
        return hash((json.dumps(self.part, sort_keys=True), self.gain_db, self.tempo, self.copy))


class AugmentedCopy(Feature):
    """The ``part`` feature of copy ``copy`` of each signal, its tempo and gain perturbed."""

    family = "augmented"
    Config = AugmentedCopyConfig

    def validate(self) -> None:
        c = self.config
        if not isinstance(c.copy, int) or c.copy < 1:
            raise ValueError(f"copy must be a number from 1, not {c.copy!r}")
        for name, span in (("gain_db", c.gain_db), ("tempo", c.tempo)):
            if span is not None and (len(span) != 2 or span[0] > span[1]):
                raise ValueError(f"{name} must be (low, high), not {span!r}")
        if c.tempo is not None and c.tempo[0] <= 0:
            raise ValueError(f"tempo factors must be positive, not {c.tempo}")
        if c.gain_db is None and c.tempo is None:
            raise ValueError("a copy needs a gain span, a tempo span or both")
        try:
            self.part = feature_from_dict(c.part)
        except SerkitError as e:
            raise ValueError(f"part: {e}") from None

    @property
    def sample_rate(self) -> int:
        return self.part.sample_rate

    @property
    def hop(self) -> int | None:
        return self.part.hop

    @property
    def min_samples(self) -> int:
        # the fastest tempo shortens a signal: it must still give the part enough samples
        fastest = self.config.tempo[1] if self.config.tempo else 1.0
        return int(np.ceil(self.part.min_samples * max(1.0, fastest)))

    @property
    def frame_level(self) -> bool:  # type: ignore[override]
        return self.part.frame_level

    def perturbed(self, signal: np.ndarray) -> np.ndarray:
        """The copy of ``signal`` its part is computed from."""
        c = self.config
        return perturb(signal, self.sample_rate, c.gain_db, c.tempo, copy_rng(signal, c.copy))

    def compute(self, signal: np.ndarray) -> np.ndarray:
        return self.part.compute(self.perturbed(signal))

    def config_hash(self) -> str:
        """Derived from the part's hash (with its family's revision), the spans and the copy."""
        c = self.config
        text = json.dumps({"family": self.family, "revision": self.revision, "part": self.part.config_hash(),
                           "gain_db": c.gain_db, "tempo": c.tempo, "copy": c.copy})
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def copy_rng(signal: np.ndarray, copy: int) -> np.random.Generator:
    """The generator of copy ``copy`` of ``signal``: keyed by the samples' bytes and the copy."""
    digest = hashlib.sha256(np.ascontiguousarray(signal, dtype=np.float32).tobytes()).digest()
    return np.random.default_rng([int.from_bytes(digest[:8], "little"), copy])


def augmented_copies(part: Feature, copies: int, gain_db: tuple[float, float] | None,
                     tempo: tuple[float, float] | None) -> list[AugmentedCopy]:
    """Copies 1..``copies`` of ``part``."""
    spans = {"gain_db": None if gain_db is None else tuple(gain_db), "tempo": None if tempo is None else tuple(tempo)}
    return [AugmentedCopy(AugmentedCopyConfig(part=part.to_dict(), copy=k, **spans)) for k in range(1, copies + 1)]


PRESETS: tuple = ()

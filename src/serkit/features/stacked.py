"""Consecutive frames stacked into one: seed 004's four 10 ms filterbank frames per 40 ms label.

RECOLA's ratings come every 40 ms; seed 004 (Khorram et al., Section 3) computes Kaldi's 40 log
mel filterbanks every 10 ms over 25 ms windows and "stack[s] four subsequent MFB frames to ensure
correspondence between hop sizes in the input and output sequences".  :class:`Stacked` wraps any
frame-level feature (its ``part``) and concatenates each group of ``n`` consecutive frames
(:func:`~serkit.features.shaping.stack_frames`, frame-major rows): ``(n * dims, frames)`` on the
shared grid at an ``n`` times longer hop, ``1 + samples // (n * hop)`` frames exactly.

Stacked frame ``j`` holds the part's frames ``n*j .. n*j + n - 1``, so it is centred ``(n - 1) / 2``
of the part's hops after the grid's time ``j * n * hop`` (15 ms for seed 004, under half a 40 ms
label); an incomplete last group repeats its last frame (``pad: edge``) or takes zeros.

**Configuration.**  The part's :meth:`~serkit.features.base.Feature.to_dict` (so that a model
folder's ``model.json`` alone rebuilds it), ``n`` and ``pad``; the cache key derives from the
part's own key, which carries its family's revision.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import numpy as np

from serkit.errors import SerkitError
from serkit.features.base import Feature, Preset, feature_from_dict
from serkit.features.filterbank import KaldiFbank
from serkit.features.shaping import PAD_MODES, stack_frames
from serkit.features.whisper.layers import WhisperLayers


@dataclasses.dataclass(frozen=True)
class StackedConfig:
    #: The stacked feature's ``to_dict()`` (family and configuration): by default Kaldi's fbank.
    part: dict[str, Any] = dataclasses.field(default_factory=lambda: KaldiFbank().to_dict())
    #: Consecutive frames per stacked frame.
    n: int = 4
    #: How an incomplete last group is filled: "edge" repeats the last frame, "zeros".
    pad: str = "edge"

    def __hash__(self) -> int:  # the part is a dict
        return hash((json.dumps(self.part, sort_keys=True), self.n, self.pad))


class Stacked(Feature):
    """A frame-level part with every ``n`` consecutive frames concatenated: ``(n * dims, frames)``."""

    family = "stacked"
    Config = StackedConfig
    revision = 1

    def __init__(self, config: Any = None, **overrides: Any):
        super().__init__(config, **overrides)  # builds and checks the part (validate)
        # the part as its own to_dict gives it, through JSON: equal to one read back from model.json
        self.config = dataclasses.replace(self.config, part=json.loads(json.dumps(self.part.to_dict())))

    def validate(self) -> None:
        c = self.config
        if not isinstance(c.n, int) or c.n < 1:
            raise ValueError(f"n must be a positive number of frames, not {c.n!r}")
        if c.pad not in PAD_MODES:
            raise ValueError(f"pad must be one of {PAD_MODES}, not {c.pad!r}")
        if not isinstance(c.part, dict):
            raise ValueError(f"part must be a feature's dict (family and config), got {c.part!r}")
        try:
            part = feature_from_dict(c.part)
        except SerkitError as e:
            raise ValueError(f"part: {e}") from None
        if not part.frame_level:
            raise ValueError(f"part {part.family} is a functional (one vector per utterance); only frames stack")
        self.part = part

    @property
    def sample_rate(self) -> int:
        return self.part.sample_rate

    @property
    def hop(self) -> int:
        return self.part.hop * self.config.n

    @property
    def min_samples(self) -> int:
        return self.part.min_samples

    def compute(self, signal: np.ndarray) -> np.ndarray:
        return stack_frames(self.part.compute(signal), self.config.n, self.config.pad)

    def config_hash(self) -> str:
        """Derived from the part's hash (with its family's revision), ``n`` and ``pad``."""
        text = json.dumps({"family": self.family, "revision": self.revision, "part": self.part.config_hash(),
                           "n": self.config.n, "pad": self.config.pad})
        return hashlib.sha256(text.encode()).hexdigest()[:16]


PRESETS = (
    Preset(
        "fbank-seed004",
        Stacked(StackedConfig(part=KaldiFbank().to_dict(), n=4)),
        "seed 004, section 3",
        "Kaldi fbank as fbank-kaldi (40 bands, Povey window 25 ms, 10 ms hop), four consecutive frames "
        "stacked into one 160-dimensional frame every 40 ms, RECOLA's label rate",
    ),
    Preset(
        "whisper-tiny.en-40ms",
        Stacked(StackedConfig(part=WhisperLayers(model="whisper-tiny.en", layer=2, padded=False).to_dict(), n=2)),
        "seed 004's 40 ms label rate over seed 003's idea (a recognizer's layers carry emotion)",
        "Whisper tiny.en's encoder layer 2 (the default emotion model's), each 30 s window unpadded, two 20 ms "
        "frames stacked into one 768-dimensional frame every 40 ms, RECOLA's label rate",
    ),
)

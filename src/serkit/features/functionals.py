"""Utterance-level functionals through openSMILE: eGeMAPS and ComParE 2016.

The classic baselines describe a whole utterance by one vector: statistics
(means, percentiles, slopes, ...) of low-level descriptor contours.  openSMILE
(Eyben et al.) defines them, so serkit calls it rather than re-implementing
them: ``opensmile.Smile(feature_set=..., feature_level=Functionals)``.

Each extractor owns its ``Smile`` object, built on first use and dropped when
the extractor is pickled (it is rebuilt in the worker process that unpickles
it), so extractors can be sent to a process pool and no state is global.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np
import opensmile

from serkit.audio.io import DEFAULT_SAMPLE_RATE
from serkit.features.base import Feature, Preset

#: openSMILE's longest analysis window in both sets (60 ms, for pitch):
#: a shorter signal gives all-NaN functionals.
MIN_DURATION_S = 0.060


class OpenSmileFunctionals(Feature):
    """Functionals of one openSMILE feature set, shape ``(dims,)``."""

    frame_level = False
    feature_sets: ClassVar[tuple[str, ...]]

    def __init__(self, config: Any = None, **overrides: Any):
        super().__init__(config, **overrides)
        self._smile: opensmile.Smile | None = None

    def validate(self) -> None:
        if self.config.feature_set not in self.feature_sets:
            raise ValueError(
                f"{self.family}: feature_set must be one of {self.feature_sets}, "
                f"got {self.config.feature_set!r}"
            )

    @property
    def min_samples(self) -> int:
        return math.ceil(MIN_DURATION_S * self.sample_rate)

    @property
    def smile(self) -> opensmile.Smile:
        if self._smile is None:
            self._smile = opensmile.Smile(
                feature_set=opensmile.FeatureSet[self.config.feature_set],
                feature_level=opensmile.FeatureLevel.Functionals,
            )
        return self._smile

    @property
    def feature_names(self) -> list[str]:
        """Name of each output dimension, in order (openSMILE's names)."""
        return list(self.smile.feature_names)

    def compute(self, signal: np.ndarray) -> np.ndarray:
        frame = self.smile.process_signal(signal, self.sample_rate)
        return frame.to_numpy(dtype=np.float32).reshape(-1)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_smile": None}


@dataclasses.dataclass(frozen=True)
class EGeMAPSConfig:
    sample_rate: int = DEFAULT_SAMPLE_RATE
    feature_set: str = "eGeMAPSv02"


class EGeMAPS(OpenSmileFunctionals):
    """The extended Geneva Minimalistic Acoustic Parameter Set: 88 functionals (v02)."""

    family = "egemaps"
    Config = EGeMAPSConfig
    feature_sets = ("eGeMAPSv02", "eGeMAPSv01b", "GeMAPSv01b")


@dataclasses.dataclass(frozen=True)
class ComParEConfig:
    sample_rate: int = DEFAULT_SAMPLE_RATE
    feature_set: str = "ComParE_2016"


class ComParE(OpenSmileFunctionals):
    """The Interspeech ComParE 2016 set: 6373 functionals."""

    family = "compare"
    Config = ComParEConfig
    feature_sets = ("ComParE_2016",)


PRESETS = (
    Preset(
        "egemaps",
        EGeMAPS(),
        "Eyben et al. 2016, through opensmile",
        "eGeMAPS v02 functionals, 88 per utterance",
    ),
    Preset(
        "compare",
        ComParE(),
        "Schuller et al., Interspeech 2016 ComParE, through opensmile",
        "ComParE 2016 functionals, 6373 per utterance",
    ),
)

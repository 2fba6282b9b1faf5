"""What every feature extractor shares: the frame grid, configuration, and processing.

**The frame convention.**  Every frame-level feature lives on one grid, so that
features of different kinds line up frame for frame and can be concatenated:

* frame ``i`` is centred on sample ``i * hop`` (time ``i * hop / sample_rate``);
* a signal of ``n`` samples gives ``1 + n // hop`` frames;
* the signal is padded by half an FFT frame on both sides (zeros unless a
  family says otherwise), and a window shorter than the FFT frame sits in the
  middle of it, as librosa does with ``center=True``.

**Layout.**  A frame-level feature is a float32 array of shape
``(dims, frames)`` (frequency by time); a functional (one vector per utterance,
such as eGeMAPS) is a float32 array of shape ``(dims,)``.

**Extractors.**  An extractor is a small object built from a typed, frozen
configuration dataclass.  It can be written to JSON and read back
(:meth:`Feature.save` / :func:`load_feature`), and processes signals, files,
lists of files and folders with one family of methods, in the manner of
audinterface.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from serkit.audio.io import DEFAULT_SAMPLE_RATE, check_signal, load_audio, resample
from serkit.configs import from_dict, to_dict
from serkit.errors import ConfigError, SerkitError

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".aifc", ".mp3", ".opus")


@dataclasses.dataclass(frozen=True)
class FrameGrid:
    """The shared frame grid: a hop at a sample rate, frames centred on ``i * hop``."""

    sample_rate: int = DEFAULT_SAMPLE_RATE
    hop: int = 160

    def n_frames(self, n_samples: int) -> int:
        return 1 + n_samples // self.hop

    def times(self, n_frames: int) -> np.ndarray:
        """Centre time in seconds of each of ``n_frames`` frames."""
        return np.arange(n_frames) * (self.hop / self.sample_rate)


@dataclasses.dataclass(frozen=True)
class StftConfig(FrameGrid):
    """The short-time Fourier transform settings every spectral family shares: the frame grid,
    the analysis window (``window`` kind, ``win_length`` samples) and the FFT size.

    Each spectral family's configuration derives from it and restates only the defaults its
    paper changes.  These fields come first, in this order, as each family listed them before
    they were shared, so that its ``to_dict`` and its hash (a cache key) are what they were.
    ``power`` and ``pad_mode`` stay with each family: their defaults differ and they sit later.
    """

    win_length: int = 400
    n_fft: int = 512
    window: str = "hann"


class Feature(ABC):
    """A configured feature extractor.

    Subclasses set ``family`` (a short name that identifies the code) and
    ``Config`` (a frozen dataclass whose fields are the extractor's
    parameters, defaulting to the papers' settings), and implement
    :meth:`compute`, which turns a mono float32 signal at
    ``config.sample_rate`` into an array.
    """

    family: ClassVar[str]
    Config: ClassVar[type]
    #: True for (dims, frames) outputs on the shared grid, False for (dims,) functionals.
    frame_level: ClassVar[bool] = True
    #: Bump when a change of code changes a family's output for the same configuration:
    #: it is part of the cache key, so stale cached arrays are never reused.
    revision: ClassVar[int] = 1

    _families: ClassVar[dict[str, type[Feature]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "family" in cls.__dict__:
            Feature._families[cls.family] = cls

    def __init__(self, config: Any = None, **overrides: Any):
        config = self.Config() if config is None else config
        if not isinstance(config, self.Config):
            raise TypeError(f"{type(self).__name__} needs a {self.Config.__name__}")
        self.config = dataclasses.replace(config, **overrides) if overrides else config
        try:
            self.validate()
        except ValueError as e:
            raise ConfigError(f"{self.family}: {e}") from None

    # -- to be provided by each family ------------------------------------

    @abstractmethod
    def compute(self, signal: np.ndarray) -> np.ndarray:
        """Feature array of a checked mono float32 signal at ``config.sample_rate``."""

    def validate(self) -> None:
        """Raise ``ValueError`` for an inconsistent configuration."""

    @property
    def min_samples(self) -> int:
        """Fewest samples this feature can be computed from (at its sample rate)."""
        return 1

    @property
    def hop(self) -> int | None:
        """Hop in samples of the frame grid, or None for a functional."""
        return getattr(self.config, "hop", None)

    @property
    def grid(self) -> FrameGrid | None:
        return FrameGrid(self.sample_rate, self.hop) if self.frame_level and self.hop else None

    # -- shared behaviour --------------------------------------------------

    @property
    def sample_rate(self) -> int:
        return getattr(self.config, "sample_rate", DEFAULT_SAMPLE_RATE)

    @property
    def min_duration(self) -> float:
        return self.min_samples / self.sample_rate

    def n_frames(self, n_samples: int) -> int:
        """Frames this feature gives for ``n_samples`` samples (the shared convention)."""
        if not self.frame_level:
            raise TypeError(f"{self.family} is a functional, it has no frames")
        return FrameGrid(self.sample_rate, self.hop).n_frames(n_samples)

    def process_signal(
        self, signal: np.ndarray, sample_rate: int | None = None, path: str | Path | None = None
    ) -> np.ndarray:
        """Feature of a signal at ``sample_rate`` (default: the extractor's)."""
        signal = np.asarray(signal, dtype=np.float32)
        if signal.ndim == 2:  # (channels, samples), as most audio libraries hand it over
            signal = signal.mean(axis=0)
        rate = self.sample_rate if sample_rate is None else sample_rate
        check_signal(signal, rate, path=path)
        if rate != self.sample_rate:
            signal = resample(signal, rate, self.sample_rate)
        check_signal(signal, self.sample_rate, path=path, min_duration=self.min_duration)
        return self.compute(signal)

    def process_file(self, path: str | Path) -> np.ndarray:
        """Feature of one audio file; raises :class:`~serkit.errors.AudioError` for a bad one."""
        signal = load_audio(path, self.sample_rate, min_duration=self.min_duration)
        return self.compute(signal)

    def process_files(self, paths: Iterable[str | Path]) -> Iterator[tuple[str, np.ndarray]]:
        """``(path, feature)`` for each file in turn (see :mod:`serkit.features.extract` for
        the cached, parallel version used on whole corpora)."""
        for path in paths:
            yield str(path), self.process_file(path)

    def process_folder(
        self, root: str | Path, suffixes: tuple[str, ...] = AUDIO_SUFFIXES
    ) -> Iterator[tuple[str, np.ndarray]]:
        """``(path, feature)`` for every audio file below ``root``, in sorted order."""
        return self.process_files(find_audio(root, suffixes))

    # -- configuration ------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        # settings added later leave older cache keys and model files valid while unset
        return {"family": self.family, "config": to_dict(self.config)}

    def config_hash(self) -> str:
        """Stable hash of family and configuration: part of every cache key."""
        text = json.dumps({**self.to_dict(), "revision": self.revision}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Feature) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.config_hash())


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named, configured extractor and where its settings come from."""

    name: str
    feature: Feature
    source: str
    description: str
    #: Fixed model input length in frames (pad or crop, see ``shaping``), if the paper fixes one.
    input_frames: int | None = None

    def with_overrides(self, overrides: dict[str, Any]) -> Preset:
        feature = type(self.feature)(self.feature.config, **overrides)
        suffix = ",".join(f"{k}={v}" for k, v in sorted(overrides.items()))
        return dataclasses.replace(self, name=f"{self.name}:{suffix}", feature=feature)


def feature_from_dict(data: dict[str, Any]) -> Feature:
    """Rebuild an extractor from :meth:`Feature.to_dict` output."""
    family = data.get("family")
    cls = feature_class(family)
    try:
        return cls(from_dict(cls.Config, data.get("config", {}), "config.", "configuration keys"))
    except ConfigError as e:
        raise ConfigError(f"{family}: {e}") from None


def feature_class(family: Any) -> type[Feature]:
    """The extractor class of feature family ``family`` (its ``Config`` names its settings)."""
    import serkit.features.presets  # noqa: F401  (imports every family, registering it)

    cls = Feature._families.get(family)
    if cls is None:
        raise SerkitError(f"unknown feature family {family!r}; known: {sorted(Feature._families)}")
    return cls


def load_feature(path: str | Path) -> Feature:
    """Read an extractor written by :meth:`Feature.save`."""
    return feature_from_dict(json.loads(Path(path).read_text()))


def find_audio(root: str | Path, suffixes: tuple[str, ...] = AUDIO_SUFFIXES) -> list[Path]:
    """Audio files below ``root`` (recursive), sorted, matched by suffix case-insensitively."""
    root = Path(root)
    if not root.is_dir():
        raise SerkitError(f"{root}: not a folder")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)

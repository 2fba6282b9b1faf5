"""A model's specification: what turns audio into its inputs, and what its outputs mean.

:class:`ModelSpec` is read from a model folder's ``model.json``
(:class:`serkit.artifacts.ModelInfo`) or from an ONNX export's metadata, and
checked for what predicting a single file needs: an utterance classifier,
a frame-level feature whose settings fit its configuration, a normaliser of
the model's width, no per-speaker normalisation (a per-corpus one predicts
only a collection, adapted to, and a continuous model's per-speaker one only
recordings standardised by their own statistics: :mod:`serkit.inference.adapt`).  Any
recognizer checkpoint it names lies inside the model's folder.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from serkit.artifacts import ModelInfo
from serkit.configs import check_types
from serkit.errors import ConfigError, SerkitError
from serkit.features.base import Feature, feature_class, feature_from_dict
from serkit.features.normalise import GlobalNormaliser, Normalisation, normalise_utterance
from serkit.features.shaping import SegmentRule, fix_length, segment, window_transform
from serkit.features.whisper import WhisperLayers
from serkit.features.whisper.registry import RECOGNIZERS, checkpoint_in_folder
from serkit.models.registry import frames_of_context


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What turns audio into a model's input, and what its outputs mean (from ``model.json``)."""

    labels: tuple[str, ...]
    feature: Feature
    normalisation: Normalisation
    normaliser: GlobalNormaliser | None
    fixed_frames: int | None
    #: Window and test hop in seconds, when the model scores an utterance by its windows.
    windows: SegmentRule | None
    n_dims: int
    card: dict[str, Any]
    source: str
    #: Whether the outputs are values (a per-utterance regression of ``labels``, which then name
    #: the targets) rather than class logits.
    regression: bool = False
    #: Whether the outputs are class logits per frame ``(batch, frames, classes)`` (a frame task).
    frame: bool = False
    #: Whether those per-frame logits are a ctc model's characters (``labels``, the blank first).
    ctc: bool = False
    #: A frame model's input frames on each side that one output frame depends on, where finite
    #: (a long recording is then scored in overlapping chunks); None: it reads its whole input.
    context: int | None = None

    @property
    def frame_rate(self) -> float:
        """Frames per second of the feature's grid (a frame model's output rate)."""
        grid = self.feature.grid
        return grid.sample_rate / grid.hop

    @classmethod
    def from_info(cls, info: ModelInfo, card: dict[str, Any] | None, source: str) -> ModelSpec:
        """Check ``model.json``'s settings; refuses what cannot predict one file."""
        task = info.task or {}
        kind = task.get("kind", "utterance-classification")
        per_frame = kind in ("frame-classification", "ctc") or (kind == "regression" and task.get("frame_level", True))
        if kind not in ("utterance-classification", "regression", "frame-classification", "ctc"):
            raise SerkitError(f"{source}: a {kind} model; serkit predict takes an utterance classifier, "
                              "a regression, a frame classifier or a ctc model")
        if per_frame and (info.segments or info.fixed_frames):
            raise SerkitError(f"{source}: a {kind} model reads whole utterances, not windows or fixed lengths")
        # a continuous model predicts a recording standardised by its own statistics (--adapt)
        if info.normalisation == Normalisation.PER_SPEAKER and not (kind == "regression" and per_frame):
            raise SerkitError(
                f"{source}: normalised per speaker, which needs each speaker's own recordings: "
                "it cannot predict a single file (train it with global normalisation)"
            )
        missing = [name for name in ("model", "features") if getattr(info, name) is None]
        if missing or not info.labels:
            raise SerkitError(f"{source}: incomplete model settings (missing {', '.join(missing or ['labels'])})")
        try:
            normalisation = Normalisation(info.normalisation)
            normaliser = GlobalNormaliser.from_dict(info.normaliser) if normalisation == Normalisation.GLOBAL else None
            feature = _model_feature(info.features, source)
            windows = SegmentRule(info.segments["window"], info.segments["test_hop"]) if info.segments else None
            n_dims = int(info.model["config"]["n_dims"])
            context = frames_of_context(info.model) if per_frame else None
        except KeyError as error:
            raise SerkitError(f"{source}: incomplete model settings (missing {error})") from None
        except (TypeError, ValueError, AttributeError) as error:  # a section of the wrong kind
            raise SerkitError(f"{source}: malformed model settings ({error})") from None
        if not feature.frame_level:
            raise SerkitError(f"{source}: the models take frame-level features, not {feature.family}")
        try:
            window_transform(feature, windowed=windows is not None)
        except SerkitError as error:
            raise SerkitError(f"{source}: {error}") from None
        if normaliser is not None and normaliser.mean is not None and len(normaliser.mean) != n_dims:
            raise SerkitError(f"{source}: a normaliser of {len(normaliser.mean)} dimensions for a model of {n_dims}")
        return cls(info.labels, feature, normalisation, normaliser, info.fixed_frames, windows,
                   n_dims, dict(card or {}), source, regression=kind == "regression",
                   frame=per_frame, ctc=kind == "ctc", context=context)

    def model_inputs(self, features: np.ndarray) -> list[np.ndarray]:
        """An utterance's ``(dims, frames)`` features as the model's inputs, as in training."""
        if self.normaliser is not None:
            features = self.normaliser.transform(features)
        elif self.normalisation == Normalisation.PER_CORPUS:  # the statistics are the collection's
            raise SerkitError(f"{self.source}: normalised per corpus: predict a collection with --adapt")
        elif self.normalisation == Normalisation.PER_SPEAKER:  # a continuous model's, by its speaker's own
            raise SerkitError(f"{self.source}: normalised per speaker: predict with --adapt, which standardises "
                              "each recording by its own statistics")
        elif self.normalisation == Normalisation.UTTERANCE:
            features = normalise_utterance(features)
        if self.fixed_frames:
            features = fix_length(features, self.fixed_frames)
        if self.windows is None:
            return [np.ascontiguousarray(features, dtype=np.float32)]
        window, hop = self.windows.frames(self.feature.grid)
        total = features.shape[-1]
        # windows keep their true length, as training's do: padding is the batch's, and masked
        windows = [np.ascontiguousarray(features[:, s : min(s + window, total)], dtype=np.float32)
                   for s in segment(features, window, hop, last="shift").starts.tolist()]
        per_window = window_transform(self.feature, windowed=True)  # as training applied it
        return windows if per_window is None else [per_window(w) for w in windows]


def _model_feature(data: dict[str, Any], source: str) -> Feature:
    """The feature extractor a model's settings describe, settings checked against its
    configuration.  A recognizer checkpoint it names must lie inside the model's folder (the
    folder of an ``.onnx`` file), and is read now: an unreadable one fails once, at loading,
    rather than once for each file predicted."""
    try:
        check_types(feature_class(data["family"]).Config, data["config"], "features.config.")
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None
    recognizer = data["config"].get("model", WhisperLayers.Config.model)
    if data["family"] != WhisperLayers.family or recognizer in RECOGNIZERS:
        return feature_from_dict(data)
    place = Path(source)
    checkpoint = checkpoint_in_folder(recognizer, place if place.is_dir() else place.parent)
    feature = feature_from_dict({**data, "config": {**data["config"], "model": checkpoint}})
    try:
        feature.encoder  # noqa: B018  (loads it)
    except SerkitError:
        raise
    except Exception as error:  # torch.load on arbitrary bytes fails with whatever the unpickler meets
        raise SerkitError(f"{checkpoint}: unreadable Whisper checkpoint ({one_line(error)})") from None
    return feature


def one_line(error: BaseException) -> str:
    """An exception from a third-party reader as one line: its type and its message's first line
    (torch's unpickler, for one, explains itself over a dozen lines)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__

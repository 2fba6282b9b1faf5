"""The files that pass between stages, each with one schema: a model folder and a cross-validation.

A **model folder** is ``model.safetensors`` (weights and buffers, no pickle)
and ``model.json`` (:class:`ModelInfo`: the network, the feature that feeds
it, normalisation and input shaping, the labels, the task, and how the
weights were trained and chosen), with an optional ``card.json``.  Training
writes it (checkpoints hold one too), ``serkit train`` publishes it, and
inference and serving read it, all through this module, so that inference
needs nothing of training.

A **cross-validation** is ``results.json`` (:class:`CvResults`: figures over
folds and what is needed to trust and reproduce them) and one
``folds/NN/predictions.json`` per fold (:class:`FoldResult`).

Each schema has a version, written as ``schema``; files written before there
was one are version 1 and read as they are (tested on every committed run and
shipped model).  Readers name the file and what is wrong in one line.  This
module imports no pipeline stage.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Literal

from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from serkit.configs import added_later, from_dict, to_dict
from serkit.errors import ConfigError, SerkitError
from serkit.outputs import atomic_write_bytes, atomic_write_text

WEIGHTS = "model.safetensors"
INFO = "model.json"
CARD = "card.json"
RESULTS = "results.json"
#: The models shipped inside the package, a model folder each (``serkit.inference.registry``).
SHIPPED_MODELS = Path(__file__).parent / "inference" / "models"
MODEL_SCHEMA = 1
RESULTS_SCHEMA = 1

NormalisationKind = Literal["global", "utterance", "per-speaker", "none", "per-corpus"]


# -- model folders --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """``model.json``.  Sections are plain data, each read by its own stage (a model's
    configuration by :mod:`serkit.models`, a feature's by :mod:`serkit.features`)."""

    #: ``{"name": ..., "config": {...}}`` (:func:`serkit.models.model_config`).
    model: dict[str, Any] | None = None
    #: The feature's ``to_dict()``: family, configuration, revision.
    features: dict[str, Any] | None = None
    feature_preset: str | None = None
    labels: tuple[str, ...] = ()
    #: The task's ``to_dict()`` (its kind and labels).
    task: dict[str, Any] | None = None
    normalisation: NormalisationKind = "none"
    #: The fitted global normaliser (``normalisation: global``).
    normaliser: dict[str, Any] | None = None
    fixed_frames: int | None = None
    #: Window and hops in seconds, when the model scores an utterance by its windows.
    segments: dict[str, Any] | None = None
    #: The training settings, or how a classical model was fitted.
    training: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: How the kept weights were chosen (rule, epoch, monitor, score, stop reason).
    selection: dict[str, Any] | None = None
    #: A checkpoint's copy only: the step and the sampler's position it was written at.
    checkpoint: dict[str, Any] | None = None
    #: The model it started from (``init``): its folder, the tensors copied, the layers frozen.
    init: dict[str, Any] | None = None
    schema: int = MODEL_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        data = to_dict(self)
        for optional in ("selection", "checkpoint", "init"):
            if data[optional] is None:
                del data[optional]
        return data

    @classmethod
    def from_dict(cls, data: Any, source: str | Path) -> ModelInfo:
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: not a JSON object of model settings, but {type(data).__name__}")
        if "step" in data or "position" in data:  # checkpoints before the schema
            data = {k: v for k, v in data.items() if k not in ("step", "position")} | {
                "checkpoint": {"step": data.get("step"), "position": data.get("position")}}
        try:
            info = from_dict(cls, data, what="model settings")
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None
        if info.schema > MODEL_SCHEMA:
            raise SerkitError(f"{source}: model schema {info.schema} is newer than this serkit reads "
                              f"({MODEL_SCHEMA}); upgrade serkit")
        return info


def model_folder(name_or_path: str | Path) -> Path:
    """A model folder given by its path or by a shipped model's name (``default``, ``accurate``)."""
    path = Path(name_or_path)
    if (path / INFO).is_file():
        return path
    shipped = SHIPPED_MODELS / str(name_or_path)
    if "/" not in str(name_or_path) and (shipped / INFO).is_file():
        return shipped
    names = ", ".join(sorted(p.parent.name for p in SHIPPED_MODELS.glob(f"*/{INFO}")))
    raise SerkitError(f"{name_or_path}: neither a model folder (with {INFO}) nor a shipped model ({names})")


def read_model_info(directory: str | Path) -> ModelInfo:
    """A model folder's ``model.json``, checked against the schema."""
    path = Path(directory) / INFO
    return ModelInfo.from_dict(_read_json(path, "model settings"), path)


def write_model(directory: str | Path, weights: dict[str, Any], info: ModelInfo) -> None:
    """Write a model folder's ``model.safetensors`` and ``model.json``, each atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(directory / WEIGHTS, weights_bytes(weights))
    atomic_write_text(directory / INFO, json_text(info.to_dict()))


def load_weights(path: str | Path) -> dict[str, Any]:
    """Tensors of a safetensors file (a model folder's ``model.safetensors`` when given the folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / WEIGHTS
    try:
        return load_safetensors(path.read_bytes())
    except (OSError, SafetensorError) as error:
        raise SerkitError(f"{path}: unreadable weights ({error})") from None


def weights_bytes(weights: dict[str, Any]) -> bytes:
    """safetensors bytes of a state dict (copied to contiguous CPU tensors, so shared ones save)."""
    return save_safetensors({k: v.detach().to("cpu").contiguous().clone() for k, v in weights.items()})


def json_text(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


# -- cross-validation ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FoldResult:
    """A fold's ``predictions.json``: its test part's references, predictions and class scores, and
    what was chosen on its training side."""

    fold: dict[str, Any]
    ids: list[str]
    speakers: list[str]
    #: labels, or a regression's values per target
    y_true: list[Any]
    y_pred: list[Any]
    scores: list[list[float]]
    seconds: float = 0.0
    #: UA on the validation part (or inner folds) of what was kept; None without one.
    validation_ua: float | None = None
    #: a regression's mean CCC on the validation part
    validation_ccc: float | None = None
    #: a regression's CCC and RMSE per target on the validation part (seed 004's development figures)
    validation_figures: dict[str, float] | None = None
    #: a frame task's UA over the validation part's frames (FrameClassification's figure)
    validation_frame_ua: float | None = None
    #: a ctc task's CER on the validation part (CTCRecognition's figure)
    validation_cer: float | None = None
    #: emotion frames: the validation part's utterance UA by each decision rule (frame_decisions)
    validation_utterance_ua: dict[str, float] | None = None
    #: emotion frames: the test utterances' labels and each rule's decisions (``y_pred`` per rule)
    utterances: dict[str, Any] | None = None
    #: phone frames: each test utterance's phones as the fold's decoder found them (a ctc task: its
    #: beam search's texts), and the decoder
    decoded: list[list[str]] | list[str] | None = None
    decoder: dict[str, Any] | None = None
    # neural models: the kept epoch, how it was chosen, and each seed's fit
    chosen_epoch: int | None = None
    selection: str | None = None
    members: list[dict[str, Any]] | None = None
    #: classical models: the cost and its validation figures
    chosen: dict[str, Any] | None = None
    #: a recipe's ``search``: the values chosen and every candidate's validation UA
    search: dict[str, Any] | None = None
    #: the model it started from (``init``), what was copied and frozen
    init: dict[str, Any] | None = None
    #: processor seconds (every thread of the process) of the fold: the core-time ``seconds`` cost,
    #: whatever else shared the machine; a resumed fold's earlier calls count up to their last
    #: checkpoint since 2026-12-07 (before, only the call that finished the fold counted)
    cpu_seconds: float | None = added_later(None)
    #: the processor or GPU and torch version that fitted the fold (:func:`serkit.devices.machine_name`;
    #: folds before 2026-12-07 did not record it)
    machine: str | None = added_later(None)
    schema: int = RESULTS_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in to_dict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: Any, source: str | Path) -> FoldResult:
        try:
            result = from_dict(cls, data, what="fold result keys")
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None
        if result.validation_ua is None:  # written before the fold recorded its own
            result = dataclasses.replace(result, validation_ua=_older_validation_ua(result))
        return result

    @classmethod
    def read(cls, path: str | Path) -> FoldResult:
        return cls.from_dict(_read_json(Path(path), "fold predictions"), path)

    def write(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")


def _older_validation_ua(result: FoldResult) -> float | None:
    if result.members:  # an ensemble's members each chose an epoch on validation
        scores = [m["history"][m["chosen_epoch"] - 1].get("validation_ua") for m in result.members]
        return None if None in scores else sum(scores) / len(scores)
    chosen = result.chosen or {}
    return (chosen.get("validation_ua") or {}).get(str(chosen.get("c")))


@dataclasses.dataclass(frozen=True)
class CvResults:
    """``results.json``: per-fold, mean, pooled and bootstrap figures, the protocol, and hashes of
    the configuration and the data (:func:`serkit.experiments.cv.summarise`)."""

    recipe: str
    reproduces: str | None
    corpus: str
    classes: list[str]
    class_set: str
    protocol: str
    speaker_dependent: bool
    validation: str | None
    model: str
    features: str
    normalisation: str
    n_utterances: int
    labels: list[str]
    #: One row per fold: its name, test speakers, figures and choices.
    folds: list[dict[str, Any]]
    mean: dict[str, Any]
    std: dict[str, Any]
    pooled: dict[str, Any]
    ci95: dict[str, Any]
    confusion: dict[str, Any] | None
    class_rule: str
    #: Mean over folds of the validation UA: what configurations are compared on, never the test figures.
    validation_ua: float | None
    config_hash: str
    data_hash: str
    seconds: float
    config: dict[str, Any]
    #: Torch threads each fold trained on (runs before 2026-12-03 did not record it).
    threads: int | None = None
    #: ``utterance`` (classification), ``regression`` of ``targets`` (then ``confusion`` is None,
    #: the figures are CCC and RMSE per target, and ``validation_ccc`` chooses), or ``frame``
    task: str = added_later("utterance")
    targets: list[str] = added_later([])
    validation_ccc: float | None = added_later(None)
    #: ``frame``: a class per frame of ``frame_target`` (``phones``); the figures are FER and PER,
    #: ``confusion`` is None, ``ci95`` empty, and ``validation_frame_ua`` chooses
    frame_target: str | None = added_later(None)
    validation_frame_ua: float | None = added_later(None)
    #: ``ctc``: a character sequence per utterance; the figures are CER and WER, ``confusion`` is
    #: None, ``ci95`` empty, and ``validation_cer`` (lower is better) chooses
    validation_cer: float | None = added_later(None)
    #: emotion frames: each utterance decided from its frames (``aggregate``), scored as an
    #: utterance classification (``wa``, ``ua``, ``f1``, ``error``, ``unweighted_error`` per fold,
    #: mean, pooled, ``ci95``, ``confusion``), and the other rule's pooled figures beside it
    utterances: dict[str, Any] | None = added_later(None)
    #: processor seconds of the folds (:attr:`FoldResult.cpu_seconds`) summed; None when a fold did
    #: not record them (runs before 2026-12-06)
    cpu_seconds: float | None = added_later(None)
    #: the machines its folds were fitted on (:attr:`FoldResult.machine`), each once; None when a
    #: fold did not record it (runs before 2026-12-07)
    machines: list[str] | None = added_later(None)
    schema: int = RESULTS_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Any, source: str | Path) -> CvResults:
        try:
            return from_dict(cls, data, what="results keys")
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None

    @classmethod
    def read(cls, path: str | Path) -> CvResults:
        """A run's ``results.json``: give the file or the run folder."""
        path = Path(path)
        if path.is_dir():
            path = path / RESULTS
        return cls.from_dict(_read_json(path, "cross-validation results"), path)

    def write(self, directory: str | Path) -> None:
        atomic_write_text(Path(directory) / RESULTS, json.dumps(self.to_dict(), indent=2) + "\n")


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or error
        raise SerkitError(f"{path}: unreadable {what} ({reason})") from None

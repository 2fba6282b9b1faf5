"""Recipes: one experiment's hyper-parameters as a typed object, read from YAML.

A recipe names the paper and table it reproduces, the data (corpus, class
set), the protocol, the features and their normalisation, the model and the
training configuration.  Hyper-parameters live in ``recipes/*.yaml`` (kept
apart from code, as SpeechBrain recipes do); any command-line option
overrides the value read from the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from pathlib import Path
from typing import Any, Literal

import yaml

from serkit.configs import added_later, check_types, from_dict, to_dict
from serkit.corpora.multi import corpus_names
from serkit.errors import ConfigError, SerkitError
from serkit.experiments.recipe_fields import corpus_spec, features_spec
from serkit.features.normalise import Normalisation
from serkit.models.classical import CLASSICAL_MODELS, SVMConfig
from serkit.models.registry import config_class, frame_models, is_frame_model
from serkit.training.config import TrainConfig

NORMALISATIONS: tuple[str, ...] = tuple(kind.value for kind in Normalisation)
#: What a model learns (``serkit.training.tasks``): one class per utterance, or continuous
#: values per utterance (``targets``: arousal, valence on [-1, 1], ``serkit.corpora.dimensions``).
#: ``frame``: a class per frame of the feature's grid (``frame_target``: ``phones``, from the
#: corpus table's ``alignment`` column, or ``emotion``, the utterance's label on every frame).
#: ``ctc``: a character sequence per utterance without alignment, from the corpus table's
#: ``transcript`` column (``serkit.experiments.ctc_targets``; seed 003's recogniser).
TaskKind = Literal["utterance", "regression", "frame", "ctc"]
#: What each task learns, for messages.
_TASK_TARGET = {"utterance": "the label", "frame": "the frame_target per frame", "ctc": "the transcript"}
#: The dimensions a regression recipe may name as ``targets``.
DIMENSIONS = ("arousal", "valence")
#: What a frame recipe may name as ``frame_target`` (:mod:`serkit.experiments.frame_targets`).
FRAME_TARGETS = ("phones", "emotion")
#: The phone sets a phone frame recipe may map its alignment's symbols to.
PHONE_SETS = ("compact-de",)
#: How an emotion frame model's utterance decision comes from its frames.
AGGREGATES = ("mean-log-posterior", "majority")
#: The options each classical model takes (``majority`` takes none).
_CLASSICAL_OPTIONS = {"svm": SVMConfig, "logistic": SVMConfig}


@dataclasses.dataclass(frozen=True)
class Segments:
    """Seed 002's segment-level training and scoring: windows and hops in seconds."""

    window: float = 2.0
    train_hop: float = 1.0
    test_hop: float = 0.4


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Everything a cross-validation or training run depends on (see module docstring)."""

    name: str = "custom"
    #: Paper and table reproduced, e.g. "seed 000 (Pandey et al.), Table I".
    reproduces: str | None = None
    #: A corpus reader's name, or a list of them read into one table with speakers, sentences and
    #: sessions made unique per corpus (:mod:`serkit.corpora.multi`); kept as the names joined by ``+``.
    corpus: str | tuple[str, ...] = "emodb"
    #: The folder of a single corpus (None: ``$SERKIT_CORPORA/<name>``).
    root: str | None = None
    classes: str = "4class"
    protocol: str = "loso"
    validation: str = "speakers"
    #: A feature preset (``NAME`` or ``NAME:key=value,...``), or a list of frame-level presets on
    #: one frame grid, stacked (:mod:`serkit.features.combined`); kept as the names joined by ``+``.
    features: str | tuple[str, ...] = "logmel-seed001"
    #: ``global``: the training part's statistics; ``utterance``: each input on its own;
    #: ``per-speaker``: a declared variant (test speakers' own statistics).
    normalisation: Normalisation = Normalisation.GLOBAL
    #: Pad or crop every input to this many frames (seed 000's 251), or None.
    fixed_frames: int | None = None
    model: str = "cnn_blstm"
    model_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    segments: Segments | None = None
    #: Models trained per fold with seeds seed, seed+1, ...; their scores are averaged.
    ensemble: int = 1
    #: For a feature that stacks every layer of a recognizer (``whisper-base``): use this layer,
    #: or these layers stacked (``[3, 4]``).
    layer: int | tuple[int, ...] | None = added_later(None)
    #: Settings each fold chooses on its validation part: a recipe field (dotted for nested
    #: ones) to its candidate values, e.g. ``{layer: [2, 3, 4], train.weight_decay: [0, 1e-4]}``.
    search: dict[str, list[Any]] = added_later({})
    #: Classical models: score the searched settings and the cost by leave-one-speaker-out over the
    #: training and validation speakers (less noise, the test part still never chooses); ``corpora``:
    #: leave one training corpus out instead (``loco``); ``true`` is ``speakers``.
    inner_cv: bool | Literal["speakers", "corpora"] = added_later(False)
    #: Start from another trained model (a folder or a shipped model's name): layers whose name and
    #: shape match are copied, the output layer is new (``serkit.models.transfer``).
    init: str | None = added_later(None)
    #: Freeze the first N layers of the model (as its ``layers()`` lists them); needs ``init``.
    freeze: int = added_later(0)
    #: Train the new output layer alone for this many epochs first (seed 001 does one); needs ``init``.
    head_epochs: int = added_later(0)
    #: Compute the frozen layers' output once per input and train the layers above on it, where
    #: the model can cut there (``frame_cnn`` from ``freeze: 3``; :meth:`UtteranceModel.frozen_split`):
    #: the same network, trained faster.  Off by default so that runs made before it stay bit for bit.
    cache_frozen: bool = added_later(False)
    #: ``utterance``: a class per utterance (the class set's); ``regression``: the ``targets``
    #: per utterance, from the corpus's own ratings or the labels' places (labels.yaml).
    task: TaskKind = added_later("utterance")
    #: The regression task's outputs, in order, e.g. ``[arousal, valence]``.
    targets: tuple[str, ...] = added_later(())
    #: The frame task's classes: ``phones`` (the alignment's phone symbols, see
    #: :mod:`serkit.experiments.frame_targets`) or ``emotion`` (the utterance's label per frame).
    frame_target: str | None = added_later(None)
    #: ``frame_target: phones`` only: map the alignment's symbols to a documented phone set (``compact-de``,
    #: :mod:`serkit.corpora.phone_sets`); None keeps the symbols as they are.
    phone_set: str | None = added_later(None)
    #: ``frame_target: emotion`` only: frames a voice activity detector calls non-speech get the
    #: class ``silence`` (``webrtcvad``, or ``webrtcvad:N`` with aggressiveness N in 0..3); None
    #: gives every frame the utterance's label.
    silence: str | None = added_later(None)
    #: ``frame_target: emotion`` only: how an utterance's decision comes from its frames' posteriors
    #: (silence excluded): ``mean-log-posterior`` or ``majority`` (a vote of the frames' argmax).
    aggregate: str = added_later("mean-log-posterior")
    #: ``task: ctc`` only: ``greedy``, or ``beam``, which adds each fold's beam search with a character
    #: trigram, its settings chosen on validation (:mod:`serkit.experiments.ctc_decoder`), as a second row.
    decoder: str = added_later("greedy")
    #: Several corpora: a folder per corpus (``{emodb: ../shared/data/emodb}``); a corpus not named
    #: here is read from ``$SERKIT_CORPORA/<name>``.  Where the data is, like ``root``: not hashed.
    roots: dict[str, str] = added_later({})
    #: Train on this share of each training speaker's utterances in every fold (drawn with the seed),
    #: for a learning curve against the amount of data; validation and test parts are untouched.
    training_share: float = added_later(1.0)
    #: Only these folds of the protocol (by index): a development run, whose validation speakers
    #: choose a setting before the whole protocol runs with it; every result names the folds.
    folds: tuple[int, ...] = added_later(())
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", features_spec(self.features))
        object.__setattr__(self, "corpus", corpus_spec(self.corpus))
        self._check_roots()
        if self.normalisation not in NORMALISATIONS:
            raise SerkitError(f"normalisation {self.normalisation!r}: choose from {', '.join(NORMALISATIONS)}")
        object.__setattr__(self, "normalisation", Normalisation(self.normalisation))  # code may give a string
        if self.ensemble < 1:
            raise SerkitError("ensemble must be at least 1")
        object.__setattr__(self, "folds", tuple(self.folds))
        if len(set(self.folds)) < len(self.folds) or any(not isinstance(k, int) or k < 0 for k in self.folds):
            raise SerkitError(f"folds {list(self.folds)}: give different fold indices from 0")
        if not 0 < self.training_share <= 1:
            raise SerkitError(f"training_share {self.training_share}: a share of the training part, over 0 and at most 1")
        self._check_task()
        self._check_windows()
        if (self.freeze or self.head_epochs) and self.init is None:
            raise SerkitError("freeze and head_epochs start from another model's layers: give init")
        if self.freeze < 0 or self.head_epochs < 0:
            raise SerkitError("freeze and head_epochs must be 0 or more")
        if self.cache_frozen and not self.freeze:
            raise SerkitError("cache_frozen computes the frozen layers' output once: give freeze (and init)")
        if self.cache_frozen and (self.train.waveform_augment.active or self.train.spec_augment.active):
            raise SerkitError("cache_frozen: the frozen layers' output is computed once, so the input "
                              "cannot be augmented afresh (waveform_augment, spec_augment)")
        if self.init is not None and self.classical:
            raise SerkitError(f"init: a {self.model} model is fitted by scikit-learn and starts from nothing")
        if self.inner_cv and not self.classical:
            raise SerkitError("inner_cv is for classical models; a neural model stops and chooses on "
                              "its validation part")
        for key, values in self.search.items():
            if not isinstance(values, (list, tuple)) or not values:
                raise SerkitError(f"search.{key}: give a non-empty list of candidate values")
            for value in values:  # fails early for an unknown field or a candidate of the wrong type
                data = self.to_dict()
                _set_path(data, key, value)
                try:
                    _check_recipe_types(data)
                except ConfigError as e:
                    raise ConfigError(f"search.{key}: {e}") from None

    def _check_roots(self) -> None:
        unknown = sorted(set(self.roots) - set(self.corpora))
        if unknown:
            raise ConfigError(f"roots: {', '.join(unknown)} is not a corpus of this recipe ({self.corpus})")
        if self.root is not None and (len(self.corpora) > 1 or self.roots):
            raise ConfigError(f"root: a recipe of several corpora ({self.corpus}) gives a folder per corpus in "
                              "roots (others are read from $SERKIT_CORPORA)")

    def _check_windows(self) -> None:
        """A feature rescaled per model window (``mulaw``'s ``rescale: segment``) needs windows:
        a recipe without ``segments``, or a classical one (it pools whole utterances), is refused."""
        if self.segments is not None and not self.classical:
            return
        from serkit.features.presets import get_preset
        from serkit.features.shaping import window_transform

        try:
            feature = get_preset(self.features).feature
        except SerkitError:  # an unknown preset is refused where it is built, as ever
            return
        window_transform(feature, windowed=False)

    @property
    def corpora(self) -> tuple[str, ...]:
        """The corpora read, in order (one for most recipes)."""
        return corpus_names(self.corpus)

    def corpus_root(self, name: str) -> str | None:
        """Where corpus ``name`` is read from (None: ``$SERKIT_CORPORA/<name>``)."""
        return self.roots.get(name, self.root)

    def _check_task(self) -> None:
        """The task's own fields, and a model that gives what it learns (one output per utterance,
        or one per frame for frame and ctc)."""
        object.__setattr__(self, "targets", tuple(self.targets))
        if self.targets and self.task != "regression":
            raise SerkitError(f"targets {list(self.targets)}: targets are for task: regression "
                              f"(task {self.task} learns {_TASK_TARGET[self.task]})")
        if self.frame_target is not None and self.task != "frame":
            raise SerkitError(f"frame_target {self.frame_target!r}: frame_target is for task: frame")
        frame_model = not self.classical and is_frame_model(self.model)
        if self.task in ("frame", "ctc") or (frame_model and self.task == "regression"):  # regression per frame
            self._check_frame_model(frame_model)
        elif frame_model:
            raise SerkitError(f"model {self.model} gives an output per frame: it needs task: frame, ctc or "
                              "regression")
        if self.task == "regression":
            unknown = [t for t in self.targets if t not in DIMENSIONS]
            if not self.targets or unknown or len(set(self.targets)) != len(self.targets):
                raise SerkitError(f"targets {list(self.targets)}: a regression recipe names distinct targets "
                                  f"from {', '.join(DIMENSIONS)}")
            if self.classical:
                raise SerkitError(f"task regression: {self.model} is a classifier; use a neural model")
        if self.task == "frame" and self.frame_target not in FRAME_TARGETS:
            raise SerkitError(f"frame_target {self.frame_target!r}: a frame recipe names one of "
                              f"{', '.join(FRAME_TARGETS)}")
        self._check_frame_target_options()

    def _check_frame_target_options(self) -> None:
        """``phone_set`` belongs to phone frames, ``silence`` and ``aggregate`` to emotion frames."""
        if self.phone_set is not None:
            if self.frame_target != "phones":
                raise SerkitError(f"phone_set {self.phone_set!r}: phone_set is for frame_target: phones")
            if self.phone_set not in PHONE_SETS:
                raise SerkitError(f"phone_set {self.phone_set!r}: choose from {', '.join(PHONE_SETS)}")
        if self.silence is not None:
            if self.frame_target != "emotion":
                raise SerkitError(f"silence {self.silence!r}: silence is for frame_target: emotion")
            detector, _, level = self.silence.partition(":")
            if detector != "webrtcvad" or (level and level not in ("0", "1", "2", "3")):
                raise SerkitError(f"silence {self.silence!r}: give webrtcvad or webrtcvad:N with N in 0..3")
        if self.aggregate not in AGGREGATES:
            raise SerkitError(f"aggregate {self.aggregate!r}: choose from {', '.join(AGGREGATES)}")
        if self.decoder not in ("greedy", "beam") or (self.decoder == "beam" and self.task != "ctc"):
            raise SerkitError(f"decoder {self.decoder!r}: greedy, or beam for task: ctc")

    def _check_frame_model(self, frame_model: bool) -> None:
        if not frame_model:
            raise SerkitError(f"task {self.task}: model {self.model} gives one output per utterance; use a frame "
                              f"model ({', '.join(frame_models())})")
        if self.segments is not None or self.fixed_frames:
            # windows or padded inputs have no alignment or transcript of their own
            raise SerkitError(f"task {self.task}: segments and fixed_frames do not apply; a {self.task} model "
                              "reads whole utterances")

    def candidates(self) -> list[tuple[dict[str, Any], Recipe]]:
        """``(values, recipe)`` for every combination of the searched settings (one, unsearched,
        when nothing is searched)."""
        if not self.search:
            return [({}, self)]
        keys = sorted(self.search)
        found = []
        for combination in itertools.product(*(self.search[k] for k in keys)):
            values = dict(zip(keys, combination))
            data = {**self.to_dict(), "search": {}}
            for key, value in values.items():
                _set_path(data, key, value)
            found.append((values, Recipe.from_dict(data)))
        return found

    @property
    def classical(self) -> bool:
        return self.model in CLASSICAL_MODELS

    @property
    def seed(self) -> int:
        return self.train.seed

    @property
    def variant(self) -> str | None:
        """A declared protocol variant that every result of this recipe must carry."""
        parts = []
        if self.normalisation in (Normalisation.PER_SPEAKER, Normalisation.PER_CORPUS):
            parts.append(f"{self.normalisation} normalisation")
        if self.folds:
            parts.append(f"folds {', '.join(map(str, self.folds))} only")
        return " + ".join(parts) or None

    def to_dict(self) -> dict[str, Any]:
        """Every setting, the fields added later included (a search sets them by path)."""
        return to_dict(self, complete=True)

    def config_hash(self) -> str:
        """Hash of everything that changes results (not the name, the root or the paper note);
        fields :func:`~serkit.configs.added_later` count only once set, as older runs' hashes did."""
        data = to_dict(self)
        for key in ("name", "reproduces", "root", "roots"):
            data.pop(key, None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def override(self, **values: Any) -> Recipe:
        """A copy with ``values`` replaced; ``epochs`` and ``seed`` go into ``train``."""
        values = {k: v for k, v in values.items() if v is not None}
        train = self.train.to_dict()
        for key in ("epochs", "seed"):
            if key in values:
                train[key] = values.pop(key)
        return dataclasses.replace(self, **values, train=TrainConfig.from_dict(train))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        values = {k: v for k, v in data.items() if not (k == "train" and v is None)}  # an empty section
        recipe = from_dict(cls, values, what="recipe keys")
        _check_model_options(values)
        return recipe


def _check_recipe_types(data: dict[str, Any]) -> None:
    """Every value's type against its field, and the model's options (:func:`_check_model_options`)."""
    check_types(Recipe, data)
    _check_model_options(data)


def _check_model_options(data: dict[str, Any]) -> None:
    """The model's options against the model's configuration (an unknown model or option is
    refused, naming the known ones, when the model is built)."""
    model = data.get("model", Recipe.model)
    try:
        options_class = _CLASSICAL_OPTIONS.get(model) or config_class(model)
    except SerkitError:
        return
    check_types(options_class, data.get("model_options") or {}, "model_options.")


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``data[a][b]`` for ``a.b``; the path must exist, except a new key of an options dict."""
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        if not isinstance(node.get(part), dict):
            raise SerkitError(f"search: {dotted!r} is not a recipe setting")
        node = node[part]
    new_option = parents == ["model_options"]
    if last not in node and not new_option:
        raise SerkitError(f"search: {dotted!r} is not a recipe setting")
    node[last] = value


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    if not path.is_file():
        raise SerkitError(f"{path}: recipe not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise SerkitError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of settings, not {type(data).__name__}")
    try:
        return Recipe.from_dict(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    except (TypeError, SerkitError) as e:
        raise SerkitError(f"{path}: {e}") from None

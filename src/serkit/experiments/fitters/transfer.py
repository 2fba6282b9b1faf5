"""A recipe's ``init``: the trained model a new one starts from, checked before any training.

The initial model is a model folder (or a shipped model's name), or, in
cross-validation, another cross-validation run over the same folds: each fold
then starts from that run's model of the same fold (:func:`fold_init`), so
that no base model has seen the fold's test part.  It must
have been trained on exactly the recipe's feature configuration (the layers
learned that input); the new model fits its own normaliser on its own
training part.  Which tensors are copied and which layers frozen is
:mod:`serkit.models.transfer`'s; what was done is recorded in the run's
results, the model's ``model.json`` and its card.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from torch import Tensor

from serkit.artifacts import INFO, ModelInfo, load_weights, model_folder, read_model_info
from serkit.errors import ConfigError, SerkitError
from serkit.features.base import Feature
from serkit.models.base import UtteranceModel
from serkit.models.transfer import copy_matching, freeze
from serkit.protocols import Fold

#: What marks a cross-validation run's folder (``serkit.experiments.cv``).
CV_RECIPE = "recipe.json"


@dataclasses.dataclass(frozen=True)
class InitialModel:
    """The model a recipe's ``init`` names: its folder, its ``model.json`` and its weights."""

    folder: Path
    info: ModelInfo
    weights: dict[str, Tensor]

    @classmethod
    def read(cls, name_or_path: str, feature: Feature, preset: str) -> InitialModel:
        """The model ``init`` names; refuses one trained on another feature configuration."""
        try:
            folder = model_folder(name_or_path)
            info = read_model_info(folder)
            weights = load_weights(folder)
        except SerkitError as error:
            raise ConfigError(f"init: {error}") from None
        if info.features != feature.to_dict():
            raise ConfigError(f"init: {folder} was trained on other features ({info.feature_preset or 'unnamed'}, "
                              f"{(info.features or {}).get('family')}) than this recipe's ({preset}, "
                              f"{feature.family}, or other settings): its layers learned another input")
        return cls(folder, info, weights)

    def start(self, model: UtteranceModel, n_frozen: int) -> dict[str, Any]:
        """Copy the matching tensors into ``model`` and freeze its first ``n_frozen`` layers;
        returns the record of what was done."""
        try:
            copied = copy_matching(model, self.weights)
            frozen = freeze(model, n_frozen)
        except SerkitError as error:
            raise ConfigError(f"init: {self.folder}: {error}") from None
        layers = [name for name, _ in model.layers()]
        copied_layers = [name for name in layers if any(t.startswith(name + ".") for t in copied)]
        return {"from": str(self.folder), "model": (self.info.model or {}).get("name"),
                "tensors_copied": len(copied), "layers_copied": copied_layers, "frozen": frozen}



def check_init(recipe: Any, per_fold: bool) -> None:
    """Read a recipe's ``init`` model now (before features are extracted or anything trained), so
    that a missing model or one of other features fails first, in one line.  A cross-validation
    run as ``init`` (``per_fold``: each fold starts from the run's model of the same fold) is
    checked through its first fold's model."""
    if recipe.init is None or recipe.classical:
        return
    from serkit.experiments.fold_data import selected_feature

    init = recipe.init
    if is_cv_run(init):
        if not per_fold:
            raise ConfigError(f"init: {init} is a cross-validation run (a model per fold); to train on the "
                              "whole corpus name one model folder (e.g. its folds/00/seed0/model)")
        models = sorted(Path(init).glob(f"folds/*/seed*/model/{INFO}"))
        if not models:
            raise ConfigError(f"init: cross-validation run {init} holds no fold model yet")
        init = str(models[0].parent)
    InitialModel.read(init, selected_feature(recipe), str(recipe.features))


def is_cv_run(path: str) -> bool:
    """Whether ``path`` is a ``serkit cv`` output folder rather than a model folder."""
    return (Path(path) / CV_RECIPE).is_file() and (Path(path) / "folds").is_dir()


def fold_init(run: str, fold: Fold) -> str:
    """The model of ``fold`` in cross-validation run ``run``, as a fold's ``init``: refused unless
    that run's fold had exactly this fold's training, validation and test rows, so that no base
    model has seen its fold's test speakers (or sentences)."""
    folder = Path(run) / "folds" / f"{fold.index:02d}"
    try:
        base = json.loads((folder / "predictions.json").read_text())["fold"]
        seed = json.loads((Path(run) / CV_RECIPE).read_text())["train"]["seed"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(f"init: {run} has no finished {fold.name} to start this fold from") from None
    mine = fold.to_dict()
    for part in ("train", "validation", "test"):
        if base.get(part) != mine[part] or base.get("protocol") != mine["protocol"]:
            raise ConfigError(f"init: {run}'s {fold.name} has other {part} utterances than this run's "
                              f"({base.get('protocol')} vs {mine['protocol']}): use one fold scheme for both runs")
    model = folder / f"seed{seed}" / "model"
    if not (model / INFO).is_file():
        raise ConfigError(f"init: {run} keeps no model for {fold.name} at {model}")
    return str(model)

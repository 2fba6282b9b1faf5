"""A recipe's ``init``: the trained model a new one starts from, checked before any training.

The initial model is a model folder (or a shipped model's name).  It must
have been trained on exactly the recipe's feature configuration (the layers
learned that input); the new model fits its own normaliser on its own
training part.  Which tensors are copied and which layers frozen is
:mod:`serkit.models.transfer`'s; what was done is recorded in the run's
results, the model's ``model.json`` and its card.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from torch import Tensor

from serkit.artifacts import ModelInfo, load_weights, model_folder, read_model_info
from serkit.errors import ConfigError, SerkitError
from serkit.features.base import Feature
from serkit.models.base import UtteranceModel
from serkit.models.transfer import copy_matching, freeze


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



def check_init(recipe: Any) -> None:
    """Read a recipe's ``init`` model now (before features are extracted or anything trained), so
    that a missing model or one of other features fails first, in one line."""
    if recipe.init is not None and not recipe.classical:
        from serkit.experiments.fold_data import selected_feature

        InitialModel.read(recipe.init, selected_feature(recipe), str(recipe.features))

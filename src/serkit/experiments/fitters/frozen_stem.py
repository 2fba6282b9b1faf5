"""A recipe's ``cache_frozen``: the frozen layers run once per input, the layers above train on their output.

Seed 001's transfer rows hold the first l layers of a frame ConvNet constant
for a whole training run, yet a plain run recomputes them at every step of
every epoch and at every validation.  Where the model can cut above its
frozen layers (:meth:`~serkit.models.base.UtteranceModel.frozen_split`), the
fitter computes the cut's output for every training and validation input
once, in evaluation mode, and trains the model's head on those outputs.  The
head's modules are the model's own, so the model is trained; it is then saved
whole (:func:`write_whole_model`) and predicts from features like any other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from serkit.artifacts import read_model_info, write_model
from serkit.errors import ConfigError
from serkit.models import UtteranceModel, model_config
from serkit.training import FeatureDataset
from serkit.training.config import TrainConfig
from serkit.training.optim import parameter_groups, run_scope


def frozen_stem(model: UtteranceModel, n_frozen: int, train: object, validation: FeatureDataset | None,
                threads: int | None) -> tuple[UtteranceModel, FeatureDataset, FeatureDataset | None]:
    """``model``'s head and both parts' inputs replaced by the output of its first ``n_frozen``
    layers' cut (call after the initial weights are in: the output is computed now)."""
    split = model.frozen_split(n_frozen)
    if split is None:
        raise ConfigError(f"cache_frozen: {model.name} has no cut to cache with freeze {n_frozen}")
    if not isinstance(train, FeatureDataset):
        raise ConfigError("cache_frozen: the training inputs must be features computed beforehand, not augmented")
    stem, head = split
    with run_scope(threads, torch.device("cpu")):
        was_training = model.training
        model.eval()
        try:
            return head, stem_outputs(stem, train), None if validation is None else stem_outputs(stem, validation)
        finally:
            model.train(was_training)


def stem_outputs(stem: Callable[[Tensor, Tensor], Tensor], dataset: FeatureDataset) -> FeatureDataset:
    """Each example with its features replaced by ``stem``'s output for it alone (no padding)."""
    with torch.no_grad():
        def output(features: np.ndarray) -> np.ndarray:
            x = torch.from_numpy(features).unsqueeze(0)
            return stem(x, torch.tensor([features.shape[1]])).squeeze(0).numpy()

        return FeatureDataset(dataclasses.replace(e, features=output(e.features)) for e in dataset.items)


def head_training(config: TrainConfig, model: UtteranceModel, head: UtteranceModel) -> TrainConfig:
    """The head's training settings: ``optimiser.decay_only`` without the prefixes of cached
    layers, which are frozen and so never decayed (each prefix still checked against the whole
    model, as a run without the cache checks it).  Where no decayed parameter is left, no decay."""
    parameter_groups(model.named_parameters(), config.optimiser)  # refuses a prefix naming nothing
    optimiser = config.optimiser
    names = [name for name, _ in head.named_parameters()]
    kept = tuple(prefix for prefix in optimiser.decay_only if any(name.startswith(prefix) for name in names))
    if kept != optimiser.decay_only:  # an empty decay_only would decay every parameter
        optimiser = dataclasses.replace(optimiser, decay_only=kept, weight_decay=optimiser.weight_decay if kept else 0.0)
    return dataclasses.replace(config, optimiser=optimiser)


def write_whole_model(folder: Path, model: UtteranceModel, config: TrainConfig) -> None:
    """Replace the head's saved model (as its trainer wrote it, with the kept epoch) by the whole
    model, which holds the head's trained weights and the frozen layers, and the run's settings."""
    info = dataclasses.replace(read_model_info(folder), model=model_config(model), training=config.to_dict())
    write_model(folder, model.state_dict(), info)

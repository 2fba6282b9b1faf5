"""Training settings: JSON round trips and refusal of bad values."""

from __future__ import annotations

import json

import pytest

from serkit.errors import SerkitError
from serkit.training.config import SEED002, SEED003, OptimiserConfig, TrainConfig


@pytest.mark.parametrize("config", [TrainConfig(), SEED002, SEED003])
def test_training_settings_round_trip_through_json(config):
    assert TrainConfig.from_dict(json.loads(config.to_json())) == config


def test_bad_training_settings_are_refused():
    with pytest.raises(SerkitError, match="optimiser"):
        TrainConfig.from_dict({"optimiser": {"name": "adagrad"}})
    with pytest.raises(SerkitError, match="unknown settings"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(SerkitError, match="milestones"):
        TrainConfig.from_dict({"schedule": {"kind": "step", "milestones": [30, 20]}})


def test_momentum_defaults_follow_the_optimiser():
    assert OptimiserConfig(name="sgd").resolved_momentum == 0.9  # seed 002's Nesterov momentum
    assert OptimiserConfig(name="rmsprop").resolved_momentum == 0.0
    assert OptimiserConfig(name="rmsprop", momentum=0.5).resolved_momentum == 0.5

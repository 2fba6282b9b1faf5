"""Recipe values of the wrong type are refused when the recipe is read, naming the setting."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml

from serkit.errors import ConfigError, SerkitError
from serkit.experiments.recipe import Recipe, load_recipe
from serkit.configs import check_types
from serkit.training.config import TrainConfig

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").rglob("*.yaml"))
BASE = next(p for p in RECIPES if p.name == "seed002-cnn_tf-gap.yaml")


def write_recipe(tmp_path: Path, **changes: Any) -> Path:
    """seed002-cnn_tf-gap.yaml with top-level keys, or ``train`` sub-keys, replaced."""
    data = yaml.safe_load(BASE.read_text())
    for key, value in changes.items():
        section, _, name = key.rpartition("__")
        (data.setdefault(section, {}) if section else data)[name] = value
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("changes, message", [
    ({"train__epochs": "ten"}, "train.epochs must be an integer, got 'ten'"),
    ({"train__epochs": True}, "train.epochs must be an integer, got True"),
    ({"train__batch_size": 6.5}, "train.batch_size must be an integer, got 6.5"),
    ({"train__optimiser": {"name": "sgd", "lr": "fast"}}, "train.optimiser.lr must be a number, got 'fast'"),
    ({"train__optimiser": {"name": "adamw"}},
     "train.optimiser.name must be one of 'adam', 'rmsprop', 'sgd', got 'adamw'"),
    ({"train__schedule": {"kind": "step", "milestones": [21, "x"]}},
     r"train.schedule.milestones\[1\] must be an integer, got 'x'"),
    ({"train__waveform_augment": {"gain_db": [1, 2, 3]}},
     r"train.waveform_augment.gain_db must be a list of 2 numbers or null, got \[1, 2, 3\]"),
    ({"train__clip_grad_norm": "high"}, "train.clip_grad_norm must be a number or null, got 'high'"),
    ({"train__class_weights": "yes"}, "train.class_weights must be true or false, got 'yes'"),
    ({"train": [1, 2]}, r"train must be a mapping of TrainConfig settings, got \[1, 2\]"),
    ({"model": 3}, "model must be a string, got 3"),
    ({"model_options": {"n_filters": "8"}}, "model_options.n_filters must be an integer, got '8'"),
    ({"model_options": {"channels": [32, 48.5]}}, r"model_options.channels\[1\] must be an integer, got 48.5"),
    ({"model_options": "wide"}, "model_options must be a mapping, got 'wide'"),
    ({"features": {"logmel": 1}}, r"features must be a string or a list of strings, got \{'logmel': 1\}"),
    ({"fixed_frames": "251"}, "fixed_frames must be an integer or null, got '251'"),
    ({"normalisation": "globl"}, "normalisation must be one of 'global', 'utterance', 'per-speaker', 'none'"),
    ({"segments": {"window": "2s"}}, "segments.window must be a number, got '2s'"),
    ({"ensemble": False}, "ensemble must be an integer, got False"),
    ({"search": {"train.optimiser.lr": [0.05, "x"]}},
     "search.train.optimiser.lr: train.optimiser.lr must be a number, got 'x'"),
])
def test_a_value_of_the_wrong_type_is_refused_naming_the_setting_the_type_and_the_value(
        tmp_path, changes, message):
    path = write_recipe(tmp_path, **changes)
    with pytest.raises(ConfigError, match=message) as caught:
        load_recipe(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_an_integer_is_a_number_and_null_an_optional_value(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path, train__optimiser={"name": "sgd", "lr": 1},
                                      train__clip_grad_norm=None, layer=None))
    assert recipe.train.optimiser.lr == 1 and recipe.train.clip_grad_norm is None


def test_classical_model_options_are_checked_against_their_settings():
    with pytest.raises(ConfigError, match="model_options.c must be a number, got 'one'"):
        Recipe.from_dict({"model": "svm", "features": "egemaps", "model_options": {"c": "one"}})


def test_unknown_keys_are_still_refused_with_the_known_ones():
    with pytest.raises(SerkitError, match=r"unknown recipe keys \['epoch'\]"):
        Recipe.from_dict({"epoch": 3})
    with pytest.raises(SerkitError, match=r"unknown settings \['lrate'\]"):
        Recipe.from_dict({"train": {"optimiser": {"lrate": 0.1}}})


def test_an_empty_train_section_means_the_defaults(tmp_path):
    assert load_recipe(write_recipe(tmp_path, train=None)).train == TrainConfig()


def test_a_recipe_that_is_not_a_mapping_is_refused(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- epochs\n- 3\n")
    with pytest.raises(ConfigError, match="a recipe is a mapping of settings, not list"):
        load_recipe(path)


def test_checkpoints_training_settings_are_checked_too():
    with pytest.raises(ConfigError, match="seed must be an integer, got '0'"):
        TrainConfig.from_dict({"seed": "0"})


@dataclasses.dataclass(frozen=True)
class _Inner:
    mode: Literal["a", "b"] = "a"
    sizes: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True)
class _Outer:
    inner: _Inner | None = None
    names: list[str] = dataclasses.field(default_factory=list)
    table: dict[str, float] = dataclasses.field(default_factory=dict)


@pytest.mark.parametrize("data, message", [
    ({"inner": {"mode": "c"}}, "inner.mode must be one of 'a', 'b', got 'c'"),
    ({"inner": {"mode": True}}, "inner.mode must be one of 'a', 'b', got True"),
    ({"inner": {"sizes": [1, True]}}, r"inner.sizes\[1\] must be an integer, got True"),
    ({"inner": 4}, "inner must be a mapping of _Inner settings or null, got 4"),
    ({"names": ["x", 2]}, r"names\[1\] must be a string, got 2"),
    ({"table": {"x": "y"}}, "table.x must be a number, got 'y'"),
])
def test_the_check_follows_annotations_generically(data, message):
    with pytest.raises(ConfigError, match=message):
        check_types(_Outer, data)
    check_types(_Outer, {"inner": {"mode": "b", "sizes": (1, 2)}, "names": ["x"], "table": {"x": 1}})


def test_the_recipes_are_found():
    assert len(RECIPES) > 40


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_every_committed_recipe_still_loads(path):
    recipe = load_recipe(path)
    assert recipe.name == path.stem


def test_normalisation_is_an_enum_whose_values_are_the_recipes_strings():
    from serkit.features.normalise import Normalisation

    recipe = Recipe.from_dict({"normalisation": "per-speaker"})
    assert recipe.normalisation is Normalisation.PER_SPEAKER and recipe.variant
    assert Recipe().override(normalisation="utterance").normalisation is Normalisation.UTTERANCE
    assert recipe.to_dict()["normalisation"] == "per-speaker"
    assert type(recipe.to_dict()["normalisation"]) is str  # YAML and JSON see the plain string
    with pytest.raises(SerkitError, match="choose from global, utterance, per-speaker, none"):
        Recipe(normalisation="globl")


def test_a_search_sets_a_nested_setting_added_later():
    recipe = Recipe(search={"train.warmup_steps": [0, 10], "train.recalibrate_batch_norm": [False, True]})
    chosen = {(r.train.warmup_steps, r.train.recalibrate_batch_norm) for _, r in recipe.candidates()}
    assert chosen == {(0, False), (0, True), (10, False), (10, True)}
    # unset, it stays out of the hash as before; set, it counts
    hashes = {r.config_hash() for _, r in recipe.candidates()}
    assert len(hashes) == 4 and Recipe().override(epochs=20).config_hash() == Recipe().config_hash()

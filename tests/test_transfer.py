"""Transfer between models: ``init`` copies matching layers, ``freeze: N`` holds the first N still
(weights and batch-norm statistics, bit for bit), and a wrong ``init`` fails before any training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import emodb_subset

from serkit.artifacts import load_weights, read_model_info
from serkit.errors import ConfigError, SerkitError
from serkit.experiments import Recipe, run_cv
from serkit.experiments.train import train_model
from serkit.features.cache import FeatureCache
from serkit.models import build_model
from serkit.models.transfer import copy_matching, freeze, hold_frozen_norms, output_layer
from serkit.training import FeatureDataset, TrainConfig, Trainer, UtteranceClassification

LABELS = ("anger", "happiness", "neutral", "sadness")
SPEAKERS = ("03", "08", "09")


@pytest.mark.parametrize("name, first, last", [
    ("cnn", "convs.0", "head.3"), ("blstm", "rnn", "head.3"), ("cnn_blstm", "convs.0", "head.3"),
    ("cnn_tf_gap", "convs.0", "head"), ("gru", "rnn", "classifier"), ("linear", "classifier", "classifier"),
])
def test_every_model_lists_its_layers_from_input_to_output(name, first, last):
    model = build_model(name, 40, 4)
    names = [n for n, _ in model.layers()]
    assert names[0] == first and names[-1] == last == output_layer(model)
    owned = {p for _, layer in model.layers() for p in layer.parameters()}
    assert owned == set(model.parameters())  # every parameter belongs to exactly one listed layer


def _batch_norm_state(model, prefixes):
    return {k: v.clone() for k, v in model.state_dict().items() if k.split(".")[0] + "." + k.split(".")[1] in prefixes}


def test_frozen_layers_keep_weights_and_running_statistics_bit_for_bit():
    torch.manual_seed(0)
    model = build_model("cnn", 40, 4)
    frozen = freeze(model, 2)
    assert frozen == ["convs.0", "convs.1"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = FeatureDataset.from_arrays([torch.randn(40, 80).numpy() for _ in range(12)], [i % 4 for i in range(12)],
                                      [f"u{i}" for i in range(12)])
    Trainer(model, UtteranceClassification(LABELS), TrainConfig(epochs=2, batch_size=4)).fit(data)
    after = model.state_dict()
    for key, value in before.items():
        same = torch.equal(value, after[key])
        if key.startswith(("convs.0.", "convs.1.")):
            assert same, f"{key} moved although frozen"
    assert not torch.equal(before["convs.2.conv.weight"], after["convs.2.conv.weight"])
    assert not torch.equal(before["convs.2.norm.running_mean"], after["convs.2.norm.running_mean"])


def test_hold_frozen_norms_puts_only_frozen_batch_norm_in_evaluation_mode():
    model = build_model("cnn", 40, 4)
    freeze(model, 1)
    model.train()
    hold_frozen_norms(model)
    assert not model.convs[0].norm.training and model.convs[1].norm.training


def test_copy_matching_leaves_the_output_layer_new_and_refuses_a_model_with_nothing_in_common():
    source, target = build_model("cnn", 40, 4), build_model("cnn", 40, 7)
    copied = copy_matching(target, source.state_dict())
    assert "convs.0.conv.weight" in copied and not any(name.startswith("head.3.") for name in copied)
    assert torch.equal(target.state_dict()["convs.2.norm.running_var"], source.state_dict()["convs.2.norm.running_var"])
    with pytest.raises(SerkitError, match="no layer"):
        copy_matching(build_model("blstm", 40, 4), source.state_dict())
    with pytest.raises(SerkitError, match="freeze: 5 of 5 layers"):
        freeze(build_model("cnn", 40, 4), 5)


@pytest.fixture(scope="module")
def source_model(emodb_root, tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("transfer-source")
    root = emodb_subset(emodb_root, base, SPEAKERS)
    recipe = Recipe(root=str(root), model="cnn", features="logmel-seed001", validation="speakers:1")
    train_model(recipe.override(epochs=1), base / "source", workers=1, threads=1,
                cache=FeatureCache(base / "cache"))
    return base / "source"


def test_a_model_trained_from_another_with_two_frozen_layers(source_model, emodb_root, tmp_path):
    root = emodb_subset(emodb_root, tmp_path, SPEAKERS)
    recipe = Recipe(root=str(root), model="cnn", features="logmel-seed001", validation="speakers:1",
                    init=str(source_model), freeze=2, head_epochs=1).override(epochs=2)
    card = train_model(recipe, tmp_path / "model", workers=1, threads=1, cache=FeatureCache(tmp_path / "cache"))
    init = card["training"]["init"]
    assert init["from"] == str(source_model) and init["frozen"] == ["convs.0", "convs.1"]
    assert init["layers_copied"] == ["convs.0", "convs.1", "convs.2", "head.1"] and init["head_epochs"] == 1
    assert f"initialised from {source_model}" in (tmp_path / "model" / "README.md").read_text()
    assert read_model_info(tmp_path / "model").init["from"] == str(source_model)
    old, new = load_weights(source_model), load_weights(tmp_path / "model")
    for key in old:
        if key.startswith(("convs.0.", "convs.1.")):  # weights and batch-norm statistics alike
            assert torch.equal(old[key], new[key]), key
    assert not torch.equal(old["convs.2.conv.weight"], new["convs.2.conv.weight"])


def test_cross_validation_from_an_initial_model_reports_it(source_model, emodb_root, tmp_path):
    root = emodb_subset(emodb_root, tmp_path, SPEAKERS)
    recipe = Recipe(root=str(root), model="cnn", features="logmel-seed001", protocol="speaker-kfold:3",
                    validation="speakers:1", init=str(source_model), freeze=1).override(epochs=1)
    run_cv(recipe, tmp_path / "run", workers=1, threads=1, cache=FeatureCache(tmp_path / "cache"))
    fold = json.loads((tmp_path / "run" / "folds" / "00" / "predictions.json").read_text())
    assert fold["init"]["frozen"] == ["convs.0"]
    assert f"initialised from {source_model}" in (tmp_path / "run" / "report.md").read_text()


@pytest.mark.parametrize("changes, message", [
    ({"features": "mfcc-seed003"}, "trained on other features"),
    ({"init": "no-such-model"}, "neither a model folder"),
])
def test_a_wrong_init_fails_before_any_features_are_extracted(source_model, emodb_root, tmp_path, changes, message):
    root = emodb_subset(emodb_root, tmp_path, SPEAKERS)
    recipe = Recipe(root=str(root), model="cnn", features="logmel-seed001", validation="speakers:1",
                    init=str(source_model)).override(epochs=1)
    recipe = Recipe.from_dict({**recipe.to_dict(), **changes})
    cache = tmp_path / "cache"
    with pytest.raises(ConfigError, match=f"init: .*{message}"):
        train_model(recipe, tmp_path / "model", workers=1, threads=1, cache=FeatureCache(cache))
    assert not cache.exists() or not any(cache.rglob("*.npy"))


def test_init_with_a_model_that_shares_no_layer_is_one_line(source_model, emodb_root, tmp_path):
    root = emodb_subset(emodb_root, tmp_path, SPEAKERS)
    recipe = Recipe(root=str(root), model="blstm", features="logmel-seed001", validation="speakers:1",
                    init=str(source_model)).override(epochs=1)
    with pytest.raises(ConfigError, match="no layer of the initial model matches"):
        train_model(recipe, tmp_path / "model", workers=1, threads=1, cache=FeatureCache(tmp_path / "cache"))


@pytest.mark.parametrize("fields, message", [
    ({"freeze": 2}, "give init"), ({"head_epochs": 1}, "give init"),
    ({"init": "default", "model": "svm", "features": "egemaps"}, "scikit-learn"),
])
def test_transfer_fields_that_do_not_fit_are_refused_when_the_recipe_is_read(fields, message):
    with pytest.raises(SerkitError, match=message):
        Recipe(**fields)

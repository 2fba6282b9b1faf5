"""`serkit train --from-cv`: a predefined split's fold model published with its own held-out figures."""

from __future__ import annotations

import json

import pytest

from serkit.errors import SerkitError
from serkit.experiments import Recipe, run_cv
from serkit.experiments.publish import publish_fold_model
from serkit.features.cache import FeatureCache
from serkit.inference import load_model

from conftest import emodb_subset


@pytest.fixture(scope="module")
def split_run(emodb_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("publish")
    root = emodb_subset(emodb_root, tmp, ("03", "08", "09", "10", "11"))
    recipe = Recipe(root=str(root), model="blstm", features="loudness", protocol="predefined:speaker=03",
                    validation="predefined:speaker=08", model_options={"hidden": 8}).override(epochs=2)
    summary = run_cv(recipe, tmp / "run", cache=FeatureCache(tmp / "cache"), workers=1, threads=1)
    return recipe, tmp, summary


def test_the_published_model_is_the_folds_own_and_its_card_says_so(split_run):
    recipe, tmp, summary = split_run
    card = publish_fold_model(recipe, tmp / "run", tmp / "model")
    data = card["data"]
    assert data["test_speakers"] == ["03"] and data["validation_speakers"] == ["08"]
    assert data["speakers"] == ["09", "10", "11"]  # the training part only, not the corpus
    assert card["cross_validation"]["pooled"] == summary["pooled"]
    readme = (tmp / "model" / "README.md").read_text()
    assert "held out (predefined" in readme and "test speakers 03" in readme and "published from fold 00" in readme
    fold_model = tmp / "run" / "folds" / "00" / "seed0" / "model"
    assert (tmp / "model" / "model.safetensors").read_bytes() == (fold_model / "model.safetensors").read_bytes()
    # the published model predicts the fold's own test utterances as the run did
    fold = json.loads((tmp / "run" / "folds" / "00" / "predictions.json").read_text())
    model = load_model(tmp / "model")
    predicted = [model.predict_file(path).label for path in fold["ids"][:5]]
    assert predicted == fold["y_pred"][:5]


def test_only_a_one_fold_run_of_the_same_recipe_is_published(split_run, emodb_root):
    recipe, tmp, _ = split_run
    with pytest.raises(SerkitError, match="another configuration"):
        publish_fold_model(recipe.override(seed=3), tmp / "run", tmp / "other")
    loso = Recipe(root=recipe.root, model="svm", features="loudness", protocol="loso")
    run_cv(loso, tmp / "loso", cache=FeatureCache(tmp / "cache"), workers=1)
    with pytest.raises(SerkitError, match="one fold"):
        publish_fold_model(loso, tmp / "loso", tmp / "other")
    assert not (tmp / "other").exists()

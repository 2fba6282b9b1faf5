"""Cross-validation end to end on real EMO-DB: results.json invariants, resume, learning."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from serkit.devices import machine_name
from serkit.errors import SerkitError
from serkit.experiments import Recipe, load_recipe, run_cv
from serkit.features.cache import FeatureCache

from conftest import emodb_subset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def svm_run(emodb_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("svm")
    recipe = Recipe(root=str(emodb_root), model="svm", features="loudness", protocol="loso")
    summary = run_cv(recipe, out / "run", cache=FeatureCache(out / "cache"), workers=1)
    return recipe, out / "run", summary


def test_results_json_invariants(svm_run, emodb_root):
    _, run, summary = svm_run
    on_disk = json.loads((run / "results.json").read_text())
    assert on_disk == summary
    for key in ("protocol", "classes", "folds", "mean", "std", "pooled", "ci95", "confusion",
                "config_hash", "data_hash", "seconds", "cpu_seconds"):
        assert key in summary, key
    # the processor time is the folds' own, each recorded where the fold finished
    fold_cpu = [json.loads(p.read_text())["cpu_seconds"] for p in sorted((run / "folds").glob("*/predictions.json"))]
    assert all(seconds > 0 for seconds in fold_cpu) and summary["cpu_seconds"] == pytest.approx(sum(fold_cpu))
    # and the machine that fitted them: a rerun elsewhere may differ by float rounding
    assert summary["machines"] == [machine_name("cpu")] and "torch 2." in machine_name("cpu")
    assert f"on {machine_name('cpu')}" in (run / "report.md").read_text()
    assert summary["protocol"] == "loso" and summary["speaker_dependent"] is False
    # The test speakers of the folds partition the corpus's speakers.
    tested = [s for fold in summary["folds"] for s in fold["test_speakers"]]
    assert sorted(tested) == sorted({p.name[:2] for p in (emodb_root / "wav").glob("*.wav")})
    assert sum(f["n_test"] for f in summary["folds"]) == summary["n_utterances"] == 339
    for key in ("wa", "ua", "f1"):
        assert summary["mean"][key] == pytest.approx(np.mean([f[key] for f in summary["folds"]]))
    counts = np.asarray(summary["confusion"]["counts"])
    assert summary["pooled"]["ua"] == pytest.approx(np.mean(np.diag(counts) / counts.sum(axis=1)))
    assert summary["pooled"]["wa"] == pytest.approx(np.trace(counts) / counts.sum())
    low, high = summary["ci95"]["ua"]
    assert low <= summary["pooled"]["ua"] <= high
    for name in ("confusion.png", "curves.png", "report.md"):
        assert (run / name).stat().st_size > 0


def test_rerun_resumes_without_refitting(svm_run, emodb_root):
    recipe, run, summary = svm_run
    fold_file = run / "folds" / "00" / "predictions.json"
    stamp = fold_file.stat().st_mtime_ns
    again = run_cv(recipe, run, cache=FeatureCache(run.parent / "cache"), workers=1)
    assert fold_file.stat().st_mtime_ns == stamp
    assert again["pooled"] == summary["pooled"]


def test_a_folder_of_another_configuration_is_refused(svm_run):
    recipe, run, _ = svm_run
    with pytest.raises(SerkitError, match="another configuration"):
        run_cv(recipe.override(features="pitch"), run, workers=1)


def test_the_svm_chooses_its_cost_on_validation_speakers_only(svm_run):
    _, run, _ = svm_run
    fold = json.loads((run / "folds" / "00" / "predictions.json").read_text())
    validation = set(fold["fold"]["groups"]["speaker"]["validation"])
    assert validation and not validation & set(fold["speakers"])
    assert set(fold["chosen"]["validation_ua"]) and fold["chosen"]["c"] > 0


def test_per_speaker_normalisation_is_named_in_the_protocol(emodb_root, tmp_path):
    root = emodb_subset(emodb_root, tmp_path, ("03", "08", "09", "10"))
    recipe = Recipe(root=str(root), model="blstm", features="loudness", normalisation="per-speaker",
                    protocol="speaker-kfold:2", validation="none", model_options={"hidden": 8})
    summary = run_cv(recipe.override(epochs=1), tmp_path / "run", workers=1, threads=1)
    assert "per-speaker" in summary["protocol"]
    assert "per-speaker" in (tmp_path / "run" / "report.md").read_text()


def test_a_development_run_fits_only_the_folds_it_names(svm_run, emodb_root, tmp_path):
    recipe, run, full = svm_run
    subset = Recipe.from_dict(recipe.to_dict() | {"folds": [0, 2]})
    summary = run_cv(subset, tmp_path / "run", workers=1)
    assert [f["test_speakers"] for f in summary["folds"]] == [full["folds"][k]["test_speakers"] for k in (0, 2)]
    assert summary["protocol"] == "loso + folds 0, 2 only" and summary["config_hash"] != full["config_hash"]
    # the same folds fitted alone give what the whole protocol gave them
    assert [f["ua"] for f in summary["folds"]] == [full["folds"][0]["ua"], full["folds"][2]["ua"]]
    with pytest.raises(SerkitError, match="not \\[12\\]"):
        run_cv(Recipe.from_dict(recipe.to_dict() | {"folds": [12]}), tmp_path / "bad", workers=1)
    with pytest.raises(SerkitError, match="different fold indices"):
        Recipe.from_dict(recipe.to_dict() | {"folds": [1, 1]})


def test_folds_fitted_in_parallel_give_the_same_predictions(emodb_root, tmp_path):
    root = emodb_subset(emodb_root, tmp_path, ("03", "08", "09", "10"))
    recipe = Recipe(root=str(root), model="cnn", features="mfcc-seed003", protocol="speaker-kfold:2",
                    validation="speakers:1").override(epochs=2)
    cache = FeatureCache(tmp_path / "cache")
    one = run_cv(recipe, tmp_path / "one", cache=cache, workers=1, threads=1)
    two = run_cv(recipe, tmp_path / "two", cache=cache, workers=1, threads=1, jobs=2)
    for fold in ("00", "01"):
        a, b = (json.loads((tmp_path / run / "folds" / fold / "predictions.json").read_text()) for run in ("one", "two"))
        assert a["y_pred"] == b["y_pred"] and np.allclose(a["scores"], b["scores"], atol=0)
    assert one["pooled"] == two["pooled"]


def test_short_real_training_beats_chance_on_unseen_speakers(emodb_root, tmp_path):
    root = emodb_subset(emodb_root, tmp_path, ("03", "08", "09", "10", "11", "12"))
    recipe = Recipe(root=str(root), model="blstm", features="mfcc-seed003", protocol="speaker-kfold:2",
                    validation="speakers:1")
    summary = run_cv(recipe.override(epochs=8), tmp_path / "run", workers=1, threads=1)
    assert summary["pooled"]["ua"] >= 0.5  # chance is 0.25 on four classes


#: The folders of recipes/ and runs/: what a recipe reproduces (benchmarks/results_table.py's GROUPS).
RECIPE_GROUPS = {"seed000", "seed001", "seed002", "seed003", "seed004", "baselines", "product"}


def test_every_recipe_loads_and_names_its_paper():
    assert not list((REPO / "recipes").glob("*.yaml")), "recipes sit in recipes/<group>/, not at the top"
    recipes = sorted((REPO / "recipes").glob("*/*.yaml"))
    assert recipes
    assert len({p.stem for p in recipes}) == len(recipes), "a recipe name is used in two groups"
    for path in recipes:
        assert path.parent.name in RECIPE_GROUPS, f"{path} is not in a known group"
        recipe = load_recipe(path)
        assert recipe.reproduces, f"{path.name} does not say which paper and table it reproduces"
        assert yaml.safe_load(path.read_text())["name"] == recipe.name


def test_a_bad_recipe_key_is_a_clear_error(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("modle: cnn\n")
    with pytest.raises(SerkitError, match="unknown recipe keys"):
        load_recipe(path)


def test_train_writes_weights_and_a_card_with_cross_validated_figures(emodb_root, tmp_path):
    root = emodb_subset(emodb_root, tmp_path, ("03", "08", "09", "10"))
    recipe = Recipe(root=str(root), model="blstm", features="loudness", protocol="speaker-kfold:2",
                    validation="speakers:1", model_options={"hidden": 8}).override(epochs=2)
    cv = run_cv(recipe, tmp_path / "cv", workers=1, threads=1)
    from serkit.experiments.train import train_model

    card = train_model(recipe, tmp_path / "model", cv_results=tmp_path / "cv" / "results.json",
                       workers=1, threads=1)
    for name in ("model.safetensors", "model.json", "card.json", "README.md"):
        assert (tmp_path / "model" / name).is_file()
    assert card["cross_validation"]["pooled"] == cv["pooled"]
    assert len(card["data"]["validation_speakers"]) == 1
    info = json.loads((tmp_path / "model" / "model.json").read_text())
    assert info["labels"] == ["anger", "happiness", "neutral", "sadness"]
    assert info["normaliser"]["mean"]  # fitted on the training speakers, saved with the model
    with pytest.raises(SerkitError, match="another configuration"):
        train_model(recipe.override(seed=1), tmp_path / "model2", cv_results=tmp_path / "cv" / "results.json")


def test_waveform_augmentation_trains_on_augmented_audio(emodb_root, tmp_path):
    root = emodb_subset(emodb_root, tmp_path, ("03", "08", "09", "10"))
    base = Recipe(root=str(root), model="blstm", features="logmel-seed001", protocol="speaker-kfold:2",
                  validation="none", model_options={"hidden": 8})
    train = base.train.to_dict() | {"epochs": 1, "waveform_augment": {"gain_db": [-3, 6], "tempo": [0.85, 1.15]}}
    augmented = Recipe.from_dict(base.to_dict() | {"train": train, "name": "aug"})
    plain = run_cv(base.override(epochs=1), tmp_path / "plain", workers=1, threads=1)
    noisy = run_cv(augmented, tmp_path / "aug", workers=1, threads=1)
    assert plain["config_hash"] != noisy["config_hash"]
    first = json.loads((tmp_path / "aug" / "folds" / "00" / "predictions.json").read_text())
    plain_first = json.loads((tmp_path / "plain" / "folds" / "00" / "predictions.json").read_text())
    # Same seed, same data order: only the augmentation differs, so the training loss does.
    assert first["members"][0]["history"][0]["train_loss"] != plain_first["members"][0]["history"][0]["train_loss"]


def test_segment_level_training_scores_each_utterance_once(emodb_root, tmp_path):
    from serkit.experiments.recipe import Segments

    root = emodb_subset(emodb_root, tmp_path, ("03", "08", "09"))
    recipe = Recipe(root=str(root), model="blstm", features="loudness", protocol="speaker-kfold:3",
                    validation="none", model_options={"hidden": 8}, segments=Segments(1.0, 0.5, 0.2))
    summary = run_cv(recipe.override(epochs=1), tmp_path / "run", workers=1, threads=1)
    fold = json.loads((tmp_path / "run" / "folds" / "00" / "predictions.json").read_text())
    # Windows are trained on, but every test utterance gets exactly one averaged score.
    assert len(fold["ids"]) == len(set(fold["ids"])) == sum(fold["fold"]["counts"]["test"].values())
    assert summary["n_utterances"] == sum(1 for p in (root / "wav").glob("*.wav")
                                          if p.name[5] in "WFNT")


def test_every_committed_run_carries_its_recipes_current_configuration_hash():
    # A recipe field added later must not change older recipes' hashes: a rerun resumes, and
    # `serkit train --cv-results` accepts the run, only while the hashes agree.
    # Runs mirror recipes: runs/<group>/<name>/ holds the run of recipes/<group>/<name>.yaml.
    assert not list((REPO / "runs").glob("*/results.json")), "runs sit in runs/<group>/<name>/"
    runs = sorted((REPO / "runs").glob("*/*/results.json"))
    for path in runs:
        group, name = path.parent.parent.name, path.parent.name
        # NAME-seedK: the recipe NAME rerun with --seed K (the results tables show them as repeats)
        repeat = re.fullmatch(r"(.+)-seed(\d+)", name)
        if repeat and (REPO / "recipes" / group / f"{repeat[1]}.yaml").exists():
            name, seed = repeat[1], int(repeat[2])
        else:
            seed = None
        recipe = REPO / "recipes" / group / f"{name}.yaml"
        assert recipe.exists(), f"{path.relative_to(REPO)} has no recipe at {recipe.relative_to(REPO)}"
        loaded = load_recipe(recipe) if seed is None else load_recipe(recipe).override(seed=seed)
        assert loaded.config_hash() == json.loads(path.read_text())["config_hash"], path
    assert len(runs) >= 10


def test_a_search_chooses_on_the_recipes_monitor_figure(emodb_root, tmp_path):
    """train.monitor stops training and chooses searched settings alike (here the validation loss)."""
    root = emodb_subset(emodb_root, tmp_path, ("03", "08", "09", "10"))
    data = Recipe(root=str(root), model="blstm", features="mfcc-seed003", protocol="speaker-kfold:2",
                  validation="speakers:1", search={"model_options.hidden": [8, 16]}).override(epochs=1).to_dict()
    data["train"]["monitor"] = "loss"
    run_cv(Recipe.from_dict(data), tmp_path / "run", workers=1, threads=1, cache=FeatureCache(tmp_path / "cache"))
    fold = json.loads((tmp_path / "run" / "folds" / "00" / "predictions.json").read_text())
    tried = {tuple(t["values"].values()): t["validation"] for t in fold["search"]["tried"]}
    member = fold["members"][0]
    kept_loss = member["history"][member["chosen_epoch"] - 1]["validation_loss"]
    assert tried[tuple(fold["search"]["chosen"].values())] == pytest.approx(-kept_loss)
    assert max(tried.values()) == tried[tuple(fold["search"]["chosen"].values())]

"""Transfer between frame models by recipe alone: a phone recognizer's layers under an emotion head
(seed 001's phones -> emotion), the recurrent layer frozen, on real EMO-DB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import emodb_subset

from serkit.artifacts import CvResults, load_weights
from serkit.cli.experiments import _headline
from serkit.errors import SerkitError
from serkit.evaluation import BootstrapConfig
from serkit.experiments import Recipe, run_cv
from serkit.experiments.compare import compare_runs
from serkit.experiments.train import train_model
from serkit.features.cache import FeatureCache

SPEAKERS = ("03", "08", "09", "10")


def frame_recipe(root: Path, frame_target: str, **changes) -> Recipe:
    recipe = Recipe(root=str(root), model="frame_blstm", features="mfcc-seed003", protocol="speaker-kfold:2",
                    validation="speakers:1", task="frame", frame_target=frame_target,
                    model_options={"hidden": 16, "num_layers": 1}, **changes)
    return recipe.override(epochs=2)


@pytest.fixture(scope="module")
def phone_model(emodb_root, tmp_path_factory) -> tuple[Path, Path, FeatureCache]:
    base = tmp_path_factory.mktemp("phones-to-emotion")
    root = emodb_subset(emodb_root, base, SPEAKERS, lablaut=True)
    cache = FeatureCache(base / "cache")
    train_model(frame_recipe(root, "phones"), base / "phones", workers=1, threads=1, cache=cache)
    return root, base / "phones", cache


def test_emotion_frames_start_from_a_phone_model_with_its_recurrent_layer_frozen(phone_model, tmp_path):
    root, phones, cache = phone_model
    recipe = frame_recipe(root, "emotion", init=str(phones), freeze=1)
    card = train_model(recipe, tmp_path / "emotion", workers=1, threads=1, cache=cache)
    init = card["training"]["init"]
    assert init["from"] == str(phones) and init["layers_copied"] == ["rnn"] and init["frozen"] == ["rnn"]
    assert card["frame_classes"] == ["anger", "happiness", "neutral", "sadness", "<unk>"]
    old, new = load_weights(phones), load_weights(tmp_path / "emotion")
    rnn = [key for key in old if key.startswith("rnn.")]
    assert rnn and all(torch.equal(old[key], new[key]) for key in rnn)
    assert old["output.weight"].shape != new["output.weight"].shape  # a new head for the new classes


@pytest.fixture(scope="module")
def emotion_run(phone_model, tmp_path_factory) -> Path:
    """Emotion frames cross-validated from the phone model, its recurrent layer frozen."""
    root, phones, cache = phone_model
    out = tmp_path_factory.mktemp("emotion-frames") / "run"
    run_cv(frame_recipe(root, "emotion", init=str(phones), freeze=1), out, workers=1, threads=1, cache=cache)
    return out


def test_cross_validated_emotion_frames_report_the_frame_error_rate(emotion_run):
    tmp_path = emotion_run.parent
    results = CvResults.read(tmp_path / "run")
    assert results.task == "frame" and results.frame_target == "emotion"
    assert 0.0 <= results.pooled["fer"] <= 1.0
    fold = json.loads((tmp_path / "run" / "folds" / "00" / "predictions.json").read_text())
    assert fold["init"]["frozen"] == ["rnn"]
    # the line `serkit cv` and `serkit grid` print: an emotion frame run has no PER
    headline = _headline(json.loads((tmp_path / "run" / "results.json").read_text()))
    assert "UA" in headline and "FER" in headline and "PER" not in headline


def test_emotion_frame_runs_are_compared_by_their_utterance_decisions(phone_model, emotion_run, tmp_path):
    root, _, cache = phone_model
    scratch = tmp_path / "scratch"
    run_cv(frame_recipe(root, "emotion"), scratch, workers=1, threads=1, cache=cache)
    found = compare_runs([emotion_run], [scratch], bootstrap=BootstrapConfig(n_resamples=200))
    for figure, run in (("candidate", emotion_run), ("baseline", scratch)):
        assert found[figure] == pytest.approx(CvResults.read(run).utterances["pooled"]["ua"])
    assert found["n_speakers"] == 4 and found["protocol"] == "speaker-kfold:2"
    phones = tmp_path / "phones"
    run_cv(frame_recipe(root, "phones"), phones, workers=1, threads=1, cache=cache)
    with pytest.raises(SerkitError, match="without utterance decisions"):
        compare_runs([phones], [scratch])
    # error rates pair the frame runs' utterances: FER for any, PER for phone recognizers only
    fer = compare_runs([emotion_run], [scratch], figure="fer", bootstrap=BootstrapConfig(n_resamples=200))
    assert fer["candidate"] == pytest.approx(CvResults.read(emotion_run).pooled["fer"])
    assert fer["baseline"] == pytest.approx(CvResults.read(scratch).pooled["fer"]) and fer["lower_is_better"]
    same = compare_runs([phones], [phones], figure="per", bootstrap=BootstrapConfig(n_resamples=200))
    assert same["candidate"] == same["baseline"] == pytest.approx(CvResults.read(phones).pooled["per"])
    assert same["difference"] == 0 and same["p_not_better"] == 1.0
    with pytest.raises(SerkitError, match="figure 'pre': choose one of"):
        compare_runs([phones], [scratch], figure="pre")
    with pytest.raises(SerkitError, match="has no PER"):
        compare_runs([emotion_run], [scratch], figure="per")

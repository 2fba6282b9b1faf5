"""Declared label-free adaptation (``serkit predict --adapt``): features standardised by the statistics
of the collection predicted; refused where it means nothing; always said."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import typer
from safetensors.torch import load_file
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

from conftest import write_tiny_corpora
from serkit.audio import remove_dc
from serkit.cli.inference import register
from serkit.errors import SerkitError
from serkit.experiments.recipe import Recipe
from serkit.experiments.train import train_model
from serkit.features.normalise import UTTERANCE_MEANS, Normalisation
from serkit.inference import Predictor, load_model
from serkit.inference.adapt import MIN_SECONDS, AdaptingPredictor


@pytest.fixture(scope="module")
def collection(emodb_wavs, tmp_path_factory) -> tuple[list[Path], list[Path]]:
    """EMO-DB clips making up at least MIN_SECONDS, and the same clips 12 dB quieter."""
    folder = tmp_path_factory.mktemp("quieter")
    clips, quieter, seconds = [], [], 0.0
    for wav in emodb_wavs:
        signal, rate = sf.read(wav)
        clips.append(wav)
        quieter.append(folder / wav.name)
        sf.write(quieter[-1], 0.25 * signal, rate, subtype="FLOAT")
        seconds += len(signal) / rate
        if seconds > MIN_SECONDS + 5:
            return clips, quieter
    raise AssertionError("EMO-DB is shorter than the adaptation minimum")


def test_adapting_standardises_by_the_collection_so_a_quieter_recording_is_predicted_the_same(collection):
    clips, quieter = collection
    default = load_model("default-emodb")  # a CNN on log-mel; global normalisation over EMO-DB's frames
    adapting = AdaptingPredictor(default)
    adapted, adapted_quieter = adapting.predict_files(clips), adapting.predict_files(quieter)
    assert all(p.ok for p in adapted + adapted_quieter)
    # a gain shifts every log-mel band by a constant, which the collection's statistics take out
    # (but where quiet frames reach the log's floor)
    assert [p.label for p in adapted] == [p.label for p in adapted_quieter]
    plain, plain_quieter = default.predict_files(clips), default.predict_files(quieter)

    def moved(one: list, other: list) -> float:
        return max(abs(a.probabilities[k] - b.probabilities[k]) for a, b in zip(one, other) for k in default.labels)

    assert moved(adapted, adapted_quieter) < moved(plain, plain_quieter) / 4
    seconds = sum(sf.info(clip).duration for clip in clips)  # short clips: each is one piece, whole
    assert adapted[0].to_dict()["adaptation"] == {"label_free": True, "files": len(clips),
                                                  "seconds": pytest.approx(seconds, abs=0.1)}
    assert "adaptation" not in plain[0].to_dict()


def test_a_scikit_learn_model_adapts_its_scaler_to_the_collections_utterance_means(collection):
    """The shipped default (Whisper tiny.en layer 2, mean-pooled, logistic regression) kept its
    scaler apart: adapted, its scores are those of scikit-learn's scaler refitted on the
    collection's pooled vectors, then the same linear layer."""
    clips, _ = collection
    default = load_model("default")
    assert default.spec.normaliser.fitted_on == UTTERANCE_MEANS
    adapted = AdaptingPredictor(default).predict_files(clips)
    feature = default.spec.feature
    signals = [sf.read(clip, dtype="float32") for clip in clips]  # less their DC offset, as prediction reads them
    pooled = np.stack([feature.compute(remove_dc(signal, rate)).mean(axis=1) for signal, rate in signals])
    state = load_file(str(Path(default.spec.source) / "model.safetensors"))
    weights, bias = state["classifier.weight"].numpy(), state["classifier.bias"].numpy()
    scores = StandardScaler().fit_transform(pooled) @ weights.T + bias
    expected = np.exp(scores - scores.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    got = np.array([[p.probabilities[k] for k in default.labels] for p in adapted])
    np.testing.assert_allclose(got, expected, atol=1e-4)
    plain = np.array([[p.probabilities[k] for k in default.labels] for p in default.predict_files(clips)])
    assert np.abs(plain - got).max() > 0.01  # the collection's statistics are not the training corpora's


def test_adapting_is_refused_where_it_means_nothing(collection):
    clips, _ = collection
    default = load_model("default")
    with pytest.raises(SerkitError, match=f"at least {MIN_SECONDS:g} s"):
        AdaptingPredictor(default).predict_file(clips[0])
    unnormalised = Predictor(dataclasses.replace(default.spec, normalisation=Normalisation.NONE, normaliser=None),
                             default.backend)
    with pytest.raises(SerkitError, match="no statistics to adapt"):
        AdaptingPredictor(unnormalised)


def test_a_per_corpus_model_predicts_only_a_collection_adapted_to(tmp_path):
    roots = write_tiny_corpora(tmp_path / "corpora")
    recipe = Recipe(corpus=["emodb", "nemo"], roots={c: roots[c] for c in ("emodb", "nemo")}, model="blstm",
                    features="logmel-seed001", normalisation="per-corpus", validation="none",
                    model_options={"hidden": 4})
    train_model(recipe.override(epochs=1), tmp_path / "model", workers=1, threads=1)
    files = sorted(Path(roots["ased"]).rglob("*.wav"))
    plain = load_model(tmp_path / "model").predict_files(files)
    assert not any(p.ok for p in plain) and "--adapt" in plain[0].error
    adapted = AdaptingPredictor(load_model(tmp_path / "model"), min_seconds=5.0).predict_files(files)
    assert all(p.ok for p in adapted) and adapted[0].adaptation["files"] == len(files)


def test_the_command_says_adaptation_was_on(collection):
    clips, _ = collection
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    result = runner.invoke(app, ["predict", *map(str, clips), "--adapt", "--format", "json"])
    assert result.exit_code == 0, result.output
    elements = json.loads(result.stdout)
    assert all(e["adaptation"]["files"] == len(clips) for e in elements)
    assert "label-free adaptation on" in result.output
    rows = list(csv.DictReader(io.StringIO(
        runner.invoke(app, ["predict", *map(str, clips), "--adapt", "--format", "csv"]).stdout)))
    assert all(row["adaptation"].startswith(f"label-free: {len(clips)} files") for row in rows)
    refused = runner.invoke(app, ["predict", str(clips[0]), "--adapt"])
    assert refused.exit_code == 1 and "at least" in refused.output

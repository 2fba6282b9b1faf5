"""Seed 003's augmented copies computed once: the copy feature, the dataset that hands copies out,
the engine's draws among them, and a cross-validation run on real EMO-DB that trains on them."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import soundfile as sf

from serkit.audio.perturb import perturb
from serkit.errors import ConfigError, SerkitError
from serkit.experiments import Recipe, run_cv
from serkit.features.augmented import AugmentedCopy, AugmentedCopyConfig, augmented_copies, copy_rng
from serkit.features.base import feature_from_dict
from serkit.features.cache import FeatureCache
from serkit.features.presets import get_feature
from serkit.training import (AugmentedCopies, OptimiserConfig, TrainConfig, Trainer,
                             UtteranceClassification, WaveformAugmentConfig, build_seeded)

from conftest import emodb_subset
from test_training_engine import LABELS, UtteranceNet, utterance_data

RATE = 16_000


def speechlike(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) +
            0.01 * rng.standard_normal(t.size)).astype(np.float32)


def test_a_copy_is_its_part_of_the_perturbed_signal_and_the_same_every_time():
    part = get_feature("logmel-seed001")
    one, two = augmented_copies(part, 2, gain_db=(-3.0, 6.0), tempo=(0.85, 1.15))
    signal = speechlike()
    expected = part.compute(perturb(signal, RATE, (-3.0, 6.0), (0.85, 1.15), copy_rng(signal, 1)))
    np.testing.assert_array_equal(one.process_signal(signal), expected)
    np.testing.assert_array_equal(one.process_signal(signal.copy()), one.process_signal(signal))
    # another copy draws another tempo: another length (or, by chance, the same length but other values)
    a, b = one.process_signal(signal), two.process_signal(signal)
    assert a.shape != b.shape or not np.allclose(a, b)
    # the tempo changes the duration: frames within the span's limits
    frames = part.compute(signal).shape[1]
    assert frames / 1.15 - 2 <= a.shape[1] <= frames / 0.85 + 2
    # another signal, other draws
    assert copy_rng(signal, 1).uniform() != copy_rng(speechlike(seed=1), 1).uniform()


def test_a_copy_feature_is_saved_and_keyed_by_its_settings(tmp_path):
    part = get_feature("mfcc-seed003")
    copy = augmented_copies(part, 1, gain_db=(-3.0, 6.0), tempo=None)[0]
    again = feature_from_dict(json.loads(json.dumps(copy.to_dict())))
    assert again == copy and again.config_hash() == copy.config_hash()
    assert copy.grid == part.grid
    others = [augmented_copies(part, 2, gain_db=(-3.0, 6.0), tempo=None)[1],
              augmented_copies(part, 1, gain_db=(-3.0, 3.0), tempo=None)[0],
              augmented_copies(get_feature("mfcc-seed003:n_mfcc=20"), 1, gain_db=(-3.0, 6.0), tempo=None)[0]]
    assert len({copy.config_hash(), *(o.config_hash() for o in others)}) == 4
    # cached like any feature: a second extraction reads the entry
    path = tmp_path / "a.wav"
    sf.write(path, speechlike(), RATE)
    cache = FeatureCache(tmp_path / "cache")
    first = cache.get(copy, path)
    assert cache.load(copy, cache.digest(path)) is not None
    np.testing.assert_array_equal(cache.get(copy, path), first)


@pytest.mark.parametrize("settings, message", [
    ({"copy": 0}, "copy must be a number from 1"),
    ({"gain_db": None, "tempo": None}, "needs a gain span"),
    ({"tempo": (1.1, 0.9)}, "tempo must be"),
    ({"tempo": (0.0, 1.1)}, "positive"),
    ({"part": {"family": "nonesuch"}}, "unknown feature family"),
])
def test_bad_copy_settings_are_refused(settings, message):
    config = dataclasses.replace(AugmentedCopyConfig(part=get_feature("loudness").to_dict()), **settings)
    with pytest.raises(ConfigError, match=message):
        AugmentedCopy(config)


def test_the_dataset_hands_out_the_copy_asked_for():
    data = utterance_data(3, 0)
    copies = [[dataclasses.replace(e, features=e.features + k, id=f"{e.id}#copy{k}") for k in (1, 2)]
              for e in data.items]
    dataset = AugmentedCopies(data.items, copies)
    assert dataset.n_copies == 2
    assert dataset.example(1) is data.items[1] and dataset.example(1, 0) is data.items[1]
    np.testing.assert_array_equal(dataset.example(1, 2).features, data.items[1].features + 2)
    assert dataset.example(1, 2).group == data.items[1].id  # a copy scores as its utterance
    with pytest.raises(SerkitError, match="as many sets of copies"):
        AugmentedCopies(data.items, copies[:2])
    with pytest.raises(SerkitError, match="feature dimensions"):
        AugmentedCopies(data.items, [[dataclasses.replace(c, features=c.features[:2]) for c in row]
                                     for row in copies])


def test_training_draws_among_the_copies_reproducibly():
    data = utterance_data(24, 0)
    # copy k of an item carries its class signal k times stronger: the loss sees which were drawn
    copies = [[dataclasses.replace(e, features=e.features * (1 + k), id=f"{e.id}#copy{k}") for k in (1, 2, 3)]
              for e in data.items]
    dataset = AugmentedCopies(data.items, copies)
    config = TrainConfig(epochs=2, batch_size=8, optimiser=OptimiserConfig(name="adam", lr=0.02),
                         waveform_augment=WaveformAugmentConfig(gain_db=(-3.0, 6.0), copies=3))

    def fit(dataset_):
        trainer = Trainer(build_seeded(lambda: UtteranceNet(4, 3), 0), UtteranceClassification(LABELS), config,
                          threads=1)
        return trainer.fit(dataset_).history

    first, again = fit(dataset), fit(dataset)
    assert [r["train_loss"] for r in first] == [r["train_loss"] for r in again]
    plain = Trainer(build_seeded(lambda: UtteranceNet(4, 3), 0), UtteranceClassification(LABELS),
                    dataclasses.replace(config, waveform_augment=WaveformAugmentConfig()), threads=1)
    assert [r["train_loss"] for r in plain.fit(data).history] != [r["train_loss"] for r in first]
    with pytest.raises(SerkitError, match="precomputed copies"):
        Trainer(UtteranceNet(4, 3), UtteranceClassification(LABELS), config).fit(data)
    fewer = AugmentedCopies(data.items, [row[:2] for row in copies])
    with pytest.raises(SerkitError, match="precomputed copies"):
        Trainer(UtteranceNet(4, 3), UtteranceClassification(LABELS), config).fit(fewer)


def test_copies_settings_are_checked():
    with pytest.raises(SerkitError, match="copies must be"):
        WaveformAugmentConfig(gain_db=(-3.0, 6.0), copies=0)
    with pytest.raises(SerkitError, match="need a gain span"):
        WaveformAugmentConfig(copies=2)
    assert WaveformAugmentConfig(gain_db=(1.0, 2.0)).fresh
    assert not WaveformAugmentConfig(gain_db=(1.0, 2.0), copies=2).fresh


def test_a_run_trains_on_copies_extracted_once(emodb_root, tmp_path):
    root = emodb_subset(emodb_root, tmp_path, ("03", "08", "09", "10"))
    base = Recipe(root=str(root), model="gru", features="mfcc-seed003", protocol="speaker-kfold:2",
                  validation="none", normalisation="utterance", model_options={"hidden": 8, "num_layers": 1})
    train = base.train.to_dict() | {"epochs": 2, "waveform_augment": {"gain_db": [-3, 6], "tempo": [0.85, 1.15],
                                                                      "copies": 2}}
    recipe = Recipe.from_dict(base.to_dict() | {"train": train, "name": "copies"})
    cache = FeatureCache(tmp_path / "cache")
    summary = run_cv(recipe, tmp_path / "run", cache=cache, workers=1, threads=1)
    assert summary["config_hash"] != run_cv(base.override(epochs=2), tmp_path / "plain", cache=cache, workers=1,
                                            threads=1)["config_hash"]
    # both copies of every file were cached once: two more folders beside the plain feature's
    assert len(list((tmp_path / "cache" / "augmented").iterdir())) == 2
    for folder in (tmp_path / "cache" / "augmented").iterdir():  # every utterance trains in one fold
        assert len(list(folder.glob("*/*.npy"))) == summary["n_utterances"]
    first = json.loads((tmp_path / "run" / "folds" / "00" / "predictions.json").read_text())
    plain = json.loads((tmp_path / "plain" / "folds" / "00" / "predictions.json").read_text())
    assert first["members"][0]["history"][1]["train_loss"] != plain["members"][0]["history"][1]["train_loss"]

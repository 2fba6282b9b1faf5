"""``training_share``: a learning curve against the amount of data, without touching what is tested."""

from __future__ import annotations

import json

import numpy as np
import pytest

from serkit.corpora import read_corpus, select_classes
from serkit.errors import SerkitError
from serkit.experiments import Recipe, run_cv
from serkit.features.cache import FeatureCache
from serkit.protocols import make_folds, with_training_share


@pytest.fixture(scope="module")
def emodb(emodb_root):
    return read_corpus("emodb", str(emodb_root))


def test_a_share_keeps_that_part_of_every_training_speaker_and_nothing_else_moves(emodb):
    folds = make_folds(emodb, "loso", "speakers:2", seed=0)
    for fold in folds[:3]:
        thin = with_training_share(emodb, fold, 0.25, seed=0)
        assert (thin.validation, thin.test) == (fold.validation, fold.test)
        assert set(thin.train) < set(fold.train)
        assert set(thin.dropped) == set(fold.dropped) | (set(fold.train) - set(thin.train))
        speakers = emodb.speaker.to_numpy()
        for speaker in fold.groups["speaker"]["train"]:
            before = sum(speakers[list(fold.train)] == speaker)
            assert sum(speakers[list(thin.train)] == speaker) == int(np.ceil(0.25 * before))
        assert thin.groups["speaker"]["train"] == fold.groups["speaker"]["train"]
        assert sum(thin.counts["train"].values()) == len(thin.train)
        assert with_training_share(emodb, fold, 0.25, seed=0) == thin  # the same draw again
        assert with_training_share(emodb, fold, 0.25, seed=1).train != thin.train
    assert with_training_share(emodb, folds[0], 1.0, seed=0) is folds[0]


def test_a_share_must_be_a_share():
    for share in (0, -0.5, 1.5):
        with pytest.raises(SerkitError, match="training_share"):
            Recipe(training_share=share)
    assert Recipe().config_hash() == Recipe(training_share=1.0).config_hash()  # older hashes stay valid
    assert Recipe().config_hash() != Recipe(training_share=0.5).config_hash()


def test_cross_validation_trains_on_the_share_and_tests_on_everything(emodb_root, emodb, tmp_path):
    recipe = Recipe(root=str(emodb_root), model="svm", features="loudness", protocol="loso", training_share=0.5)
    summary = run_cv(recipe, tmp_path / "half", cache=FeatureCache(tmp_path / "cache"), workers=1)
    assert summary["n_utterances"] == 339 and sum(f["n_test"] for f in summary["folds"]) == 339
    fold = json.loads((tmp_path / "half" / "folds" / "00" / "predictions.json").read_text())["fold"]
    table = select_classes(emodb, "4class")
    full = make_folds(table, "loso", "speakers", seed=0)[0]
    per_speaker = table.speaker.iloc[list(full.train)].value_counts()
    assert fold["sizes"]["train"] == sum(int(np.ceil(0.5 * n)) for n in per_speaker)
    assert summary["config"]["training_share"] == 0.5


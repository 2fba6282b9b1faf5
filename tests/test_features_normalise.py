"""Normalisation per utterance, with fitted global statistics, and the per-speaker variant."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from serkit.errors import SerkitError
from serkit.features.normalise import (
    PER_SPEAKER,
    GlobalNormaliser,
    SpeakerNormaliser,
    UtteranceNormaliser,
    normalise_utterance,
)


def utterances(seed: int, n: int = 6, dims: int = 5, offset: float = 0.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 20, (dims, 1))
    return [
        (offset + scale * rng.standard_normal((dims, rng.integers(1, 80)))).astype(np.float32)
        for _ in range(n)
    ]


def test_utterance_normalisation_equals_numpy():
    x = utterances(0, n=1)[0] + 100
    out = UtteranceNormaliser().transform(x)
    x64 = x.astype(np.float64)
    expected = (x64 - x64.mean(axis=1, keepdims=True)) / x64.std(axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=1), 1, atol=1e-5)
    assert UtteranceNormaliser.variant is None
    with pytest.raises(SerkitError):
        UtteranceNormaliser().transform(x[:, 0])  # a functional has no time axis


def test_global_statistics_are_those_of_the_training_frames_only():
    train = utterances(1)
    test = utterances(2, offset=50.0)
    normaliser = GlobalNormaliser().fit(train)
    pooled = np.concatenate(train, axis=1).astype(np.float64)
    np.testing.assert_allclose(normaliser.mean, pooled.mean(axis=1), rtol=1e-10)
    np.testing.assert_allclose(normaliser.std, pooled.std(axis=1), rtol=1e-10)
    assert normaliser.count == pooled.shape[1]
    # the test utterances changed nothing; transforming them uses the training figures
    out = normaliser.transform(test[0])
    expected = (test[0] - pooled.mean(axis=1, keepdims=True)) / pooled.std(axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    assert abs(out.mean()) > 1, "test data far from the training mean stays far"
    # a generator works too: fit reads its input once
    again = GlobalNormaliser().fit(a for a in train)
    np.testing.assert_array_equal(again.mean, normaliser.mean)


def test_global_normaliser_on_functionals_and_batches():
    rng = np.random.default_rng(4)
    vectors = [rng.normal(3, 2, 7) for _ in range(30)]
    normaliser = GlobalNormaliser().fit(vectors)
    stacked = np.stack(vectors)
    np.testing.assert_allclose(normaliser.mean, stacked.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(normaliser.std, stacked.std(axis=0), rtol=1e-10)
    # a (batch, dims) batch of functionals, even a square one, is normalised per column
    square = stacked[:7]
    np.testing.assert_allclose(
        normaliser.transform(square), (square - stacked.mean(0)) / stacked.std(0), rtol=1e-5
    )
    frames = GlobalNormaliser().fit(utterances(5, dims=4))
    batch = np.stack([u[:, :1] for u in utterances(6, dims=4)])  # (batch, dims, frames)
    np.testing.assert_allclose(
        frames.transform(batch)[2], frames.transform(batch[2]), rtol=1e-6
    )
    with pytest.raises(SerkitError):
        frames.transform(np.zeros((3, 10)))  # 3 dims, fitted on 4


def test_constant_dimension_is_centred_not_divided_by_zero():
    data = [np.vstack([np.full(10, 4.0), np.arange(10.0)])]
    out = GlobalNormaliser().fit(data).transform(data[0])
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[0], 0.0)


def test_mixed_layouts_and_empty_input_are_refused():
    with pytest.raises(SerkitError):
        GlobalNormaliser().fit([np.zeros((3, 4)), np.zeros(3)])
    with pytest.raises(SerkitError):
        GlobalNormaliser().fit([np.zeros((3, 4)), np.zeros((2, 4))])
    with pytest.raises(SerkitError):
        GlobalNormaliser().fit([])
    with pytest.raises(SerkitError):
        GlobalNormaliser().transform(np.zeros((3, 4)))  # not fitted


def test_global_normaliser_save_load_round_trip(tmp_path):
    normaliser = GlobalNormaliser().fit(utterances(7))
    path = tmp_path / "normaliser.json"
    normaliser.save(path)
    data = json.loads(path.read_text())  # plain JSON, no pickle
    assert data["kind"] == "global" and len(data["mean"]) == 5
    loaded = GlobalNormaliser.load(path)
    np.testing.assert_array_equal(loaded.mean, normaliser.mean)
    np.testing.assert_array_equal(loaded.std, normaliser.std)
    x = utterances(8, n=1)[0]
    np.testing.assert_array_equal(loaded.transform(x), normaliser.transform(x))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SerkitError, match="bad.json"):
        GlobalNormaliser.load(tmp_path / "bad.json")


def test_per_speaker_normalisation_is_a_declared_variant(caplog):
    arrays = utterances(9, n=6)
    speakers = ["03", "08", "03", "08", "08", "10"]
    normaliser = SpeakerNormaliser()
    with caplog.at_level(logging.WARNING, logger="serkit.features.normalise"):
        out = normaliser.fit_transform(arrays, speakers)
    assert PER_SPEAKER in caplog.text
    assert normaliser.variant == PER_SPEAKER == "per-speaker"
    assert normaliser.tag("UA") == "UA[per-speaker]"
    assert GlobalNormaliser().tag("UA") == "UA"
    for speaker in set(speakers):
        own = [a for a, s in zip(arrays, speakers) if s == speaker]
        pooled = np.concatenate(own, axis=1).astype(np.float64)
        got = np.concatenate([o for o, s in zip(out, speakers) if s == speaker], axis=1)
        expected = (pooled - pooled.mean(1, keepdims=True)) / pooled.std(1, keepdims=True)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(SerkitError, match="single-file"):
        normaliser.transform(arrays[0], "16")  # a speaker it has no recordings of
    with pytest.raises(SerkitError, match="global normaliser"):
        normaliser.save("unused.json")
    with pytest.raises(SerkitError):
        normaliser.fit(arrays, speakers[:-1])


def test_normalise_utterance_function_handles_batches():
    batch = np.random.default_rng(10).normal(5, 3, (3, 4, 20))
    out = normalise_utterance(batch)
    for i in range(batch.shape[0]):
        np.testing.assert_allclose(out[i], normalise_utterance(batch[i]), rtol=1e-6)

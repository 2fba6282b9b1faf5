"""Training data: the resumable sampler, windows, padding and combining windows' scores."""

from __future__ import annotations

import numpy as np
import pytest

from serkit.errors import SerkitError
from serkit.training.data import (
    Example,
    FeatureDataset,
    Recording,
    WaveformDataset,
    collate,
    combine_groups,
)
from serkit.training.sampler import EpochSampler
from serkit.training.tasks import UtteranceClassification

TASK = UtteranceClassification(("a", "b"))


def _dataset(lengths, dims: int = 3) -> FeatureDataset:
    rng = np.random.default_rng(0)
    features = [rng.standard_normal((dims, n)).astype(np.float32) for n in lengths]
    n = len(lengths)
    return FeatureDataset.from_arrays(features, [i % 2 for i in range(n)], [f"x{i}" for i in range(n)])


def test_each_epoch_is_a_seeded_permutation_in_batches():
    sampler = EpochSampler(sizes=[1] * 23, batch_size=5, seed=7)
    assert len(sampler) == 5
    first, second = sampler.order(0), sampler.order(1)
    for batches in (first, second):
        assert sorted(np.concatenate(batches).tolist()) == list(range(23))
        assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))
    again = EpochSampler(sizes=[1] * 23, batch_size=5, seed=7).order(1)
    assert all(np.array_equal(a, b) for a, b in zip(second, again))
    other = EpochSampler(sizes=[1] * 23, batch_size=5, seed=8).order(1)
    assert not all(np.array_equal(a, b) for a, b in zip(second, other))


def test_the_sampler_resumes_from_its_position():
    whole = EpochSampler(sizes=[1] * 17, batch_size=4, seed=1)
    whole.next_epoch()
    expected = [b.tolist() for b in whole]
    assert whole.epoch_done

    interrupted = EpochSampler(sizes=[1] * 17, batch_size=4, seed=1)
    interrupted.next_epoch()
    iterator = iter(interrupted)
    taken = [next(iterator).tolist(), next(iterator).tolist()]
    state = interrupted.state_dict()
    assert state == {"epoch": 1, "batch": 2}

    resumed = EpochSampler(sizes=[1] * 17, batch_size=4, seed=1)
    resumed.load_state_dict(state)
    assert taken + [b.tolist() for b in resumed] == expected


def test_sortagrad_sorts_the_first_epoch_only():
    sizes = [5, 1, 4, 1, 3, 9, 2]
    sampler = EpochSampler(sizes, batch_size=3, seed=0, sort_first_epoch=True)
    first = np.concatenate(sampler.order(0))
    assert [sizes[i] for i in first] == sorted(sizes)
    assert first.tolist()[:2] == [1, 3]  # ties keep their order
    later = np.concatenate(sampler.order(1))
    assert [sizes[i] for i in later] != sorted(sizes)


def test_windows_cover_each_utterance_keep_true_lengths_and_name_their_utterance():
    dataset = _dataset([10, 25, 4])
    windows = dataset.windows(window=8, hop=4)
    by_group: dict[str, list[Example]] = {}
    for example in windows.items:
        by_group.setdefault(example.group, []).append(example)
    assert list(by_group) == dataset.ids
    for original in dataset.items:
        pieces = by_group[original.id]
        covered = np.zeros(original.length, dtype=bool)
        for piece in pieces:
            start = int(piece.id.rsplit("@", 1)[1])
            assert piece.length == min(8, original.length)
            np.testing.assert_array_equal(piece.features, original.features[:, start : start + piece.length])
            assert piece.target == original.target
            covered[start : start + piece.length] = True
        assert covered.all()
    assert len(by_group["x2"]) == 1 and by_group["x2"][0].length == 4  # short: one unpadded window


def test_collate_pads_with_zeros_and_keeps_lengths():
    dataset = _dataset([3, 6, 1])
    batch = collate(dataset.items, TASK)
    assert batch.x.shape == (3, 3, 6)
    assert batch.lengths.tolist() == [3, 6, 1]
    for i, example in enumerate(dataset.items):
        np.testing.assert_array_equal(batch.x[i, :, : example.length].numpy(), example.features)
        assert (batch.x[i, :, example.length :] == 0).all()
    assert batch.targets.values.tolist() == [0, 1, 0]
    mixed = [dataset.items[0], Example(np.zeros((4, 2)), 0, "other")]
    with pytest.raises(SerkitError, match="mixes feature dimensions"):
        collate(mixed, TASK)


def test_combine_groups_averages_in_order_of_first_appearance():
    ids, scores = combine_groups(
        ["b", "a", "b", "a", "c"],
        [np.array([1.0]), np.array([2.0]), np.array([3.0]), np.array([6.0]), np.array([5.0])],
        lambda s: np.mean(s, axis=0),
    )
    assert ids == ["b", "a", "c"]
    assert [s.item() for s in scores] == [2.0, 4.0, 5.0]


def test_waveform_dataset_extracts_after_augmentation_and_keeps_plain_features():
    calls = []

    def extract(signal):
        calls.append(signal.size)
        return np.stack([signal[::10], -signal[::10]])

    rng = np.random.default_rng(0)
    data = WaveformDataset([Recording(rng.standard_normal(400), 1, "r0")], extract, 8000)
    plain = data.example(0)
    assert data.example(0) is plain and calls == [400]  # computed once
    louder = data.example(0, augment=lambda s: 2 * s)
    np.testing.assert_allclose(louder.features, 2 * plain.features, rtol=1e-6)
    assert calls == [400, 400]
    windows = data.windows(window_s=0.02, hop_s=0.01)  # 160 and 80 samples
    assert windows.groups == ["r0"] * len(windows) and len(windows) == 4
    assert data.size(0) == 400 and windows.size(0) == 160


def test_bad_items_are_refused_with_their_id():
    with pytest.raises(SerkitError, match="x0"):
        Example(np.zeros(5), 0, "x0")
    with pytest.raises(SerkitError, match="twice"):
        FeatureDataset([Example(np.zeros((2, 3)), 0, "x"), Example(np.zeros((2, 3)), 0, "x")])
    with pytest.raises(SerkitError, match="dimensions"):
        FeatureDataset([Example(np.zeros((2, 3)), 0, "x"), Example(np.zeros((3, 3)), 0, "y")])
    with pytest.raises(SerkitError, match="r1"):
        Recording(np.zeros((2, 10)), 0, "r1")
    with pytest.raises(SerkitError, match="fixed"):
        _dataset([3]).example(0, augment=lambda s: s)

"""Frame stacking, context windows as views, fixed lengths and segmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from serkit.features.base import FrameGrid
from serkit.features.shaping import (
    SEED002_TEST,
    SEED002_TRAIN,
    context_windows,
    fix_length,
    fixed_inputs,
    segment,
    stack_frames,
)


def features(dims: int, frames: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((dims, frames)).astype(np.float32)


@pytest.mark.parametrize("n_samples", [0, 159, 640, 641, 12_345, 16_000, 16_159])
def test_stacking_4_frames_gives_the_40ms_grid(n_samples):
    frames = FrameGrid(hop=160).n_frames(n_samples)
    x = features(3, frames, seed=n_samples)
    out = stack_frames(x, 4)
    assert out.shape == (12, FrameGrid(hop=640).n_frames(n_samples))
    for j in range(out.shape[1]):
        for k in range(4):
            source = min(4 * j + k, frames - 1)  # edge padding repeats the last frame
            np.testing.assert_array_equal(out[3 * k : 3 * k + 3, j], x[:, source])


def test_stacking_batches_and_zero_padding():
    x = np.stack([features(2, 7, seed=s) for s in range(3)])
    out = stack_frames(x, 3, pad="zeros")
    assert out.shape == (3, 6, 3)
    np.testing.assert_array_equal(out[1], stack_frames(x[1], 3, pad="zeros"))
    np.testing.assert_array_equal(out[:, 2:, 2], 0)  # frames 7 and 8 do not exist


def test_context_windows_are_centred_with_edge_padding():
    x = features(4, 20)
    n = 7
    w = context_windows(x, n)
    assert w.shape == (20, 4, 7)
    for i in range(20):
        for j in range(n):
            np.testing.assert_array_equal(w[i, :, j], x[:, np.clip(i - 3 + j, 0, 19)])
    zeros = context_windows(x, n, pad="zeros")
    np.testing.assert_array_equal(zeros[0, :, :3], 0)
    np.testing.assert_array_equal(zeros[0, :, 3:], x[:, :4])


def test_context_windows_are_views_not_copies():
    x = features(40, 300)
    inner = context_windows(x, 31, pad=None)
    assert inner.shape == (270, 40, 31)
    assert np.shares_memory(inner, x)
    np.testing.assert_array_equal(inner[5], x[:, 5:36])
    padded = context_windows(x, 31)
    # one padded copy of 330 frames underlies all 300 windows: neighbours share memory
    assert np.shares_memory(padded[0], padded[1])
    assert padded.base is not None and padded.base.base is not None
    assert not padded.flags.writeable  # a strided view must not be written through
    batch = np.stack([x, x + 1])
    windows = context_windows(batch, 31)
    assert windows.shape == (2, 300, 40, 31)
    np.testing.assert_array_equal(windows[1], padded + 1)


def test_context_windows_on_torch_tensors():
    x = features(5, 40)
    t = torch.from_numpy(x)
    inner = context_windows(t, 9, pad=None)
    assert inner.untyped_storage().data_ptr() == t.untyped_storage().data_ptr()
    for pad in ("edge", "zeros"):
        got = context_windows(torch.from_numpy(np.stack([x, 2 * x])), 9, pad=pad)
        np.testing.assert_array_equal(got[0].numpy(), context_windows(x, 9, pad=pad))
        np.testing.assert_array_equal(got[1].numpy(), context_windows(2 * x, 9, pad=pad))


def test_fix_length_pads_at_the_end_or_crops():
    x = features(3, 10)
    padded = fix_length(x, 14)
    np.testing.assert_array_equal(padded[:, :10], x)
    np.testing.assert_array_equal(padded[:, 10:], 0)
    np.testing.assert_array_equal(fix_length(x, 14, pad="edge")[:, 10:], np.repeat(x[:, 9:], 4, 1))
    np.testing.assert_array_equal(fix_length(x, 4), x[:, 3:7])
    np.testing.assert_array_equal(fix_length(x, 4, crop="start"), x[:, :4])
    same = fix_length(x, 10)
    assert np.shares_memory(same, x) and np.array_equal(same, x)  # cropping is a view
    with pytest.raises(ValueError):
        fix_length(x, 4, crop="end")


def test_seed000_fixed_inputs():
    short = features(129, 180)
    one = fixed_inputs(short, 251)
    assert one.shape == (1, 129, 251)
    np.testing.assert_array_equal(one[0, :, 180:], 0)
    long = features(129, 700)
    cropped = fixed_inputs(long, 251)
    np.testing.assert_array_equal(cropped[0], long[:, 224:475])
    split = fixed_inputs(long, 251, rule="split")
    assert split.shape == (3, 129, 251)
    np.testing.assert_array_equal(split[0], long[:, :251])
    np.testing.assert_array_equal(split[-1], long[:, -251:])
    covered = np.zeros(700, bool)
    for piece in split:
        start = int(np.flatnonzero((long[0] == piece[0, 0]))[0])
        np.testing.assert_array_equal(piece, long[:, start : start + 251])
        covered[start : start + 251] = True
    assert covered.all()
    with pytest.raises(ValueError):
        fixed_inputs(long, 251, rule="loop")


def test_segments_with_the_shift_rule_cover_every_frame():
    x = features(2, 530)
    seg = segment(x, 200, 100, grid=FrameGrid(hop=160))
    np.testing.assert_array_equal(seg.starts, [0, 100, 200, 300, 330])
    np.testing.assert_allclose(seg.times, [0.0, 1.0, 2.0, 3.0, 3.3])
    assert seg.windows.shape == (5, 2, 200)
    for window, start in zip(seg.windows, seg.starts):
        np.testing.assert_array_equal(window, x[:, start : start + 200])


def test_segments_with_pad_and_drop_rules():
    x = features(2, 530)
    padded = segment(x, 200, 100, last="pad")
    np.testing.assert_array_equal(padded.starts, [0, 100, 200, 300, 400])
    np.testing.assert_array_equal(padded.windows[-1][:, :130], x[:, 400:])
    np.testing.assert_array_equal(padded.windows[-1][:, 130:], 0)
    dropped = segment(x, 200, 100, last="drop")
    np.testing.assert_array_equal(dropped.starts, [0, 100, 200, 300])
    assert dropped.times is None
    exact = segment(features(2, 500), 200, 100)  # last full window ends on the last frame
    np.testing.assert_array_equal(exact.starts, [0, 100, 200, 300])
    short = segment(features(2, 120), 200, 100)
    assert short.windows.shape == (1, 2, 200)
    np.testing.assert_array_equal(short.windows[0, :, 120:], 0)


def test_seed002_rules_in_frames():
    grid = FrameGrid(hop=160)
    assert SEED002_TRAIN.frames(grid) == (200, 100)
    assert SEED002_TEST.frames(grid) == (200, 40)
    x = features(400, grid.n_frames(16_000 * 3))  # 3 s: 301 frames
    test = SEED002_TEST.apply(x, grid)
    np.testing.assert_array_equal(test.starts, [0, 40, 80, 101])
    np.testing.assert_allclose(test.times, [0.0, 0.4, 0.8, 1.01])

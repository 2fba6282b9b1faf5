"""Checkpoints: round trips, and a crash at any point of a write leaves the last complete one."""

from __future__ import annotations

import json
import os

import pytest
import torch

from serkit.artifacts import ModelInfo, load_weights, read_model_info, write_model
from serkit.errors import SerkitError
from serkit.training import checkpoint as ckpt


def _weights(seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    shared = torch.randn(3, 4, generator=generator)
    return {"a.weight": shared, "b.weight": shared, "steps": torch.tensor(seed, dtype=torch.int64)}


def _write(root, seed: int):
    state = {"sampler": {"epoch": seed, "batch": 2}, "rng": {"torch": torch.get_rng_state()}}
    return ckpt.write_checkpoint(
        root, weights=_weights(seed), best_weights=_weights(seed + 100), info=ModelInfo(training={"seed": seed}), state=state
    )


def _assert_complete(root, seed: int) -> None:
    loaded = ckpt.read_checkpoint(ckpt.latest_checkpoint(root))
    for key, value in _weights(seed).items():
        assert torch.equal(loaded.weights[key], value)
    assert torch.equal(loaded.best_weights["a.weight"], _weights(seed + 100)["a.weight"])
    assert loaded.info == ModelInfo(training={"seed": seed})
    assert loaded.state["sampler"] == {"epoch": seed, "batch": 2}


def test_a_checkpoint_reads_back_what_was_written_and_only_the_latest_is_kept(tmp_path):
    assert ckpt.latest_checkpoint(tmp_path) is None
    first = _write(tmp_path, 1)
    _assert_complete(tmp_path, 1)
    second = _write(tmp_path, 2)
    _assert_complete(tmp_path, 2)
    assert second.name > first.name and not first.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([ckpt.LATEST, second.name])


@pytest.mark.parametrize("failing_file", [ckpt.WEIGHTS, ckpt.BEST_WEIGHTS, ckpt.STATE])
def test_a_crash_while_writing_a_file_leaves_the_previous_checkpoint(tmp_path, monkeypatch, failing_file):
    _write(tmp_path, 1)
    real_write = ckpt.write_flushed

    def crash(path, data):
        if path.name == failing_file:
            real_write(path, data[: len(data) // 2])  # half a file on disk, then the process dies
            raise KeyboardInterrupt
        real_write(path, data)

    monkeypatch.setattr(ckpt, "write_flushed", crash)
    with pytest.raises(KeyboardInterrupt):
        _write(tmp_path, 2)
    _assert_complete(tmp_path, 1)
    monkeypatch.setattr(ckpt, "write_flushed", real_write)
    _write(tmp_path, 3)  # the next write sweeps the leftovers
    _assert_complete(tmp_path, 3)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(ckpt.TEMPORARY_PREFIX)]


@pytest.mark.parametrize("which", [0, 1])
def test_a_crash_at_either_rename_leaves_a_complete_checkpoint(tmp_path, monkeypatch, which):
    _write(tmp_path, 1)
    real_replace = os.replace
    calls = []

    def crash(source, target):
        calls.append(target)
        if len(calls) == which + 1:
            raise KeyboardInterrupt
        real_replace(source, target)

    monkeypatch.setattr(ckpt.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        _write(tmp_path, 2)
    # before the folder rename, or before the pointer moved: the old one is still the latest
    _assert_complete(tmp_path, 1)
    monkeypatch.setattr(ckpt.os, "replace", real_replace)
    _write(tmp_path, 3)
    _assert_complete(tmp_path, 3)


def test_a_broken_pointer_or_file_is_an_error_that_names_it(tmp_path):
    (tmp_path / ckpt.LATEST).write_text(json.dumps({"name": "ckpt-000009"}))
    with pytest.raises(SerkitError, match="ckpt-000009"):
        ckpt.latest_checkpoint(tmp_path)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not safetensors")
    with pytest.raises(SerkitError, match="bad.safetensors"):
        load_weights(bad)


def test_a_saved_model_round_trips(tmp_path):
    weights = _weights(5)
    write_model(tmp_path / "model", weights, ModelInfo(task={"labels": ["a", "b"]}))
    loaded = load_weights(tmp_path / "model")
    assert all(torch.equal(loaded[k], v) for k, v in weights.items())
    assert read_model_info(tmp_path / "model") == ModelInfo(task={"labels": ["a", "b"]})

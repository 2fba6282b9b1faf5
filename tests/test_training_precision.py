"""``TrainConfig.precision``: training, batch-norm recalibration and evaluation under CPU bf16
autocast, with weights and optimiser in float32; float32 as before where it is unset."""

from __future__ import annotations

import contextlib
import dataclasses
import logging

import pytest
import torch

from serkit.errors import SerkitError
from serkit.training import TrainConfig, Trainer, UtteranceClassification, build_seeded, distributed

from test_training_engine import FAST, LABELS, NormFirstNet, utterance_data


def _train(precision: str | None) -> tuple[Trainer, list[torch.dtype]]:
    """A small CNN fitted under ``precision``, and the dtype of every output its convolution gave."""
    model = build_seeded(lambda: NormFirstNet(4, 3), 0)
    dtypes: list[torch.dtype] = []
    model.body.conv.register_forward_hook(lambda module, inputs, output: dtypes.append(output.dtype))
    config = TrainConfig(epochs=8, batch_size=8, optimiser=FAST, recalibrate_batch_norm=True, precision=precision)
    trainer = Trainer(model, UtteranceClassification(LABELS), config, threads=1)
    trainer.fit(utterance_data(80, 1), utterance_data(40, 2))
    return trainer, dtypes


def test_bfloat16_trains_and_scores_in_bf16_keeps_float32_weights_and_still_learns():
    trainer, dtypes = _train("bfloat16")
    # per epoch: 10 steps, 10 recalibration batches, 2 validation batches
    assert len(dtypes) == 8 * (10 + 10 + 2) and set(dtypes) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    dtypes.clear()
    assert trainer.evaluate(utterance_data(60, 3))["ua"] > 0.8  # chance is 1/3
    assert set(dtypes) == {torch.bfloat16}

    plain, plain_dtypes = _train(None)  # the CPU's own: float32, other numbers from the same seed
    assert set(plain_dtypes) == {torch.float32}
    assert not torch.equal(plain.model.body.conv.weight, trainer.model.body.conv.weight)


def test_the_device_decides_where_precision_is_unset():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert isinstance(distributed.autocast(cpu), contextlib.nullcontext)
    assert isinstance(distributed.autocast(cpu, "float32"), contextlib.nullcontext)
    assert isinstance(distributed.autocast(cuda, "float32"), contextlib.nullcontext)
    with pytest.warns(UserWarning) if not torch.cuda.is_available() else contextlib.nullcontext():
        assert isinstance(distributed.autocast(cuda), torch.autocast)  # CUDA trains in bf16 unless told


def test_emulated_bfloat16_is_warned_of(monkeypatch, caplog):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    with caplog.at_level(logging.WARNING, logger="serkit.training.distributed"):
        distributed.autocast_for(torch.device("cpu"), "bfloat16")
    assert "no native bf16" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="serkit.training.distributed"):
        distributed.autocast_for(torch.device("cpu"), "float32")
    assert not caplog.text


def test_precision_is_recorded_only_where_set_and_checked():
    assert "precision" not in TrainConfig().to_dict()  # older recipe hashes and checkpoints hold
    bf16 = TrainConfig(precision="bfloat16")
    assert bf16.to_dict()["precision"] == "bfloat16"
    assert TrainConfig.from_dict(bf16.to_dict()) == bf16
    assert dataclasses.replace(bf16, precision=None) == TrainConfig()
    with pytest.raises(SerkitError, match="precision"):
        TrainConfig.from_dict({"precision": "float16"})

"""The training engine on synthetic targets: learning, determinism, model choice, resume.

The models here are small stand-ins defined in the test (the engine must not
depend on serkit's models): an utterance classifier, a frame classifier and a
frame-level regressor, all ``forward(x, lengths)``.  The SIGKILL test runs a
training in a subprocess that imports this module (``run_child``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch
from torch import nn

from serkit.errors import SerkitError
from serkit.training import (
    EarlyStoppingConfig,
    FeatureDataset,
    FrameClassification,
    OptimiserConfig,
    Recording,
    Regression,
    ScheduleConfig,
    SpecAugmentConfig,
    TrainConfig,
    Trainer,
    UtteranceClassification,
    WaveformAugmentConfig,
    WaveformDataset,
    build_seeded,
)
from serkit.artifacts import load_weights, read_model_info
from serkit.training import engine
from serkit.training.checkpoint import latest_checkpoint, read_checkpoint
from serkit.training.tasks import inverse_frequency_weights

TESTS = Path(__file__).resolve().parent
LABELS = ("a", "b", "c")
FAST = OptimiserConfig(name="adam", lr=0.02)


# -- small models ---------------------------------------------------------------


def _mask(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    return (torch.arange(x.shape[-1])[None, :] < lengths[:, None]).unsqueeze(1).to(x.dtype)


class UtteranceNet(nn.Module):
    """Convolution, dropout, masked mean over time, linear: logits ``(batch, classes)``."""

    def __init__(self, dims: int, classes: int, hidden: int = 16):
        super().__init__()
        self.conv = nn.Conv1d(dims, hidden, 3, padding=1)
        self.drop = nn.Dropout(0.2)
        self.out = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = _mask(x, lengths)
        hidden = self.drop(torch.relu(self.conv(x * mask))) * mask
        return self.out(hidden.sum(-1) / lengths[:, None].to(x.dtype))


class FrameNet(nn.Module):
    """Per-frame logits ``(batch, frames, classes)``."""

    def __init__(self, dims: int, classes: int, hidden: int = 16):
        super().__init__()
        self.conv = nn.Conv1d(dims, hidden, 3, padding=1)
        self.out = nn.Conv1d(hidden, classes, 1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.conv(x * _mask(x, lengths)))).transpose(1, 2)


class RegressionNet(nn.Module):
    """Per-frame values ``(batch, frames, 1)``."""

    def __init__(self, dims: int, hidden: int = 8):
        super().__init__()
        self.conv = nn.Conv1d(dims, hidden, 5, padding=2)
        self.out = nn.Conv1d(hidden, 1, 1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.conv(x * _mask(x, lengths)))).transpose(1, 2)


# -- synthetic data ---------------------------------------------------------------


def utterance_data(n: int, seed: int, dims: int = 4, weights=(1, 1, 1), shuffle_labels: bool = False):
    """Class ``c`` raises feature dimension ``c``; lengths vary from 12 to 40 frames."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, size=n, p=np.asarray(weights) / np.sum(weights))
    features = []
    for label in labels:
        x = rng.standard_normal((dims, int(rng.integers(12, 41)))).astype(np.float32)
        x[label] += 1.5
        features.append(x)
    if shuffle_labels:  # targets unrelated to the features: nothing to learn
        labels = rng.permutation(labels)
    return FeatureDataset.from_arrays(features, labels.tolist(), [f"u{seed}-{i}" for i in range(n)])


def frame_data(n: int, seed: int, dims: int = 4):
    """Runs of 3-9 frames of one class; the class raises its dimension in those frames."""
    rng = np.random.default_rng(seed)
    features, targets = [], []
    for _ in range(n):
        runs = [np.full(rng.integers(3, 10), rng.integers(0, 3)) for _ in range(rng.integers(3, 7))]
        target = np.concatenate(runs).astype(np.int64)
        x = rng.standard_normal((dims, len(target))).astype(np.float32)
        x[target, np.arange(len(target))] += 2.0
        features.append(x)
        targets.append(target)
    return FeatureDataset.from_arrays(features, targets, [f"f{seed}-{i}" for i in range(n)])


def regression_data(n: int, seed: int):
    """A smooth per-frame target: a 5-frame moving average of one feature dimension, shifted."""
    rng = np.random.default_rng(seed)
    features, targets = [], []
    for _ in range(n):
        x = rng.standard_normal((2, int(rng.integers(30, 80)))).astype(np.float32)
        target = 0.8 * np.convolve(np.pad(x[0], 2), np.ones(5) / 5, mode="valid") + 0.3
        features.append(x)
        targets.append(target.astype(np.float32))
    return FeatureDataset.from_arrays(features, targets, [f"r{seed}-{i}" for i in range(n)])


SAMPLE_RATE = 8000
TONES = (300.0, 900.0, 2000.0)


def band_energies(signal: np.ndarray) -> np.ndarray:
    """Log energies in 8 bands of 256-sample frames: a small stand-in for a feature extractor."""
    frames = librosa.util.frame(np.pad(signal, 128), frame_length=256, hop_length=128)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(256)[:, None], axis=0))[:128]
    return np.log(spectrum.reshape(8, 16, -1).mean(axis=1) + 1e-6).astype(np.float32)


def waveform_data(n: int, seed: int) -> WaveformDataset:
    """Tones of a class-specific pitch in noise, 0.25-0.5 s at 8 kHz."""
    rng = np.random.default_rng(seed)
    recordings = []
    for i in range(n):
        label = int(rng.integers(0, 3))
        t = np.arange(int(rng.integers(2000, 4000))) / SAMPLE_RATE
        tone = rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * TONES[label] * t)
        recordings.append(Recording(tone + 0.05 * rng.standard_normal(t.size), label, f"w{seed}-{i}"))
    return WaveformDataset(recordings, band_energies, SAMPLE_RATE)


def weights_of(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# -- learning -----------------------------------------------------------------------


def test_learns_an_utterance_target():
    model = build_seeded(lambda: UtteranceNet(4, 3), 0)
    config = TrainConfig(epochs=8, batch_size=8, optimiser=FAST)
    trainer = Trainer(model, UtteranceClassification(LABELS), config, threads=1)
    result = trainer.fit(utterance_data(80, 1), utterance_data(40, 2))
    assert result.selection == "best-validation"
    assert trainer.evaluate(utterance_data(60, 3))["ua"] > 0.8  # chance is 1/3


def test_learns_a_frame_target_with_padding_masked():
    model = build_seeded(lambda: FrameNet(4, 3), 0)
    config = TrainConfig(epochs=8, batch_size=8, optimiser=FAST)
    trainer = Trainer(model, FrameClassification(LABELS), config, threads=1)
    trainer.fit(frame_data(60, 1), frame_data(30, 2))
    test = frame_data(30, 3)
    figures = trainer.evaluate(test)
    assert figures["ua"] > 0.8
    predictions = trainer.predict(test)
    # one label per valid frame: padding never becomes a prediction
    assert [len(p) for p in predictions.predictions] == [len(t) for t in test.targets]


@pytest.mark.parametrize("loss", ["ccc", "mse"])
def test_learns_a_frame_level_regression_target(loss):
    model = build_seeded(lambda: RegressionNet(2), 0)
    config = TrainConfig(epochs=12, batch_size=8, optimiser=FAST)
    trainer = Trainer(model, Regression(("arousal",), loss_name=loss), config, threads=1)
    result = trainer.fit(regression_data(48, 1), regression_data(24, 2))
    assert result.monitor == "ccc"
    assert trainer.evaluate(regression_data(24, 3))["ccc"] > 0.8


# -- determinism --------------------------------------------------------------------


def _noisy_config(seed: int, **overrides) -> TrainConfig:
    """Dropout, shuffling and SpecAugment all draw: a config where a seed matters everywhere."""
    spec = SpecAugmentConfig(time_masks=1, time_width=6, freq_masks=1, freq_width=1)
    return TrainConfig(epochs=3, batch_size=8, seed=seed, optimiser=FAST, spec_augment=spec, **overrides)


def _train(tmp_path: Path, name: str, seed: int) -> tuple[dict[str, torch.Tensor], str]:
    model = build_seeded(lambda: UtteranceNet(4, 3), seed)
    task = UtteranceClassification(LABELS)
    trainer = Trainer(model, task, _noisy_config(seed), out_dir=tmp_path / name, threads=1)
    trainer.fit(utterance_data(40, 1), utterance_data(20, 2))
    return weights_of(model), (tmp_path / name / "log.csv").read_text()


def test_same_seed_gives_identical_weights_and_log_and_another_seed_does_not(tmp_path):
    weights_a, log_a = _train(tmp_path, "a", seed=3)
    weights_b, log_b = _train(tmp_path, "b", seed=3)
    assert_same_weights(weights_a, weights_b)
    assert log_a == log_b
    weights_c, log_c = _train(tmp_path, "c", seed=4)
    assert any(not torch.equal(weights_a[k], weights_c[k]) for k in weights_a)
    assert log_a != log_c


def test_fit_leaves_global_torch_state_as_it_was():
    model = UtteranceNet(4, 3)
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    trainer = Trainer(model, UtteranceClassification(LABELS), TrainConfig(epochs=1), threads=1)
    trainer.fit(utterance_data(10, 1))
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()


# -- early stopping and model choice -------------------------------------------------


def test_early_stopping_and_the_kept_weights_follow_the_validation_part():
    model = build_seeded(lambda: UtteranceNet(4, 3), 0)
    stopping = EarlyStoppingConfig(patience=2)
    config = TrainConfig(epochs=40, batch_size=8, optimiser=FAST, early_stopping=stopping)
    trainer = Trainer(model, UtteranceClassification(LABELS), config, threads=1)
    validation = utterance_data(30, 2, shuffle_labels=True)  # its figure wanders: it must stop
    result = trainer.fit(utterance_data(40, 1), validation)
    ua = [row["validation_ua"] for row in result.history]
    assert result.stop_reason == "early-stopping"
    assert result.epochs_run < 40
    assert [row["improved"] for row in result.history[-2:]] == [False, False]
    assert result.chosen_epoch == int(np.argmax(ua)) + 1
    assert result.best_score == max(ua)
    # the weights kept are the chosen epoch's: scoring them again gives its figure
    assert trainer.evaluate(validation)["ua"] == max(ua)


def test_monitor_loss_keeps_the_epoch_of_lowest_validation_loss():
    model = build_seeded(lambda: UtteranceNet(4, 3), 0)
    config = TrainConfig(epochs=6, batch_size=8, optimiser=OptimiserConfig(lr=0.2), monitor="loss")
    trainer = Trainer(model, UtteranceClassification(LABELS), config, threads=1)
    validation = utterance_data(20, 2)
    result = trainer.fit(utterance_data(40, 1), validation)
    losses = [row["validation_loss"] for row in result.history]
    assert result.chosen_epoch == int(np.argmin(losses)) + 1
    assert trainer.evaluate(validation)["loss"] == pytest.approx(min(losses), rel=1e-6)


def test_without_validation_nothing_stops_and_the_last_epoch_is_kept(tmp_path):
    model = build_seeded(lambda: UtteranceNet(4, 3), 0)
    config = TrainConfig(epochs=3, batch_size=8, early_stopping=EarlyStoppingConfig(patience=1))
    result = Trainer(model, UtteranceClassification(LABELS), config, out_dir=tmp_path, threads=1).fit(
        utterance_data(20, 1)
    )
    assert (result.selection, result.chosen_epoch, result.epochs_run) == ("last-epoch", 3, 3)
    assert result.monitor is None and result.best_score is None
    assert read_model_info(tmp_path / "model").selection["rule"] == "last-epoch"
    last = read_checkpoint(latest_checkpoint(tmp_path / "checkpoints"))
    assert last.best_weights is None
    assert_same_weights(load_weights(tmp_path / "model"), last.weights)
    assert_same_weights(load_weights(tmp_path / "model"), weights_of(model))

    plateau = TrainConfig(schedule=ScheduleConfig(kind="plateau"))
    with pytest.raises(SerkitError, match="validation part"):
        Trainer(model, UtteranceClassification(LABELS), plateau).fit(utterance_data(10, 1))


# -- schedules, clipping, class weights -----------------------------------------------


def test_step_schedule_changes_the_rate_at_the_milestone_epochs():
    model = build_seeded(lambda: UtteranceNet(4, 3), 0)
    config = TrainConfig(
        epochs=5,
        batch_size=10,
        optimiser=OptimiserConfig(name="sgd", lr=0.1, weight_decay=1e-4),
        schedule=ScheduleConfig(kind="step", milestones=(3, 5), gamma=0.1),
        clip_grad_norm=1.0,
    )
    result = Trainer(model, UtteranceClassification(LABELS), config, threads=1).fit(utterance_data(20, 1))
    assert [row["lr"] for row in result.history] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001])


def test_exponential_schedule_divides_the_rate_each_epoch():
    model = build_seeded(lambda: UtteranceNet(4, 3), 0)
    config = TrainConfig(epochs=4, batch_size=10, optimiser=OptimiserConfig(name="sgd", lr=3e-4, momentum=0.9),
                         schedule=ScheduleConfig(kind="exponential", gamma=1 / 1.1))
    result = Trainer(model, UtteranceClassification(LABELS), config, threads=1).fit(utterance_data(20, 1))
    assert [row["lr"] for row in result.history] == pytest.approx([3e-4 / 1.1 ** k for k in range(4)])


def test_warm_up_scales_the_first_steps_and_leaves_the_schedule_alone():
    from serkit.training.optim import warmed_up_step

    weight = nn.Parameter(torch.zeros(1))
    sgd = torch.optim.SGD([weight], lr=0.5)
    moves = []
    for step in range(1, 6):
        before = weight.item()
        weight.grad = torch.ones(1)
        warmed_up_step(sgd, step, warmup_steps=4)
        moves.append(before - weight.item())
        assert sgd.param_groups[0]["lr"] == 0.5  # restored for the schedule
    assert moves == pytest.approx([0.125, 0.25, 0.375, 0.5, 0.5])
    config = TrainConfig(epochs=2, batch_size=10, optimiser=OptimiserConfig(name="sgd", lr=0.5, momentum=0.9))

    def fit(c):
        model = build_seeded(lambda: UtteranceNet(4, 3), 0)
        return Trainer(model, UtteranceClassification(LABELS), c, threads=1).fit(utterance_data(20, 1)).history

    plain, warm = fit(config), fit(dataclasses.replace(config, warmup_steps=3))
    assert [r["lr"] for r in plain] == [r["lr"] for r in warm] == [0.5, 0.5]
    assert plain[0]["train_loss"] != warm[0]["train_loss"]


def test_plateau_annealing_stops_at_the_learning_rate_floor():
    model = build_seeded(lambda: UtteranceNet(4, 3), 0)
    schedule = ScheduleConfig(kind="plateau", patience=0, factor=0.1, stop_below=1e-4)
    rmsprop = OptimiserConfig(name="rmsprop", lr=1e-2)
    config = TrainConfig(epochs=40, batch_size=10, optimiser=rmsprop, schedule=schedule)
    trainer = Trainer(model, UtteranceClassification(LABELS), config, threads=1)
    result = trainer.fit(utterance_data(20, 1), utterance_data(20, 2, shuffle_labels=True))
    rates = [row["lr"] for row in result.history]
    assert result.stop_reason == "learning-rate-floor"
    assert result.epochs_run < 40
    assert all(later <= earlier for earlier, later in zip(rates, rates[1:]))
    assert rates[-1] == pytest.approx(1e-3)  # the last epoch ran at 1e-3, then the rate fell to the floor


def test_plateau_grace_epochs_keep_the_rate():
    """With shuffled validation labels nothing improves: patience 0 cuts the rate every epoch, but
    not in the first ``grace`` epochs."""
    rmsprop = OptimiserConfig(name="rmsprop", lr=1e-2)

    def rates(grace):
        model = build_seeded(lambda: UtteranceNet(4, 3), 0)
        schedule = ScheduleConfig(kind="plateau", patience=0, factor=0.1, grace=grace)
        config = TrainConfig(epochs=6, batch_size=10, optimiser=rmsprop, schedule=schedule)
        trainer = Trainer(model, UtteranceClassification(LABELS), config, threads=1)
        history = trainer.fit(utterance_data(20, 1), utterance_data(20, 2, shuffle_labels=True)).history
        return [row["lr"] for row in history]

    plain, graced = rates(0), rates(3)
    assert graced[:4] == [1e-2] * 4  # epochs 1-3 uncounted: the first cut can come after epoch 4
    assert graced[-1] < 1e-2 and plain[3] < graced[3]
    with pytest.raises(SerkitError, match="grace"):
        ScheduleConfig(kind="plateau", grace=-1)
    with pytest.raises(SerkitError, match="needs kind plateau"):
        ScheduleConfig(kind="step", milestones=(3,), grace=2)


def test_class_weights_come_from_training_labels(tmp_path):
    train = utterance_data(60, 1, weights=(8, 1, 1))
    model = build_seeded(lambda: UtteranceNet(4, 3), 0)
    config = TrainConfig(epochs=1, class_weights=True)
    Trainer(model, UtteranceClassification(LABELS), config, out_dir=tmp_path, threads=1).fit(train)
    saved = read_model_info(tmp_path / "model").task["class_weights"]
    counts = np.bincount(train.targets, minlength=3)
    assert saved == pytest.approx(inverse_frequency_weights(counts).tolist())
    assert saved[0] < saved[1]  # the frequent class counts less

    with pytest.raises(SerkitError, match="classification"):
        Trainer(RegressionNet(2), Regression(("v",)), config).fit(regression_data(4, 1))


def test_epoch_figures_go_to_tensorboard_when_it_is_installed(tmp_path, monkeypatch):
    class Writer:  # stands in for torch.utils.tensorboard.SummaryWriter
        def __init__(self):
            self.scalars, self.closed = [], False

        def add_scalar(self, key, value, step):
            self.scalars.append((key, step))

        def close(self):
            self.closed = True

    writer = Writer()
    monkeypatch.setattr(engine, "tensorboard_writer", lambda out_dir: writer)
    model = build_seeded(lambda: UtteranceNet(4, 3), 0)
    trainer = Trainer(model, UtteranceClassification(LABELS), TrainConfig(epochs=2), out_dir=tmp_path)
    trainer.fit(utterance_data(10, 1), utterance_data(6, 2))
    assert ("validation_ua", 2) in writer.scalars and ("train_loss", 1) in writer.scalars
    assert writer.closed


def test_progress_reports_steps():
    calls = []
    model = build_seeded(lambda: UtteranceNet(4, 3), 0)
    config = TrainConfig(epochs=2, batch_size=7)
    task = UtteranceClassification(LABELS)
    trainer = Trainer(model, task, config, progress=lambda done, total: calls.append((done, total)))
    trainer.fit(utterance_data(20, 1))
    assert calls == [(step, 6) for step in range(1, 7)]  # 3 batches of up to 7 per epoch


# -- segments (seed 002) ---------------------------------------------------------------


def test_windows_train_and_an_utterance_is_scored_by_its_windows_mean():
    train, validation = utterance_data(40, 1).windows(16, 8), utterance_data(12, 2).windows(16, 4)
    assert len(validation) > 12
    model = build_seeded(lambda: UtteranceNet(4, 3), 0)
    config = TrainConfig(epochs=2, optimiser=FAST)
    trainer = Trainer(model, UtteranceClassification(LABELS), config, threads=1)
    trainer.fit(train, validation)
    predictions = trainer.predict(validation)
    assert list(predictions.ids) == list(dict.fromkeys(validation.groups))  # one per utterance
    model.eval()
    for utterance, score in zip(predictions.ids, predictions.scores):
        windows = [e for e in validation.items if e.group == utterance]
        with torch.no_grad():
            logits = [model(torch.from_numpy(w.features)[None], torch.tensor([w.length])) for w in windows]
        alone = [torch.softmax(x, -1)[0].numpy() for x in logits]
        np.testing.assert_allclose(score, np.mean(alone, axis=0), rtol=1e-5, atol=1e-6)
    assert trainer.evaluate(validation).keys() >= {"wa", "ua", "f1", "loss"}


def test_augmentation_is_refused_where_it_cannot_apply():
    config = TrainConfig(epochs=1, waveform_augment=WaveformAugmentConfig(gain_db=(-3.0, 6.0)))
    with pytest.raises(SerkitError, match="WaveformDataset"):
        Trainer(UtteranceNet(4, 3), UtteranceClassification(LABELS), config).fit(utterance_data(4, 1))
    tempo = TrainConfig(epochs=1, waveform_augment=WaveformAugmentConfig(tempo=(0.9, 1.1)))
    with pytest.raises(SerkitError, match="misalign"):
        Trainer(FrameNet(8, 3), FrameClassification(LABELS), tempo).fit(waveform_data(4, 1))


# -- resuming -------------------------------------------------------------------------------


def resume_config() -> TrainConfig:
    """Every random draw on: shuffling, dropout, waveform gain and tempo, SpecAugment."""
    return TrainConfig(
        epochs=3,
        batch_size=4,
        seed=11,
        optimiser=FAST,
        schedule=ScheduleConfig(kind="step", milestones=(3,)),
        waveform_augment=WaveformAugmentConfig(gain_db=(-3.0, 6.0), tempo=(0.85, 1.15)),
        spec_augment=SpecAugmentConfig(time_masks=1, time_width=4, freq_masks=1, freq_width=2),
        checkpoint_every=2,
    )


def resume_trainer(out_dir: Path, progress=None) -> Trainer:
    model = build_seeded(lambda: UtteranceNet(8, 3), 11)
    task = UtteranceClassification(LABELS)
    return Trainer(model, task, resume_config(), out_dir=out_dir, progress=progress, threads=1)


def run_child(out_dir: str) -> None:
    """The run that gets killed: slowed down so the parent can kill it mid-epoch."""
    resume_trainer(Path(out_dir), progress=lambda done, total: time.sleep(0.03)).fit(
        waveform_data(40, 1), waveform_data(12, 2)
    )


def _checkpoint_position(out_dir: Path) -> dict | None:
    try:
        path = latest_checkpoint(out_dir / "checkpoints")
        return None if path is None else json.loads((path / "model.json").read_text())["checkpoint"]["position"]
    except (OSError, ValueError, SerkitError):  # pruned or being written just then
        return None


def test_a_run_killed_mid_epoch_resumes_to_bit_identical_weights(tmp_path):
    killed = tmp_path / "killed"
    code = (
        f"import sys; sys.path.insert(0, {str(TESTS)!r}); "
        f"import test_training_engine as t; t.run_child({str(killed)!r})"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    batches = 10  # 40 recordings in batches of 4
    try:
        # generous: on a machine busy with other runs the child takes minutes to get there
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and child.poll() is None:
            position = _checkpoint_position(killed)
            if position and position["epoch"] == 1 and 2 <= position["batch"] <= 6:
                break
            time.sleep(0.01)
        else:
            assert child.poll() is not None, "no mid-epoch checkpoint within 300 s"
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL

    train, validation = waveform_data(40, 1), waveform_data(12, 2)
    resumed = resume_trainer(killed)
    result = resumed.fit(train, validation)
    assert result.resumed_from_step is not None
    assert result.resumed_from_step % batches != 0  # it resumed inside an epoch
    assert result.resumed_from_step > batches
    assert result.earlier_seconds > 0  # the killed call's time, up to its last checkpoint
    assert result.earlier_cpu_seconds > 0  # and its processor time
    assert result.total_seconds == result.seconds + result.earlier_seconds

    whole = resume_trainer(tmp_path / "whole")
    expected = whole.fit(train, validation)
    assert expected.resumed_from_step is None
    assert_same_weights(weights_of(resumed.model), weights_of(whole.model))
    saved = [folder / "model" / "model.safetensors" for folder in (killed, tmp_path / "whole")]
    assert saved[0].read_bytes() == saved[1].read_bytes()
    assert (killed / "log.csv").read_text() == (tmp_path / "whole" / "log.csv").read_text()
    assert result.history == expected.history


def test_rerunning_a_finished_run_returns_its_result_and_other_settings_are_refused(tmp_path):
    def trainer(config: TrainConfig) -> Trainer:
        model = build_seeded(lambda: UtteranceNet(4, 3), 0)
        return Trainer(model, UtteranceClassification(LABELS), config, out_dir=tmp_path, threads=1)

    config = TrainConfig(epochs=2, batch_size=8)
    first = trainer(config)
    result = first.fit(utterance_data(20, 1), utterance_data(10, 2))
    again = trainer(config)
    repeated = again.fit(utterance_data(20, 1), utterance_data(10, 2))
    assert repeated.resumed_from_step == result.steps
    assert result.earlier_seconds == 0
    # the first call's time up to its last checkpoint, written at its end
    assert 0 < repeated.earlier_seconds <= result.seconds
    assert result.earlier_cpu_seconds == 0 < repeated.earlier_cpu_seconds
    assert repeated.history == result.history
    assert_same_weights(weights_of(again.model), weights_of(first.model))

    with pytest.raises(SerkitError, match="other training settings"):
        trainer(TrainConfig(epochs=3, batch_size=8)).fit(utterance_data(20, 1), utterance_data(10, 2))
    with pytest.raises(SerkitError, match="other training or validation data"):
        trainer(config).fit(utterance_data(21, 1), utterance_data(10, 2))


class NormFirstNet(nn.Module):
    """Masked batch norm on the input features, then UtteranceNet: the norm's running mean is a
    statistic of the data alone, whatever the weights."""

    def __init__(self, dims: int, classes: int):
        super().__init__()
        from serkit.models.layers import MaskedBatchNorm2d  # noqa: PLC0415

        self.norm = MaskedBatchNorm2d(1)
        self.body = UtteranceNet(dims, classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = (torch.arange(x.shape[-1])[None, :] < lengths[:, None])
        return self.body(self.norm(x[:, None], mask)[:, 0], lengths)


def test_batch_norm_recalibration_averages_the_training_batches_statistics():
    train = utterance_data(30, 1)
    config = TrainConfig(epochs=2, batch_size=8, optimiser=FAST, recalibrate_batch_norm=True)
    model = build_seeded(lambda: NormFirstNet(4, 3), 0)
    Trainer(model, UtteranceClassification(LABELS), config, threads=1).fit(train, utterance_data(12, 2))
    # the mean of each training batch's mean over its valid frames, in index order
    means = []
    for start in range(0, len(train), 8):
        arrays = [train.example(i).features for i in range(start, min(start + 8, len(train)))]
        means.append(np.concatenate([a.ravel() for a in arrays]).mean())
    assert model.norm.momentum == 0.1  # restored after the pass
    np.testing.assert_allclose(model.norm.running_mean.item(), np.mean(means), rtol=1e-5)

    plain = build_seeded(lambda: NormFirstNet(4, 3), 0)
    Trainer(plain, UtteranceClassification(LABELS), dataclasses.replace(config, recalibrate_batch_norm=False),
            threads=1).fit(train, utterance_data(12, 2))
    assert abs(plain.norm.running_mean.item() - np.mean(means)) > 1e-3  # momentum 0.1 from 0: far behind


def test_unset_later_settings_leave_the_configuration_as_recorded():
    assert "recalibrate_batch_norm" not in TrainConfig().to_dict()  # older checkpoints and recipe hashes
    on = TrainConfig(recalibrate_batch_norm=True)
    assert TrainConfig.from_dict(on.to_dict()) == on
    assert TrainConfig.from_dict(TrainConfig().to_dict()) == TrainConfig()

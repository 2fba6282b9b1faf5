"""Training on several processes (torchrun, gloo on the loopback) computes what one process does.

A small dropout-free ``cnn`` (masked batch norm, so the synchronised norm is
exercised) trains on MFCCs of 15 EMO-DB files: 11 training items in global
batches of 4 (the epoch's last batch of 3 splits 2 + 1 over two ranks, so the
loss weighting matters), 4 validation items, SortaGrad in the first epoch.
Runs under ``torchrun`` execute this file as a script (:func:`main`); an
audit hook records every file each rank writes under the output folder.
``serkit train`` itself also runs under torchrun, on two EMO-DB speakers.

Tolerance: weights within ``ATOL`` (and ``RTOL`` of the batch norms' running
variances, which reach ~400) of one process's; measured, parameters differ by
under 1e-7.  The differences are float rounding only: the all-reduce sums two
gradients where one process sums over one batch, the synchronised norm adds
per-rank sums, and it always takes the masked path where one process may take
the fused kernel.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from serkit.artifacts import load_weights
from serkit.devices import DEVICE_VARIABLE, feature_device, resolve_device
from serkit.errors import SerkitError
from serkit.models import build_model
from serkit.training import FeatureDataset, OptimiserConfig, TrainConfig, Trainer, UtteranceClassification
from serkit.training import distributed
from serkit.training.checkpoint import latest_checkpoint, read_checkpoint

from conftest import emodb_subset
from serkit.training.optim import build_seeded

LABELS = ("W", "L", "E", "A", "F", "T", "N")  # EMO-DB's emotion letters
CONFIG = TrainConfig(epochs=2, batch_size=4, seed=3, sort_first_epoch=True, eval_batch_size=8,
                     optimiser=OptimiserConfig(name="sgd", lr=0.05, momentum=0.9))
ATOL, RTOL = 1e-5, 1e-6
#: Seconds one torchrun launch may take before the test fails (a hung rendezvous must not hang CI).
LAUNCH_TIMEOUT = 120


# -- the training both sides run ---------------------------------------------------------------


def train(data: Path, out: Path, epochs: int, progress=None) -> None:
    arrays = np.load(data)
    features = [arrays[f"x{i}"] for i in range(int(arrays["n"]))]
    names = [str(n) for n in arrays["names"]]
    labels = [name[5] for name in names]
    task = UtteranceClassification(LABELS)

    def part(rows: range) -> FeatureDataset:
        return FeatureDataset.from_arrays([features[i] for i in rows], task.encode([labels[i] for i in rows]),
                                          [names[i] for i in rows])

    train_set, validation = part(range(11)), part(range(11, 15))
    model = build_seeded(lambda: build_model("cnn", features[0].shape[0], len(LABELS), channels=(4, 8),
                                             kernel_sizes=(3, 3), fc_units=16, dropout=0.0), CONFIG.seed)
    config = dataclasses.replace(CONFIG, epochs=epochs)
    Trainer(model, task, config, out_dir=out, threads=1, progress=progress).fit(train_set, validation)


def main(data: str, out: str, epochs: str, kill_at: str = "0") -> None:
    """One rank of a torchrun launch: train, recording what this rank writes; with ``kill_at``,
    SIGKILL rank 0 at that optimiser step (after the checkpoints before it)."""
    out_dir = Path(out)
    rank = int(os.environ["RANK"])
    logging.basicConfig(level=logging.INFO, format=f"rank {rank}: %(message)s")
    record = os.open(out_dir.parent / f"{out_dir.name}-writes-{rank}.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    sys.addaudithook(_write_recorder(out_dir, record))

    def kill(done: int, total: int) -> None:
        if done == int(kill_at):
            os.kill(os.getpid(), signal.SIGKILL)

    with distributed.process_group("cpu"):
        train(Path(data), out_dir, int(epochs), kill if int(kill_at) else None)


def _write_recorder(root: Path, record: int):
    root = str(root.resolve())
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            if not ((isinstance(mode, str) and any(c in mode for c in "wax+")) or (flags or 0) & writing):
                return
        elif event in ("os.mkdir", "os.rename", "os.remove", "shutil.rmtree"):
            path = args[0]
        else:
            return
        if isinstance(path, (str, os.PathLike)) and os.path.abspath(path).startswith(root):
            os.write(record, f"{event} {path}\n".encode())

    return hook


# -- launching -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(*options: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", *options, "--max-restarts", "0"]


def _launch(commands: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """Run the commands at once, each in its own session; kill a session that outlives the timeout."""
    # A rank that aborts (a gloo teardown) prints where each of its threads was.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}
    running = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                start_new_session=True) for c in commands]
    done = []
    for process in running:
        try:
            output, _ = process.communicate(timeout=LAUNCH_TIMEOUT)
        except subprocess.TimeoutExpired:
            for other in running:
                if other.poll() is None:
                    os.killpg(other.pid, signal.SIGKILL)
            pytest.fail(f"torchrun did not finish in {LAUNCH_TIMEOUT} s: {process.args}")
        done.append(subprocess.CompletedProcess(process.args, process.returncode, output))
    return done


def _script(data: Path, out: Path, epochs: int, kill_at: int = 0) -> list[str]:
    return [__file__, str(data), str(out), str(epochs), str(kill_at)]


def _last_weights(out: Path) -> dict[str, torch.Tensor]:
    return load_weights(latest_checkpoint(out / "checkpoints") / "model.safetensors")


def _assert_close(weights: dict, reference: dict) -> None:
    assert weights.keys() == reference.keys()
    for name, value in reference.items():
        torch.testing.assert_close(weights[name], value, atol=ATOL, rtol=RTOL, msg=name)


def _writes(out: Path, rank: int) -> list[str]:
    record = out.parent / f"{out.name}-writes-{rank}.txt"
    return record.read_text().splitlines() if record.exists() else []


def _train_losses(out: Path) -> np.ndarray:
    lines = (out / "log.csv").read_text().splitlines()
    column = lines[0].split(",").index("train_loss")
    return np.array([float(line.split(",")[column]) for line in lines[1:]])


@pytest.fixture(scope="module")
def data(emodb_wavs: list[Path], tmp_path_factory) -> Path:
    from serkit.features.presets import get_preset

    feature = get_preset("mfcc-seed000").feature
    wavs = emodb_wavs[:15]
    path = tmp_path_factory.mktemp("distributed") / "mfcc.npz"
    arrays = {f"x{i}": feature.process_file(w) for i, w in enumerate(wavs)}
    np.savez(path, n=len(wavs), names=[w.stem for w in wavs], **arrays)
    return path


@pytest.fixture(scope="module")
def one_process(data: Path, tmp_path_factory) -> dict[int, Path]:
    """Output folders of one process trained for 1 and for 2 epochs."""
    root = tmp_path_factory.mktemp("single")
    for epochs in (1, 2):
        train(data, root / f"epochs{epochs}", epochs)
    return {epochs: root / f"epochs{epochs}" for epochs in (1, 2)}


# -- tests ---------------------------------------------------------------------------------------------


def test_two_processes_train_as_one_write_on_rank_0_only_and_resume_after_a_kill(data, one_process, tmp_path):
    out = tmp_path / "run"
    steps_per_epoch = 3  # 11 items in batches of 4
    killed, = _launch([_torchrun("--standalone", "--nproc-per-node", "2") + _script(data, out, 2, steps_per_epoch + 1)])
    assert killed.returncode != 0, killed.stdout
    # killed at the first step of epoch 2: the latest checkpoint holds the weights after epoch 1
    _assert_close(_last_weights(out), _last_weights(one_process[1]))
    resumed, = _launch([_torchrun("--standalone", "--nproc-per-node", "2") + _script(data, out, 2)])
    assert resumed.returncode == 0, resumed.stdout
    assert "(epoch 2, step 3)" in resumed.stdout  # resumed from epoch 1's checkpoint, not from scratch
    _assert_close(_last_weights(out), _last_weights(one_process[2]))
    # the epochs' training loss covers both ranks' items, as one process's does
    np.testing.assert_allclose(_train_losses(out), _train_losses(one_process[2]), atol=ATOL)
    assert _writes(out, 0) and not _writes(out, 1), _writes(out, 1)[:5]
    assert any("checkpoints" in w for w in _writes(out, 0)) and any("model.json" in w for w in _writes(out, 0))
    with pytest.raises(SerkitError, match="written by 2 training process"):
        train(data, out, 2)  # one process cannot take over two processes' generators


def test_two_nodes_on_one_machine_meet_at_one_rendezvous_and_train_as_one(data, one_process, tmp_path):
    out = tmp_path / "run"
    rendezvous = ["--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d",
                  "--rdzv-endpoint", f"127.0.0.1:{_free_port()}", "--rdzv-id", "serkit-test"]
    nodes = _launch([_torchrun(*rendezvous) + _script(data, out, 1)] * 2)
    assert all(node.returncode == 0 for node in nodes), [node.stdout for node in nodes]
    _assert_close(_last_weights(out), _last_weights(one_process[1]))
    assert _writes(out, 0) and not _writes(out, 1)


RECIPE = """\
name: ddp-cnn-mfcc
corpus: emodb
classes: 4class
validation: speakers:1
features: mfcc-seed000
model: cnn
model_options: {dropout: 0.0, channels: [8, 16], kernel_sizes: [3, 3], fc_units: 32}
train: {epochs: 1, batch_size: 10, optimiser: {name: sgd, lr: 0.05, momentum: 0.9}}
"""


def test_serkit_train_under_torchrun_publishes_one_model_from_rank_0(emodb_root, tmp_path):
    root = emodb_subset(emodb_root, tmp_path, ("03", "08"))
    (tmp_path / "recipe.yaml").write_text(RECIPE)
    out = tmp_path / "model"
    command = _torchrun("--standalone", "--nproc-per-node", "2") + [
        "-m", "serkit", "train", "--config", str(tmp_path / "recipe.yaml"), "--root", str(root), "--out", str(out),
        "--threads", "1", "--cache", str(tmp_path / "cache")]
    run, = _launch([command])
    assert run.returncode == 0, run.stdout
    assert run.stdout.count(f"wrote {out}") == 1  # rank 0 reports; the other trains along, silently
    assert {"model.safetensors", "model.json", "card.json", "README.md"} <= {p.name for p in out.iterdir()}
    assert not (tmp_path / "model.partial").exists()
    trained = read_checkpoint(latest_checkpoint(out / "training" / "seed0" / "checkpoints"))
    assert len(trained.state["ranks_rng"]) == 2  # both processes trained it


def _fold_predictions(run: Path) -> list[dict]:
    """Each fold's predictions.json without its timings."""
    import json

    folds = [json.loads(p.read_text()) for p in sorted((run / "folds").glob("*/predictions.json"))]
    for fold in folds:
        del fold["seconds"], fold["cpu_seconds"]
        for member in fold["members"]:
            member.pop("earlier_seconds", None), member.pop("earlier_cpu_seconds", None)
    return folds


def test_serkit_cv_under_torchrun_fits_each_fold_on_both_ranks_as_one_process_does(emodb_root, tmp_path):
    """Two folds, one after the other, each trained by both processes; rank 0 alone writes and reports,
    the figures are one process's, and a run missing a fold resumes with that fold only."""
    import json

    from typer.testing import CliRunner

    from serkit.cli.main import app

    root = emodb_subset(emodb_root, tmp_path, ("03", "08", "09", "10"))
    (tmp_path / "recipe.yaml").write_text(RECIPE + "protocol: speaker-kfold:2\n")
    common = ["--config", str(tmp_path / "recipe.yaml"), "--root", str(root), "--threads", "1", "--workers", "1",
              "--cache", str(tmp_path / "cache")]
    single = CliRunner().invoke(app, ["cv", "--out", str(tmp_path / "single"), *common], catch_exceptions=False)
    assert single.exit_code == 0, single.output
    out = tmp_path / "run"
    command = _torchrun("--standalone", "--nproc-per-node", "2") + ["-m", "serkit", "cv", "--out", str(out), *common]
    run, = _launch([command])
    assert run.returncode == 0, run.stdout
    assert run.stdout.count(f"wrote {out / 'results.json'}") == 1  # rank 0 reports; the other trains along
    for fold in ("00", "01"):  # both processes trained each fold
        assert len(read_checkpoint(latest_checkpoint(out / "folds" / fold / "seed0" / "checkpoints"))
                   .state["ranks_rng"]) == 2
    reference, distributed_run = _fold_predictions(tmp_path / "single"), _fold_predictions(out)
    for mine, theirs in zip(distributed_run, reference, strict=True):
        assert mine["ids"] == theirs["ids"] and mine["y_pred"] == theirs["y_pred"]
        np.testing.assert_allclose(mine["scores"], theirs["scores"], atol=1e-4)  # float rounding of the all-reduce
    figures = ("pooled", "mean", "folds", "config_hash", "data_hash")
    results = json.loads((out / "results.json").read_text())
    assert {k: results[k] for k in figures} == {k: json.loads((tmp_path / "single" / "results.json").read_text())[k]
                                                for k in figures}

    kept = (out / "folds" / "00" / "predictions.json").stat().st_mtime_ns
    (out / "folds" / "01" / "predictions.json").unlink()
    resumed, = _launch([command])
    assert resumed.returncode == 0, resumed.stdout
    assert (out / "folds" / "00" / "predictions.json").stat().st_mtime_ns == kept  # not fitted again
    assert _fold_predictions(out) == distributed_run  # fold 01 again, from its checkpoints


@pytest.mark.parametrize("command, refusal", [(["cv", "--jobs", "2"], "drop --jobs and --executor"),
                                              (["cv", "--model", "svm"], "classical model fits in one process"),
                                              (["grid", "RECIPE"], "--jobs N or --executor ray")])
def test_under_torchrun_cv_refuses_what_cannot_run_on_every_rank_and_grid_refuses_itself(command, refusal,
                                                                                         monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from serkit.cli.main import app

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    (tmp_path / "recipe.yaml").write_text(RECIPE)
    args = [str(tmp_path / "recipe.yaml") if a == "RECIPE" else a for a in command]
    out = ["--out-root" if command[0] == "grid" else "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, [*args, *out])
    assert result.exit_code == 1 and refusal in result.output and "Traceback" not in result.output, result.output
    assert not (tmp_path / "out").exists()


# -- pieces, in one process --------------------------------------------------------------------------


def test_each_rank_takes_a_disjoint_slice_of_the_same_batch_weighted_by_its_share():
    batch = np.array([7, 3, 9, 1, 4])
    shares = [distributed.share(batch, distributed.World(r, 2)) for r in range(2)]
    assert [s.tolist() for s, _ in shares] == [[7, 3, 9], [1, 4]]
    assert [w for _, w in shares] == [6 / 5, 4 / 5]  # per-rank means weighted back to the batch mean
    assert distributed.share(batch[:1], distributed.World(1, 2))[1] == 0.0  # a stand-in adds nothing
    assert distributed.share(batch, distributed.SINGLE) == (batch, 1.0)


def test_the_global_batch_must_divide_among_the_processes():
    distributed.check_batch_size(8, distributed.World(0, 4))
    with pytest.raises(SerkitError, match="must divide by 3"):
        distributed.check_batch_size(8, distributed.World(0, 3))


def test_one_process_outside_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.launched() == distributed.current() == distributed.SINGLE
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert distributed.launched() == distributed.World(1, 2, 0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the choice on a machine without a GPU")
def test_auto_is_the_cpu_here_and_cuda_without_a_gpu_is_refused(monkeypatch):
    assert resolve_device("auto") == "cpu" and resolve_device("cpu") == "cpu"
    with pytest.raises(SerkitError, match="no GPU"):
        resolve_device("cuda")
    with pytest.raises(SerkitError, match="choose one of"):
        resolve_device("tpu")
    monkeypatch.delenv(DEVICE_VARIABLE, raising=False)
    assert feature_device() == torch.device("cpu")
    monkeypatch.setenv(DEVICE_VARIABLE, "cuda")
    with pytest.raises(SerkitError, match="no GPU"):
        feature_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")
def test_the_cli_refuses_cuda_without_a_gpu_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from serkit.cli.main import app

    for command in ("train", "cv"):
        result = CliRunner().invoke(app, [command, "--out", str(tmp_path / command), "--device", "cuda"])
        assert result.exit_code == 1 and "no GPU" in result.output and "Traceback" not in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks auto on a machine without a GPU")
def test_the_device_option_sets_the_training_device_and_tells_the_features(monkeypatch):
    from serkit.cli.main import RunOptions

    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if k != DEVICE_VARIABLE})
    plain = RunOptions().recipe()
    assert plain.train.device == "cpu" and DEVICE_VARIABLE not in os.environ
    chosen = RunOptions(device="auto").recipe()
    assert chosen.train.device == "cpu" and os.environ[DEVICE_VARIABLE] == "cpu"
    assert chosen.config_hash() == plain.config_hash()  # the CPU, said or not, is today's recipe


def test_the_device_is_a_setting_that_leaves_cpu_recipes_hashes_alone():
    assert "device" not in TrainConfig().to_dict()
    assert TrainConfig(device="cuda").to_dict()["device"] == "cuda"
    with pytest.raises(SerkitError):
        TrainConfig.from_dict({"device": "gpu"})


if __name__ == "__main__":
    main(*sys.argv[1:])


def test_ranks_other_than_0_keep_only_serkit_warnings():
    import logging

    from serkit.training.distributed import loud_enough

    def record(name: str, level: int) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, "m", None, None)

    assert not loud_enough(record("serkit.training.engine", logging.INFO))
    assert loud_enough(record("serkit.training.engine", logging.WARNING))
    assert loud_enough(record("torch.distributed", logging.INFO))

"""Run and model folders under an unfriendly user: killed parents, two processes on one
folder, bad ``--out`` paths, interrupted writes, resumes at another thread count.

Processes are real (``serkit`` in a subprocess, killed with SIGKILL) and so are the files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import emodb_subset

from serkit.errors import SerkitError
from serkit.experiments import Recipe, run_cv
from serkit.experiments.train import publish, staging_folder
from serkit.features.cache import FeatureCache
from serkit.outputs import owned_folder, output_file, output_folder

SERKIT = str(Path(sys.executable).with_name("serkit"))
REPO = Path(__file__).resolve().parents[1]
EXAMPLE_MODEL = REPO / "src" / "serkit" / "inference" / "models" / "default"
#: A path no one can create a folder under, even root (sysfs refuses new entries).
READ_ONLY = Path("/sys/serkit-cannot-write-here")
FOUR_SPEAKERS = ("03", "08", "09", "10")


def cv_args(root: Path, out: Path, *extra: str, epochs: int = 2) -> list[str]:
    return ["cv", "--corpus", "emodb", "--root", str(root), "--model", "cnn", "--features", "mfcc-seed003",
            "--protocol", "speaker-kfold:2", "--validation", "speakers:1", "--epochs", str(epochs),
            "--out", str(out), *extra]


def run_serkit(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([SERKIT, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":  # a zombie has exited; only its parent's wait is missing
            living.add(pid)
    return living


def wait_for(condition, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    return condition()


def workers_of(process: subprocess.Popen, count: int, timeout: float) -> set[int]:
    """Wait until ``process`` has at least ``count`` worker processes (pool helpers included)."""
    found = wait_for(lambda: (lambda c: c if len(c) >= count else None)(alive(children(process.pid))), timeout)
    if not found:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"no {count} workers appeared within {timeout} s: {err[-2000:]}")
    return found


def kill_and_check_workers_exit(process: subprocess.Popen, workers: set[int]) -> None:
    try:
        # still at work when killed: workers that had finished on their own would prove nothing
        assert process.poll() is None, "the command ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        left = wait_for(lambda: not alive(workers), timeout=10)
        assert left, f"workers {alive(workers)} outlived their killed parent"
    finally:
        for pid in alive(workers):
            os.kill(pid, signal.SIGKILL)


def test_fold_workers_exit_when_cv_is_killed(emodb_root, tmp_path):
    root = emodb_subset(emodb_root, tmp_path, FOUR_SPEAKERS)
    args = cv_args(root, tmp_path / "run", "--jobs", "2", "--threads", "1", "--workers", "1",
                   "--cache", str(tmp_path / "cache"), epochs=200)
    process = subprocess.Popen([SERKIT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The two fold workers (spawned) and multiprocessing's resource tracker.
    # generous timeouts: on a machine busy with other runs the spawned workers take minutes to start
    workers = workers_of(process, 3, timeout=300)
    # Let the folds get into training, where today's workers would go on for minutes.
    wait_for(lambda: list((tmp_path / "run" / "folds").glob("*/seed*/checkpoints/latest.json")), 300)
    kill_and_check_workers_exit(process, workers)


def test_feature_workers_exit_when_extraction_is_killed(emodb_root, tmp_path):
    process = subprocess.Popen(
        [SERKIT, "features", "--kind", "egemaps", "--corpus", "emodb", "--root", str(emodb_root),
         "--workers", "2", "--no-cache"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    workers = workers_of(process, 2, timeout=60)
    kill_and_check_workers_exit(process, workers)


def test_a_second_cv_on_a_folder_in_use_is_refused(emodb_root, tmp_path):
    root = emodb_subset(emodb_root, tmp_path, FOUR_SPEAKERS)
    out = tmp_path / "run"
    first = subprocess.Popen([SERKIT, *cv_args(root, out, "--workers", "1", epochs=200)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: (out / "run.json").exists(), timeout=60), "the first run never started"
        second = run_serkit(*cv_args(root, out, "--workers", "1"))
        assert second.returncode == 1
        assert f"in use by serkit process {first.pid}" in second.stderr
        assert "Traceback" not in second.stderr + second.stdout
        assert first.poll() is None, "the refused second run disturbed the first"
    finally:
        first.kill()
        first.wait()


def test_the_lock_is_released_when_its_holder_dies(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from serkit.outputs import owned_folder\n"
        f"with owned_folder({str(tmp_path / 'run')!r}):\n    print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(SerkitError, match="in use"):
        with owned_folder(tmp_path / "run"):
            pass
    holder.kill()
    holder.wait()
    with owned_folder(tmp_path / "run") as folder:
        assert (folder / ".lock").read_text().strip() == str(os.getpid())


# -- bad --out: one line, exit 1, before any work --------------------------------------------


def bad_outputs(tmp_path: Path) -> dict[str, Path]:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder\n")
    return {"is a file": a_file, "under a file": a_file / "run", "read-only": READ_ONLY / "run"}


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    text = result.stderr.strip()
    assert "Traceback" not in result.stderr + result.stdout
    assert len(text.splitlines()) == 1, text
    for word in words:
        assert word in text


@pytest.mark.parametrize("case", ["is a file", "under a file", "read-only"])
def test_cv_refuses_a_bad_out_before_any_work(emodb_root, tmp_path, case):
    out = bad_outputs(tmp_path)[case]
    cache = tmp_path / "cache"
    result = run_serkit(*cv_args(emodb_root, out, "--cache", str(cache)))
    assert_one_line_error(result, str(out))
    assert not cache.exists() or not any(cache.rglob("*.npy")), "features were extracted first"


@pytest.mark.parametrize("case", ["is a file", "under a file", "read-only"])
def test_train_refuses_a_bad_out_before_extracting_features(emodb_root, tmp_path, case):
    out = bad_outputs(tmp_path)[case]
    cache = tmp_path / "cache"
    result = run_serkit("train", "--corpus", "emodb", "--root", str(emodb_root), "--model", "cnn",
                        "--features", "mfcc-seed003", "--epochs", "1", "--out", str(out), "--cache", str(cache))
    assert_one_line_error(result, str(out.name))
    assert not cache.exists() or not any(cache.rglob("*.npy")), "features were extracted first"


@pytest.mark.parametrize("case", ["is a file", "under a file", "read-only", "a folder"])
def test_export_refuses_a_bad_out(tmp_path, case):
    out = tmp_path if case == "a folder" else bad_outputs(tmp_path)[case] / "model.onnx"
    if case == "is a file":
        out = bad_outputs(tmp_path)[case] / "model.onnx"  # the onnx file's folder is a file
    result = run_serkit("export", "--model", str(EXAMPLE_MODEL), "--out", str(out))
    assert_one_line_error(result, str(out))


def test_output_checks_name_the_reason(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(SerkitError, match="a file is there, not a folder"):
        output_folder(tmp_path / "f")
    with pytest.raises(SerkitError, match=r"f is a file, not a folder"):
        output_folder(tmp_path / "f" / "g" / "h")
    with pytest.raises(SerkitError, match="cannot write there"):
        output_folder(READ_ONLY)
    with pytest.raises(SerkitError, match="a folder is there, not a file"):
        output_file(tmp_path)
    assert output_folder(tmp_path / "new" / "deep").is_dir()


# -- publishing, leftovers, thread counts ----------------------------------------------------


def test_publish_replaces_a_model_folder_whole(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"old")
    (model / "stale.txt").write_text("from the old model")
    staging = staging_folder(model)
    with owned_folder(staging) as folder:
        (folder / "model.safetensors").write_bytes(b"new")
        publish(folder, model)
    assert sorted(p.name for p in model.iterdir()) == ["model.safetensors"]
    assert (model / "model.safetensors").read_bytes() == b"new"
    assert not staging.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_a_killed_train_leaves_no_half_model_and_resumes(emodb_root, tmp_path):
    root = emodb_subset(emodb_root, tmp_path, FOUR_SPEAKERS)
    model = tmp_path / "model"
    args = ["train", "--corpus", "emodb", "--root", str(root), "--model", "cnn", "--features", "mfcc-seed003",
            "--validation", "speakers:1", "--epochs", "3", "--workers", "1", "--threads", "1",
            "--cache", str(tmp_path / "cache"), "--out", str(model)]
    process = subprocess.Popen([SERKIT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    staging = staging_folder(model)
    started = wait_for(lambda: list(staging.glob("training/**/checkpoints/latest.json")), timeout=120)
    process.kill()
    process.wait()
    assert started, "training never wrote a checkpoint"
    assert not model.exists(), "a killed train published a model"
    result = run_serkit(*args)
    assert result.returncode == 0, result.stderr
    assert {"model.safetensors", "model.json", "card.json", "README.md"} <= {p.name for p in model.iterdir()}
    assert not staging.exists() and not (model / ".lock").exists()
    assert not list(tmp_path.glob(".tmp-*"))


def test_leftovers_of_interrupted_writes_are_swept_and_reports_are_whole(emodb_root, tmp_path):
    root = emodb_subset(emodb_root, tmp_path, FOUR_SPEAKERS)
    recipe = Recipe(root=str(root), model="svm", features="egemaps", protocol="speaker-kfold:2",
                    validation="speakers:1")
    cache = FeatureCache(tmp_path / "cache")
    out = tmp_path / "run"
    run_cv(recipe, out, cache=cache, workers=1)
    leftovers = [out / ".tmp-results.json-999", out / "folds" / "00" / ".tmp-predictions.json-999"]
    for path in leftovers:
        path.write_text("{half")
    run_cv(recipe, out, cache=cache, workers=1)  # a resume of a finished run
    assert not any(path.exists() for path in leftovers)
    assert not list(out.rglob(".tmp-*"))
    assert (out / "report.md").read_text().startswith("#")
    assert (out / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_run_keeps_the_thread_count_it_started_with(emodb_root, tmp_path):
    root = emodb_subset(emodb_root, tmp_path, FOUR_SPEAKERS)
    recipe = Recipe(root=str(root), model="cnn", features="mfcc-seed003", protocol="speaker-kfold:2",
                    validation="speakers:1").override(epochs=1)
    cache = FeatureCache(tmp_path / "cache")
    out = tmp_path / "run"
    first = run_cv(recipe, out, cache=cache, workers=1, threads=1)
    assert first["threads"] == 1
    assert json.loads((out / "run.json").read_text()) == {"threads": 1}
    with pytest.raises(SerkitError, match="started with --threads 1"):
        run_cv(recipe, out, cache=cache, workers=1, threads=2)
    # Without --threads, a resume keeps the count (one job's default here would be every core).
    (out / "folds" / "01" / "predictions.json").unlink()
    again = run_cv(recipe, out, cache=cache, workers=1, jobs=1)
    assert again["threads"] == 1
    assert again["pooled"] == first["pooled"]


def test_a_recipe_that_fails_on_its_corpus_leaves_the_folder_free_for_the_corrected_one(emodb_root, tmp_path):
    """A cv whose corpus cannot be read or split does not claim --out: the next, corrected
    configuration runs there instead of meeting "a run of another configuration"."""
    out = tmp_path / "run"
    failed = run_serkit("cv", "--corpus", "emodb", "--root", str(tmp_path / "missing"), "--model", "cnn",
                        "--features", "mfcc-seed003", "--out", str(out))
    assert_one_line_error(failed, "missing")
    assert not (out / "recipe.json").exists() and not (out / "run.json").exists()
    from serkit.experiments import Recipe
    from serkit.experiments.cv import _claim

    _claim(out, Recipe(model="blstm", features="mfcc-seed003"))  # the corrected recipe may claim it
    assert (out / "recipe.json").exists()

"""serkit on Ray: cross-validation and feature extraction on a local Ray instance of two workers, on real
EMO-DB, give what one process gives; a killed worker's fold runs again; without Ray the option says how
to install it."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from serkit.cli.main import app
from serkit.errors import SerkitError
from serkit.experiments import Recipe, run_cv
from serkit.experiments.executors import RayExecutor
from serkit.features.cache import FeatureCache
from serkit.features.extract import extract
from serkit.features.presets import get_preset
from serkit.features.sharded import CachedFeatures, check_index, extract_on_ray

from conftest import emodb_subset

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="ray is not installed (pip install 'serkit[cluster]', or the test extra)")

#: Four speakers, two folds of two: a fold of a tiny BLSTM lasts seconds, long enough to overlap and to kill.
SPEAKERS = ("03", "08", "09", "10")
FEATURE = "logmel-seed000"


def small_recipe(root: Path) -> Recipe:
    return Recipe(root=str(root), model="blstm", features=FEATURE, protocol="speaker-kfold:2",
                  validation="speakers:1", model_options={"hidden": 8}).override(epochs=1)


@pytest.fixture(scope="module")
def ray_instance():
    """One local Ray instance of two CPUs for the module (it takes seconds to start); runs join it."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(emodb_root, tmp_path_factory):
    return emodb_subset(emodb_root, tmp_path_factory.mktemp("corpus"), SPEAKERS)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return FeatureCache(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def single(corpus, cache, tmp_path_factory):
    """The reference: one process, one fold after the other (``--jobs 1 --threads 1``)."""
    run = tmp_path_factory.mktemp("single") / "run"
    return run_cv(small_recipe(corpus), run, cache=cache, workers=1, threads=1), run


def without_timings(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("seconds", "cpu_seconds")}


def predictions(run: Path, fold: int) -> dict:
    data = json.loads((run / "folds" / f"{fold:02d}" / "predictions.json").read_text())
    return {k: data[k] for k in ("ids", "speakers", "y_true", "y_pred", "scores", "chosen_epoch")}


def attempts(run: Path, fold: int) -> list[dict]:
    return json.loads((run / "folds" / f"{fold:02d}" / "worker.json").read_text())["attempts"]


@needs_ray
def test_two_ray_workers_give_one_process_figures_with_two_folds_at_once(ray_instance, corpus, cache, single,
                                                                         tmp_path):
    reference, reference_run = single
    summary = run_cv(small_recipe(corpus), tmp_path / "run", cache=cache, workers=1, threads=1,
                     executor=RayExecutor())
    assert without_timings(summary) == without_timings(reference)  # figures, config and data hashes
    assert summary["config_hash"] == reference["config_hash"] and summary["data_hash"] == reference["data_hash"]
    for fold in (0, 1):
        assert predictions(tmp_path / "run", fold) == predictions(reference_run, fold)
    first, second = (attempts(tmp_path / "run", fold) for fold in (0, 1))
    assert len(first) == len(second) == 1
    assert first[0]["pid"] != second[0]["pid"]
    # each started before the other ended: the two folds ran at once
    assert max(first[0]["started"], second[0]["started"]) < min(first[0]["ended"], second[0]["ended"])


@needs_ray
def test_a_killed_worker_s_fold_runs_again_and_the_run_gives_the_same_figures(ray_instance, corpus, cache,
                                                                              single, tmp_path):
    reference, reference_run = single
    run, outcome = tmp_path / "run", {}

    def cross_validate():
        try:
            outcome["summary"] = run_cv(small_recipe(corpus), run, cache=cache, workers=1, threads=1,
                                        executor=RayExecutor())
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread
            outcome["error"] = error

    driver = threading.Thread(target=cross_validate)
    driver.start()
    record = run / "folds" / "00" / "worker.json"
    deadline = time.monotonic() + 120
    while not record.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert record.exists(), "fold 00 did not start within two minutes"
    started = json.loads(record.read_text())["attempts"]
    assert started[0]["ended"] is None, "fold 00 ended before the test could kill its worker"
    os.kill(started[0]["pid"], signal.SIGKILL)
    driver.join(timeout=300)
    assert not driver.is_alive() and "error" not in outcome, outcome.get("error")

    tries = attempts(run, 0)
    assert len(tries) == 2 and tries[0]["pid"] == started[0]["pid"] and tries[0]["ended"] is None
    assert tries[1]["pid"] != tries[0]["pid"] and tries[1]["ended"] is not None
    assert without_timings(outcome["summary"]) == without_timings(reference)
    assert predictions(run, 0) == predictions(reference_run, 0)


@needs_ray
def test_features_on_ray_are_indexed_once_each_and_a_local_cache_finds_them(ray_instance, emodb_root, tmp_path):
    feature = get_preset(FEATURE).feature
    paths = [str(p) for p in sorted((emodb_root / "wav").glob("03*.wav"))]
    cache = FeatureCache(tmp_path / "cache")
    result = extract_on_ray(feature, paths, cache)
    index = json.loads(result.index_path.read_text())
    assert list(index["files"]) == paths  # every file, once, in input order
    assert index["computed"] == result.computed == len(paths) and not index["errors"]

    local = extract(feature, paths, workers=1)  # no cache: computed here
    for path in paths:
        row = index["files"][path]
        mapped = np.load(cache.root / row["entry"], mmap_mode="r")  # a shard maps without being read
        assert list(mapped.shape) == row["shape"] and np.array_equal(mapped, local.features[path])
    assert np.array_equal(CachedFeatures.from_index(result.index_path)[paths[-1]], local.features[paths[-1]])

    found = extract(feature, paths, cache=FeatureCache(cache.root), workers=1)
    assert found.cached == len(paths) and found.computed == 0
    assert extract_on_ray(feature, paths, cache).cached == len(paths)  # and Ray finds them again


def test_the_index_check_refuses_a_file_missing_or_twice_and_a_cache_not_shared(tmp_path):
    feature = get_preset(FEATURE).feature
    cache = FeatureCache(tmp_path)
    row = {"path": "a.wav", "digest": "ab" * 32, "shape": [64, 10], "dtype": "float32", "host": "node-2"}
    with pytest.raises(SerkitError, match="missing"):
        check_index(["a.wav", "b.wav"], [row], cache, feature)
    with pytest.raises(SerkitError, match="more than once"):
        check_index(["a.wav"], [row, dict(row)], cache, feature)
    with pytest.raises(SerkitError, match="node-2.*every worker reads"):  # written there, not seen here
        check_index(["a.wav"], [row], cache, feature)
    cache.store(feature, row["digest"], np.zeros((64, 10), np.float32))
    assert check_index(["a.wav"], [row], cache, feature)["a.wav"]["entry"].endswith(f"{row['digest']}.npy")


@pytest.mark.parametrize("command", [["cv", "--root", "ROOT", "--out", "OUT"],
                                     ["features", "--kind", FEATURE, "ROOT"]])
def test_executor_ray_without_ray_says_how_to_install_it(command, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    args = [str(tmp_path / "out") if a == "OUT" else str(tmp_path) if a == "ROOT" else a for a in command]
    result = CliRunner().invoke(app, [*args, "--executor", "ray"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "pip install 'serkit[cluster]'" in result.output and "Traceback" not in result.output


def test_the_executor_option_takes_local_ray_or_a_ray_client_address():
    from serkit.cluster import Executor

    assert Executor.parse("local") == Executor() and not Executor().ray
    assert Executor.parse("ray") == Executor("ray", None)
    assert Executor.parse("ray://head:10001").address == "ray://head:10001"
    for wrong in ("ray://", "slurm", "head:10001"):
        with pytest.raises(SerkitError, match="local, ray or ray://HOST:PORT"):
            Executor.parse(wrong)


def test_a_remote_cluster_is_given_the_device_that_features_run_on(monkeypatch):
    """--device sets $SERKIT_DEVICE here; a ray:// cluster's workers do not inherit this process's
    environment, so the connection hands it over (a local instance's workers inherit it)."""
    import serkit.cluster as cluster

    calls = []

    class FakeRay:
        def is_initialized(self):
            return False

        def init(self, **options):
            calls.append(options)

        def cluster_resources(self):
            return {"CPU": 2}

        def shutdown(self):
            pass

    monkeypatch.setattr(cluster, "import_ray", FakeRay)
    monkeypatch.setenv("SERKIT_DEVICE", "cuda")
    with cluster.ray_session("ray://head:10001"):
        pass
    assert calls[-1]["address"] == "ray://head:10001"
    assert calls[-1]["runtime_env"] == {"env_vars": {"SERKIT_DEVICE": "cuda"}}
    monkeypatch.delenv("SERKIT_DEVICE")
    with cluster.ray_session("ray://head:10001"):
        pass
    assert calls[-1]["runtime_env"] is None

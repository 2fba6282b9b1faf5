"""``serkit grid``: several recipes cross-validated at once, every (recipe, fold) pair one task, locally
(--jobs) and on a local Ray instance of two workers, on real EMO-DB; each recipe's run folder is the one
``serkit cv`` writes, and either command resumes it."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from serkit.cli.main import RunOptions, app
from serkit.errors import SerkitError
from serkit.experiments.executors import RayExecutor, interleaved
from serkit.experiments.grid import dependency_stages, run_grid

from conftest import emodb_subset

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="ray is not installed (pip install 'serkit[cluster]', or the test extra)")

#: Four speakers, two folds of two.  A fold of the tiny BLSTM lasts seconds, long enough for the other
#: recipe's first fold (a logistic regression on pooled log-mels) to run beside it on Ray.
SPEAKERS = ("03", "08", "09", "10")
COMMON = "corpus: emodb\nclasses: 4class\nfeatures: logmel-seed000\nprotocol: speaker-kfold:2\nvalidation: speakers:1\n"
RECIPES = {
    "grid-blstm": COMMON + "model: blstm\nmodel_options: {hidden: 8}\ntrain: {epochs: 1}\n",
    "grid-logistic": COMMON + "model: logistic\nmodel_options: {pooling: mean}\n",
}
#: How every command here runs: one extraction process, one torch thread per fold.
SETTINGS = ["--workers", "1", "--threads", "1"]


@pytest.fixture(scope="module")
def corpus(emodb_root, tmp_path_factory):
    return emodb_subset(emodb_root, tmp_path_factory.mktemp("corpus"), SPEAKERS)


@pytest.fixture(scope="module")
def configs(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("recipes")
    for name, text in RECIPES.items():
        (folder / f"{name}.yaml").write_text(f"name: {name}\n{text}")
    return [folder / f"{name}.yaml" for name in RECIPES]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


def invoke(*args: str | Path) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def separate(configs, corpus, cache, tmp_path_factory) -> Path:
    """The reference: each recipe on its own, ``serkit cv --jobs 1``."""
    root = tmp_path_factory.mktemp("separate")
    for config in configs:
        invoke("cv", "--config", config, "--root", corpus, "--out", root / config.stem, "--cache", cache, *SETTINGS)
    return root


def results(run: Path) -> dict:
    return {k: v for k, v in json.loads((run / "results.json").read_text()).items() if k not in ("seconds", "cpu_seconds")}


def predictions(run: Path) -> list[dict]:
    folds = sorted((run / "folds").glob("*/predictions.json"))
    assert len(folds) == 2
    return [{k: v for k, v in json.loads(p.read_text()).items() if k not in ("seconds", "cpu_seconds")} for p in folds]


def assert_same_runs(grid_root: Path, separate: Path) -> None:
    for name in RECIPES:
        assert results(grid_root / name) == results(separate / name), name  # figures, config and data hashes
        assert predictions(grid_root / name) == predictions(separate / name), name


def test_a_local_grid_writes_each_recipe_s_run_as_serkit_cv_does_and_either_resumes_it(configs, corpus, cache,
                                                                                       separate, tmp_path):
    out = tmp_path / "grid"
    printed = invoke("grid", *configs, "--out-root", out, "--root", corpus, "--cache", cache, "--jobs", "2", *SETTINGS)
    assert_same_runs(out, separate)
    assert all(f"{name}:" in printed for name in RECIPES)
    for name in RECIPES:
        assert {p.name for p in (out / name).iterdir()} >= {"results.json", "report.md", "recipe.json", "run.json"}

    written = {p: p.stat().st_mtime_ns for p in out.glob("*/folds/*/predictions.json")}
    invoke("grid", *configs, "--out-root", out, "--root", corpus, "--cache", cache, *SETTINGS)
    invoke("cv", "--config", configs[0], "--root", corpus, "--out", out / configs[0].stem, "--cache", cache, *SETTINGS)
    assert {p: p.stat().st_mtime_ns for p in written} == written  # resumed: no fold fitted again
    assert_same_runs(out, separate)


@pytest.fixture(scope="module")
def ray_instance():
    """A local Ray instance of two CPUs; the grid joins it."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


def attempts(run: Path) -> list[dict]:
    return [attempt for record in sorted((run / "folds").glob("*/worker.json"))
            for attempt in json.loads(record.read_text())["attempts"]]


@needs_ray
def test_a_grid_on_ray_runs_folds_of_two_recipes_at_once_with_the_figures_of_separate_runs(
        ray_instance, configs, corpus, cache, separate, tmp_path):
    from serkit.features.cache import FeatureCache

    out = tmp_path / "grid"
    runs = [(RunOptions(config=config, root=corpus).recipe(), out / config.stem) for config in configs]
    run_grid(runs, cache=FeatureCache(cache), workers=1, threads=1, executor=RayExecutor())
    assert_same_runs(out, separate)
    blstm, logistic = (attempts(out / name) for name in RECIPES)
    assert len(blstm) == len(logistic) == 2 and all(a["ended"] is not None for a in blstm + logistic)
    # a fold of one recipe started before a fold of the other ended, and the other way round
    assert any(max(a["started"], b["started"]) < min(a["ended"], b["ended"]) for a in blstm for b in logistic)


def test_folds_are_dealt_out_recipe_by_recipe_in_turn():
    work = [("a", ["a0", "a1", "a2"]), ("b", ["b0"]), ("c", ["c0", "c1"])]
    assert [fold for _, fold in interleaved(work)] == ["a0", "b0", "c0", "a1", "c1", "a2"]
    assert [number for number, _ in interleaved(work)] == [0, 1, 2, 0, 2, 0]


def test_two_recipes_into_one_run_folder_are_refused(tmp_path):
    recipe = RunOptions().recipe()
    with pytest.raises(SerkitError, match="one run folder"):
        run_grid([(recipe, tmp_path / "a"), (recipe, tmp_path / "x" / ".." / "a")])
    assert not (tmp_path / "a").exists()  # refused before any folder is made


def test_a_run_that_starts_from_another_run_of_the_grid_waits_for_it(configs, corpus, cache, separate, tmp_path):
    """Seed 001's grid: a transfer recipe whose ``init`` is a base run of the same grid, named first,
    runs after the base has finished, each fold from the base's same fold, as ``serkit cv`` runs it."""
    out = tmp_path / "grid"
    transfer = tmp_path / "grid-transfer.yaml"
    transfer.write_text(f"name: grid-transfer\n{RECIPES['grid-blstm']}init: {out / 'grid-blstm'}\nfreeze: 1\n")
    invoke("grid", transfer, configs[0], "--out-root", out, "--root", corpus, "--cache", cache, "--jobs", "2",
           *SETTINGS)
    assert results(out / "grid-blstm") == results(separate / "grid-blstm")
    report = (out / "grid-transfer" / "report.md").read_text()
    assert str(out / "grid-blstm") in report
    # the same row run on its own from the grid's base run
    alone = tmp_path / "alone"
    invoke("cv", "--config", transfer, "--root", corpus, "--out", alone, "--cache", cache, *SETTINGS)
    assert predictions(alone) == predictions(out / "grid-transfer")


def test_runs_that_start_from_each_other_in_a_circle_are_refused(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    recipes = [RunOptions().recipe(), RunOptions().recipe()]
    recipes = [dataclasses.replace(recipes[0], init=str(b)), dataclasses.replace(recipes[1], init=str(a))]
    with pytest.raises(SerkitError, match="circle"):
        run_grid([(recipes[0], a), (recipes[1], b)])
    assert not a.exists() and not b.exists()
    assert dependency_stages([dataclasses.replace(recipes[0], init=None), recipes[1]], [a, b]) == [[0], [1]]

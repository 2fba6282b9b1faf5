"""Seed 002's heads side by side (benchmarks/seed002_heads.py) on real runs: each pair compared by
the paired speaker bootstrap, saved, and the ordering said from the intervals."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from serkit.evaluation import BootstrapConfig
from serkit.experiments import Recipe, run_cv
from serkit.features.cache import FeatureCache

REPO = Path(__file__).resolve().parents[1]
sys.path.append(str(REPO / "benchmarks"))  # the benchmark scripts import each other by name

from seed002_heads import compare_heads, markdown, recipe  # noqa: E402

#: Stand-ins trained for real: attention a classifier that learns, the other two the majority class.
MODELS = {"attention": "svm", "gap": "majority", "bilinear": "majority"}


def test_heads_are_compared_pairwise_and_only_an_interval_clear_of_zero_is_called_real(emodb_root, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    runs = tmp_path / "runs"
    for head, model in MODELS.items():
        name = recipe(head, "cheap-peak")
        run_cv(Recipe(name=name, root=str(emodb_root), model=model, features="loudness", protocol="loso"),
               runs / "seed002" / name, cache=cache, workers=1)
    results, comparisons = compare_heads(runs, "cheap-peak", BootstrapConfig(n_resamples=500))
    assert len(comparisons) == 3
    by_pair = {(c["better"], c["worse"]): c for c in comparisons}
    for worse in ("gap", "bilinear"):
        found = by_pair["attention", worse]
        assert found["candidate"] == results["attention"].pooled["ua"] and found["ci95"][0] > 0
    tie = by_pair.get(("gap", "bilinear")) or by_pair["bilinear", "gap"]
    assert tie["difference"] == 0 and tie["ci95"] == [0, 0]
    saved = runs / "seed002" / "comparisons" / "seed002-cnn_tf-attention-cheap-peak-vs-seed002-cnn_tf-gap-cheap-peak.json"
    assert json.loads(saved.read_text())["difference"] == by_pair["attention", "gap"]["difference"]
    text = markdown("cheap-peak", results, comparisons)
    assert f"**{100 * results['attention'].pooled['ua']:.1f}**" in text
    assert "beats both other heads here" in text and text.count("| yes |") == 2 and text.count("| no |") == 1

    (runs / "seed002" / recipe("gap", "cheap-peak") / "folds" / "03" / "predictions.json").unlink()  # ran elsewhere
    (runs / "seed002" / recipe("bilinear", "cheap-peak") / "results.json").unlink()  # not finished
    results, comparisons = compare_heads(runs, "cheap-peak", BootstrapConfig(n_resamples=200))
    assert set(results) == {"gap", "attention"} and comparisons == []
    text = markdown("cheap-peak", results, comparisons)
    assert "| bilinear | `seed002-cnn_tf-bilinear-cheap-peak-scaled` | 64.16 / 69.17 | not run yet |" in text
    assert "| gap | `seed002-cnn_tf-gap-cheap-peak` | 67.54 / 71.35 | **25.0** |" in text and "stays open" in text


def test_the_budget_counts_earlier_calls_whose_processor_time_was_not_kept(tmp_path):
    """A fold resumed before processor time was carried over adds its earlier calls' wall minutes."""
    from results_table import uncounted_minutes  # noqa: PLC0415

    members = {"00": [{"earlier_seconds": 600.0}],  # resumed before: 10 minutes not in cpu_seconds
               "01": [{"earlier_seconds": 300.0, "earlier_cpu_seconds": 290.0}],  # already counted
               "02": [{"earlier_seconds": 0.0}]}
    for fold, fold_members in members.items():
        (tmp_path / "folds" / fold).mkdir(parents=True)
        (tmp_path / "folds" / fold / "predictions.json").write_text(json.dumps({"members": fold_members}))
    assert uncounted_minutes(tmp_path) == 10.0

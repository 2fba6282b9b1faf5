"""Seed 002's training-fix check (benchmarks/seed002_fix.py): only validation figures are read, the
highest mean per head is marked, and a candidate without a run or a kept validation UA says so."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path.append(str(REPO / "benchmarks"))  # the benchmark scripts import each other by name

from seed002_fix import CANDIDATES, markdown, rows, validation_uas  # noqa: E402


def test_validation_uas_reads_the_first_folds_validation_figures_not_the_test_ones():
    results = SimpleNamespace(folds=[{"ua": 0.1, "validation_ua": 0.7}, {"ua": 0.2, "validation_ua": 0.6},
                                     {"ua": 0.3, "validation_ua": 0.5}, {"ua": 0.4, "validation_ua": 0.9}])
    assert validation_uas(results, 3) == [0.7, 0.6, 0.5]
    assert validation_uas(results, 5) is None  # fewer folds than asked
    results.folds[1]["validation_ua"] = None
    assert validation_uas(results, 3) is None  # a fold that kept none


def test_markdown_bolds_each_heads_best_mean_and_lists_candidates_not_run(tmp_path):
    table = rows(tmp_path, 3)  # no run here: every candidate not run
    assert all(uas is None for candidates in table.values() for uas in candidates.values())
    gap = list(CANDIDATES["gap"])
    table["gap"] = {gap[0]: [0.5, 0.5, 0.5], gap[1]: [0.8, 0.6, 0.7], gap[2]: None}
    text = markdown(table, 3)
    assert f"| `{gap[1]}` | {CANDIDATES['gap'][gap[1]]} | 80.0 | 60.0 | 70.0 | **70.0** |" in text
    assert f"| `{gap[0]}` | {CANDIDATES['gap'][gap[0]]} | 50.0 | 50.0 | 50.0 | 50.0 |" in text
    assert f"| `{gap[2]}` | {CANDIDATES['gap'][gap[2]]} |  |  |  | not run |" in text
    assert text.count("**") == 2  # only gap has figures to bold


def test_rows_read_a_committed_runs_validation_figures(tmp_path):
    name = "seed002-cnn_tf-attention-cheap-peak"
    committed = REPO / "runs" / "seed002" / name / "results.json"
    (tmp_path / "seed002" / name).mkdir(parents=True)
    (tmp_path / "seed002" / name / "results.json").write_text(committed.read_text())
    found = rows(tmp_path, 3)["attention"]
    expected = [fold["validation_ua"] for fold in json.loads(committed.read_text())["folds"][:3]]
    assert found[name] == expected and found["seed002-cnn_tf-attention-cheap"] is None

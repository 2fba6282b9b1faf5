"""Seed 002's filter-shape study (benchmarks/seed002_filter_shapes.py): the answer to the issue's
question, and what is still missing, said from the shapes in its JSON."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.append(str(REPO / "benchmarks"))  # the benchmark scripts import each other by name

from seed002_filter_shapes import HEIGHTS, WIDTHS, answer, markdown, write_points  # noqa: E402


def point(height: int, width: int, wa: float, validation_ua: float) -> dict:
    return {"height": height, "width": width, "config_hash": "0" * 16, "wa": wa, "ua": wa, "wa_fold_std": 0.05,
            "validation_ua": validation_ua, "accuracy": {"anger": 0.9}, "minutes": 15.0}


def sweep(best_height: int, best_width: int) -> list[dict]:
    """Every shape of the study, the named ones best on their axis (test WA and validation UA)."""
    return ([point(h, 2, 0.6 if h == best_height else 0.4, 0.5 if h == best_height else 0.3) for h in HEIGHTS]
            + [point(2, w, 0.6 if w == best_width else 0.4, 0.5 if w == best_width else 0.3) for w in WIDTHS if w != 2])


def test_the_papers_shapes_best_on_both_axes_is_a_yes_and_nothing_is_missing():
    lines = answer(sweep(10, 8))
    assert lines[0].startswith("Do 10x2 and 2x8 come out best on EMO-DB too? Yes")
    assert "height 10 ranks 1 of 8" in lines[0] and "width 8 ranks 1 of 8" in lines[0]
    assert not any("Under way" in line for line in lines)


def test_another_best_shape_is_a_no_with_the_papers_ranks():
    lines = answer(sweep(25, 8))
    assert "? No:" in lines[0] and "height 10 ranks 2 of 8 by test WA and 2 by validation UA" in lines[0]


def test_missing_shapes_are_named_and_the_json_keeps_both_processes_points(tmp_path):
    path = tmp_path / "shapes.json"
    write_points(path, 1, [p for p in sweep(10, 8) if p["width"] == 2])  # one process: the heights
    data = write_points(path, 1, [point(2, 8, 0.5, 0.4)])  # another: one width, read again before writing
    assert len(data["points"]) == len(HEIGHTS) + 1 and "--widths 2 8" in data["command"]
    text = markdown(data)
    assert "**Under way**: 9 of 15 shapes; not run yet: 2x4, 2x6, 2x12, 2x20, 2x40, 2x80." in text
    assert "height 10 ranks 1 of 8" in text

"""One progress-callback type for every stage."""

from __future__ import annotations

from serkit.progress import for_stage


def test_one_progress_type_and_its_per_stage_form():
    calls = []
    report = for_stage(lambda stage, done, total: calls.append((stage, done, total)), "features")
    report(2, 5)
    assert calls == [("features", 2, 5)] and for_stage(None, "x") is None

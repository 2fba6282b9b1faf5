"""The files between stages: one schema each, and every file written before the schemas still reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from serkit.artifacts import CvResults, FoldResult, ModelInfo, read_model_info
from serkit.errors import SerkitError

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "src" / "serkit" / "inference" / "models").glob("*/model.json"))
RUNS = sorted((REPO / "runs").rglob("results.json"))


def plain(data: dict) -> dict:
    """As JSON holds it (tuples become lists)."""
    return json.loads(json.dumps(data))


def test_there_is_something_to_read():
    assert len(SHIPPED) >= 2 and len(RUNS) >= 40


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_every_shipped_model_folder_reads_and_round_trips(path):
    info = read_model_info(path.parent)
    assert info.labels and info.model["config"]["n_dims"] > 0 and info.features["family"]
    written = json.loads(path.read_text())
    # a file from before the schema had no version (a newer one has it); everything else round-trips as it was
    assert ({k: v for k, v in plain(info.to_dict()).items() if k != "schema"}
            == {k: v for k, v in written.items() if k != "schema"})


@pytest.mark.parametrize("path", RUNS, ids=lambda p: str(p.parent.relative_to(REPO / "runs")))
def test_every_committed_results_file_reads_and_round_trips(path):
    results = CvResults.read(path)
    written = json.loads(path.read_text())
    assert results.pooled == written["pooled"] and results.config_hash == written["config_hash"]
    later = ("schema", "threads")  # written only by runs since these fields exist
    assert ({k: v for k, v in plain(results.to_dict()).items() if k not in later}
            == {k: v for k, v in written.items() if k not in later})


def test_a_results_file_of_the_wrong_shape_names_the_field(tmp_path):
    good = json.loads(RUNS[0].read_text())
    (tmp_path / "results.json").write_text(json.dumps({**good, "n_utterances": "many"}))
    with pytest.raises(SerkitError, match="n_utterances must be an integer"):
        CvResults.read(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({**good, "surprise": 1}))
    with pytest.raises(SerkitError, match="surprise"):
        CvResults.read(tmp_path)
    (tmp_path / "results.json").write_text("{half")
    with pytest.raises(SerkitError, match="unreadable cross-validation results"):
        CvResults.read(tmp_path)


def test_a_model_from_a_newer_serkit_is_refused_by_name():
    with pytest.raises(SerkitError, match="newer than this serkit"):
        ModelInfo.from_dict({"schema": 99}, "model.json")


def test_older_fold_results_get_their_validation_ua_from_what_they_recorded():
    base = {"fold": {"name": "f"}, "ids": ["a"], "speakers": ["s"], "y_true": ["x"], "y_pred": ["x"],
            "scores": [[1.0]], "seconds": 1.0}
    members = [{"chosen_epoch": 2, "history": [{"validation_ua": 0.2}, {"validation_ua": 0.6}]},
               {"chosen_epoch": 1, "history": [{"validation_ua": 0.4}]}]
    assert FoldResult.from_dict({**base, "members": members}, "p").validation_ua == pytest.approx(0.5)
    chosen = {"c": 0.01, "validation_ua": {"0.01": 0.7, "0.1": 0.6}}
    assert FoldResult.from_dict({**base, "chosen": chosen}, "p").validation_ua == 0.7
    assert FoldResult.from_dict({**base, "validation_ua": 0.3, "chosen": chosen}, "p").validation_ua == 0.3


def test_checkpoints_written_before_the_schema_still_read():
    info = ModelInfo.from_dict({"labels": ["a"], "step": 12, "position": {"epoch": 1, "batch": 3}}, "old")
    assert info.checkpoint == {"step": 12, "position": {"epoch": 1, "batch": 3}}

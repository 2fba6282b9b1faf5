"""``serkit predict``, ``models`` and ``export`` through the command line."""

from __future__ import annotations

import csv
import io
import json

import pytest
import typer
from typer.testing import CliRunner

from serkit.cli.inference import expand_paths, register
from test_inference_predict import SPEAKERS, train_tiny_model


@pytest.fixture(scope="module")
def cli():
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def tiny_model(emodb_root, tmp_path_factory):
    return train_tiny_model(emodb_root, tmp_path_factory)


@pytest.fixture(scope="module")
def clips(emodb_wavs):
    return [w for w in emodb_wavs if w.name[:2] not in SPEAKERS][:3]


def test_json_is_one_array_and_a_failure_sets_the_exit_status(cli, tiny_model, clips, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_text("text")
    result = cli("predict", clips[0], bad, clips[1], "--model", tiny_model, "--format", "json")
    assert result.exit_code == 1
    elements = json.loads(result.stdout)
    assert [e["path"] for e in elements] == [str(clips[0]), str(bad), str(clips[1])]
    assert set(elements[0]) == {"path", "duration", "label", "probabilities"}
    assert sum(elements[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert "not a readable audio file" in elements[1]["error"] and "label" not in elements[1]
    good = cli("predict", *clips, "--model", tiny_model, "--format", "json", "--batch-size", "2")
    assert good.exit_code == 0 and len(json.loads(good.stdout)) == 3


def test_folders_globs_and_csv(cli, tiny_model, clips, tmp_path):
    (tmp_path / "in" / "deep").mkdir(parents=True)
    for i, clip in enumerate(clips):
        (tmp_path / "in" / ("deep" if i else "") / f"c{i}.wav").symlink_to(clip)
    result = cli("predict", tmp_path / "in", f"{tmp_path}/in/deep/*.wav", f"{tmp_path}/nothing*.wav",
                 "--model", tiny_model, "--format", "csv")
    assert result.exit_code == 1  # the glob that matched nothing
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["path"].removeprefix(f"{tmp_path}/") for r in rows] == [
        "in/c0.wav", "in/deep/c1.wav", "in/deep/c2.wav", "in/deep/c1.wav", "in/deep/c2.wav", "nothing*.wav"]
    assert rows[0]["label"] in ("anger", "happiness", "neutral", "sadness") and not rows[0]["error"]
    assert "no file matches" in rows[-1]["error"]


def test_table_shows_segments_of_a_segmented_file(cli, tiny_model, clips):
    result = cli("predict", clips[0], "--model", tiny_model, "--segment", "0.5")
    assert result.exit_code == 0, result.output
    assert result.stdout.count(" s ") >= 2 and "anger" in result.stdout  # segment rows, class columns


def test_models_export_and_onnx_predict(cli, tiny_model, clips, tmp_path):
    from serkit.inference import shipped_models

    listed = cli("models")
    assert listed.exit_code == 0
    assert "whisper-tiny.en" in listed.stdout and "whisper-base" in listed.stdout  # the recognizers
    if any(m.name == "default" for m in shipped_models()):
        assert "default" in listed.stdout and cli("predict", clips[0]).exit_code == 0
    else:
        assert "no default model is installed" in cli("predict", clips[0]).output
    out = tmp_path / "m.onnx"
    exported = cli("export", "--model", tiny_model, "--out", out)
    assert exported.exit_code == 0 and out.is_file(), exported.output
    via_onnx = json.loads(cli("predict", clips[0], "--model", out, "--format", "json").stdout)
    via_torch = json.loads(cli("predict", clips[0], "--model", tiny_model, "--format", "json").stdout)
    assert via_onnx[0]["label"] == via_torch[0]["label"]
    for k, v in via_torch[0]["probabilities"].items():
        assert via_onnx[0]["probabilities"][k] == pytest.approx(v, abs=1e-4)
    assert cli("export", "--model", tiny_model, "--out", out, "--format", "tflite").exit_code == 1
    assert cli("predict", clips[0], "--model", tiny_model, "--segment", "often").exit_code == 1


def test_expand_paths_keeps_missing_files_for_their_own_error(tmp_path):
    files, unmatched = expand_paths([str(tmp_path / "gone.wav"), str(tmp_path)])
    assert files == [str(tmp_path / "gone.wav")]
    assert unmatched == [(str(tmp_path), unmatched[0][1])] and "no audio files" in unmatched[0][1]

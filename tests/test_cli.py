"""The command line, run as a user runs it: real files, real exit codes, no tracebacks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from serkit.cli.main import app

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "emodb"
runner = CliRunner()


def serkit(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_every_command_has_help():
    for command in ([], ["corpus"], ["corpus", "info"], ["corpus", "list"], ["features"], ["kinds"], ["cv"],
                    ["train"]):
        result = serkit(*command, "--help")
        assert result.exit_code == 0, command
        assert "Usage" in result.output


def test_corpus_info_json_on_emodb(emodb_root):
    result = serkit("corpus", "info", "--corpus", "emodb", "--root", str(emodb_root), "--json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["corpus"] == "emodb"
    assert summary["utterances"] == 535
    assert summary["speakers"] == 10
    expected = {"anger": 127, "boredom": 81, "disgust": 46, "fear": 69,
                "happiness": 71, "sadness": 62, "neutral": 79}
    assert {k: summary["labels"].get(k) for k in expected} == expected
    assert sum(summary["labels"].values()) == 535
    assert 0.40 < summary["hours"] < 0.42  # 24.8 minutes


def test_corpus_info_on_bundled_examples_counts_them():
    result = serkit("corpus", "info", "--corpus", "emodb", "--root", str(EXAMPLES), "--json")
    summary = json.loads(result.stdout)
    names = sorted(p.name for p in (EXAMPLES / "wav").glob("*.wav"))
    assert summary["utterances"] == len(names)
    assert summary["speakers"] == len({n[:2] for n in names})


def test_corpus_with_a_bad_file_fails_then_skips(tmp_path):
    root = tmp_path / "emodb"
    shutil.copytree(EXAMPLES / "wav", root / "wav")
    bad = root / "wav" / "03a01Wa.wav"
    bad.write_text("not audio")
    failed = serkit("corpus", "info", "--corpus", "emodb", "--root", str(root))
    assert failed.exit_code == 1
    assert "03a01Wa.wav" in failed.output and "Traceback" not in failed.output
    skipped = serkit("corpus", "info", "--corpus", "emodb", "--root", str(root), "--json", "--skip-bad")
    assert skipped.exit_code == 0
    assert json.loads(skipped.stdout)["utterances"] == 5
    assert "03a01Wa.wav" in skipped.stderr


def test_features_writes_arrays_on_the_shared_grid(tmp_path):
    out = tmp_path / "out"
    result = serkit("features", "--kind", "logmel-seed001", str(EXAMPLES / "wav"),
                    "--out", str(out), "--cache", str(tmp_path / "cache"), "--workers", "1")
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "features.json").read_text())
    assert manifest["kind"] == "logmel-seed001"
    assert len(manifest["files"]) == 5
    for path, entry in manifest["files"].items():
        array = np.load(out / entry["file"])
        import soundfile as sf

        assert array.shape == (40, 1 + sf.info(path).frames // 160)


def test_features_unknown_kind_is_one_clear_line():
    result = serkit("features", "--kind", "nope", str(EXAMPLES / "wav"))
    assert result.exit_code == 1
    assert "unknown feature kind 'nope'" in result.output
    assert "Traceback" not in result.output


def test_features_with_a_garbage_whisper_checkpoint_is_one_clear_line(tmp_path):
    garbage = tmp_path / "encoder.pt"
    garbage.write_bytes(np.random.default_rng(0).bytes(1000))  # not a pickle: torch refuses it while unpickling
    result = serkit("features", "--kind", f"whisper-base:model={garbage}", "--no-cache", "--workers", "1",
                    str(EXAMPLES / "wav" / "08a02Ab.wav"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{garbage}: not an OpenAI Whisper checkpoint (not a file of PyTorch tensors)" in result.output


def test_kinds_lists_every_paper_preset():
    result = serkit("kinds")
    for name in ("spectrogram-seed000", "logmel-seed001", "fbank-kaldi", "mfcc-seed000", "mulaw-seed002",
                 "egemaps", "compare"):
        assert name in result.output


@pytest.mark.parametrize("argv", [["--help"], ["kinds"]])
def test_module_entry_point_runs(argv):
    done = subprocess.run([sys.executable, "-m", "serkit", *argv], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


def test_train_from_cv_refuses_other_results(tmp_path):
    """--from-cv puts the run's own held-out figures on the card; another results.json would contradict it."""
    recipe = REPO / "recipes" / "seed003" / "seed003-ds2-librispeech.yaml"
    result = serkit("train", "--config", str(recipe), "--from-cv", str(tmp_path / "run"),
                    "--cv-results", str(tmp_path / "results.json"), "--out", str(tmp_path / "model"))
    assert result.exit_code != 0
    assert "drop --cv-results" in result.output
    assert not (tmp_path / "model").exists()

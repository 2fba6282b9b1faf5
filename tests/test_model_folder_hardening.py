"""A model folder is contained and checked: every way of breaking one is a one-line error naming
the file and the reason, before anything is allocated, through the library and the CLI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from serkit.errors import ConfigError, SerkitError
from serkit.features.whisper.registry import checkpoint_in_folder
from serkit.inference import load_model
from serkit.inference.registry import SHIPPED_MODELS
from serkit.models.registry import MAX_PARAMETERS, build_model

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "examples" / "emodb" / "wav" / "08a02Ab.wav"
SERKIT = Path(sys.executable).parent / "serkit"


def copy_model(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(SHIPPED_MODELS / name, folder)
    return folder


def edit_info(folder: Path, change: Callable[[dict], None]) -> None:
    info = json.loads((folder / "model.json").read_text())
    change(info)
    (folder / "model.json").write_text(json.dumps(info))


def set_recognizer(folder: Path, value: str) -> None:
    edit_info(folder, lambda info: info["features"]["config"].update(model=value))


def garbage_checkpoint(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x80\x02not a pickle at all" * 40)
    return path


def without_export(folder: Path) -> None:
    # An up-to-date model.onnx carries its own copy of the settings and runs instead of PyTorch,
    # so settings that only PyTorch's reading uses are broken in a folder without one.
    (folder / "model.onnx").unlink()


# -- each corruption: (shipped folder, how to break it, what the error says) -------------------


def outside_absolute(folder: Path) -> None:
    set_recognizer(folder, str(garbage_checkpoint(folder.parent / "elsewhere" / "encoder.pt")))


def outside_dotdot(folder: Path) -> None:
    garbage_checkpoint(folder.parent / "encoder.pt")
    set_recognizer(folder, "../encoder.pt")


def outside_symlink(folder: Path) -> None:
    (folder / "encoder.pt").symlink_to(garbage_checkpoint(folder.parent / "elsewhere" / "encoder.pt"))
    set_recognizer(folder, "encoder.pt")


def checkpoint_missing(folder: Path) -> None:
    set_recognizer(folder, "encoder.pt")


def checkpoint_garbage(folder: Path) -> None:
    garbage_checkpoint(folder / "encoder.pt")
    set_recognizer(folder, "encoder.pt")


def weights_truncated(folder: Path) -> None:
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 3])


def weights_missing(folder: Path) -> None:
    (folder / "model.safetensors").unlink()


def weights_other_shapes(folder: Path) -> None:
    without_export(folder)
    edit_info(folder, lambda info: info["model"]["config"].update(channels=[16, 64, 128]))


def fc_units_huge(folder: Path) -> None:
    edit_info(folder, lambda info: info["model"]["config"].update(fc_units=10**9))


def fc_units_float(folder: Path) -> None:
    edit_info(folder, lambda info: info["model"]["config"].update(fc_units=1e9))


def fc_units_string(folder: Path) -> None:
    edit_info(folder, lambda info: info["model"]["config"].update(fc_units="128"))


def n_mels_string(folder: Path) -> None:
    without_export(folder)
    edit_info(folder, lambda info: info["features"]["config"].update(n_mels="40"))


def normaliser_short(folder: Path) -> None:
    without_export(folder)
    edit_info(folder, lambda info: info["normaliser"].update(mean=[0.0] * 39, std=[1.0] * 39))


def json_invalid(folder: Path) -> None:
    (folder / "model.json").write_text('{"model": {"name": "cnn",')


def json_not_a_mapping(folder: Path) -> None:
    (folder / "model.json").write_text("[1, 2, 3]")


def onnx_garbage(folder: Path) -> None:
    (folder / "model.onnx").write_bytes(b"\x08\x07garbage that is not protobuf\xff\xff" * 10)


def card_not_a_mapping(folder: Path) -> None:
    (folder / "card.json").write_text('"a card"')


def contained(file: str, reason: str) -> Callable[[Path], str]:
    return lambda folder: f"{folder / file if file else folder}: .*{reason}"


OUTSIDE = "must be one of whisper-tiny.en, whisper-base or a path inside the model folder"
CASES = {
    "absolute path": ("accurate", outside_absolute, lambda f: f"{f}: recognizer checkpoint '/.*': {OUTSIDE}"),
    "dotdot path": ("accurate", outside_dotdot, lambda f: f"{f}: recognizer checkpoint '../encoder.pt': {OUTSIDE}"),
    "symlink out": ("accurate", outside_symlink, contained("", "a symbolic link leads out of the model folder")),
    "checkpoint missing": ("accurate", checkpoint_missing, contained("", "no such file or folder in the model folder")),
    "garbage .pt": ("accurate", checkpoint_garbage,
                    lambda f: re.escape(f"{f.resolve()}/encoder.pt: not an OpenAI Whisper checkpoint (not a file of PyTorch tensors)")),
    "truncated safetensors": ("accurate", weights_truncated, contained("model.safetensors", "unreadable weights")),
    "missing safetensors": ("accurate", weights_missing, contained("model.safetensors", "unreadable weights")),
    "other shapes": ("default-emodb", weights_other_shapes, contained("", "weights do not fit the model in model.json")),
    "fc_units 10**9": ("default-emodb", fc_units_huge, contained("model.json", "parameters, more than the 100,000,000")),
    "fc_units 1e9": ("default-emodb", fc_units_float,
                     contained("model.json", "model.config.fc_units must be an integer, got 1000000000.0")),
    "fc_units string": ("default-emodb", fc_units_string,
                        contained("model.json", "model.config.fc_units must be an integer, got '128'")),
    "n_mels string": ("default-emodb", n_mels_string, contained("", "features.config.n_mels must be an integer, got '40'")),
    "short normaliser": ("default-emodb", normaliser_short, contained("", "a normaliser of 39 dimensions for a model of 40")),
    "invalid JSON": ("default", json_invalid, contained("model.json", "unreadable model settings")),
    "JSON list": ("default", json_not_a_mapping, contained("model.json", "a JSON object of model settings")),
    "garbage onnx": ("default-emodb", onnx_garbage, contained("model.onnx", "not a readable ONNX model")),
    "card list": ("default", card_not_a_mapping, contained("card.json", "a model card is a JSON object, not str")),
}


@pytest.mark.parametrize("case", CASES)
def test_a_broken_model_folder_is_refused_naming_the_file_and_the_reason(tmp_path, case):
    shipped, corrupt, message = CASES[case]
    folder = copy_model(tmp_path, shipped)
    corrupt(folder)
    for backend in ("auto",) if corrupt is onnx_garbage else ("auto", "torch"):  # torch never reads it
        with pytest.raises(SerkitError, match=message(folder)) as caught:
            load_model(folder, backend=backend).predict_file(CLIP)
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize("case", ["absolute path", "dotdot path", "garbage .pt", "truncated safetensors",
                                  "fc_units 10**9", "fc_units string", "invalid JSON", "garbage onnx"])
def test_the_cli_answers_a_broken_model_folder_with_one_line(tmp_path, case):
    shipped, corrupt, message = CASES[case]
    folder = copy_model(tmp_path, shipped)
    corrupt(folder)
    result = subprocess.run([str(SERKIT), "predict", "--model", str(folder), str(CLIP)],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), output


def test_a_checkpoint_path_resolves_inside_the_folder_not_the_working_directory(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    (folder / "encoder").mkdir(parents=True)
    (folder / "encoder" / "model.bin").write_bytes(b"")
    elsewhere = tmp_path / "cwd"
    (elsewhere / "encoder").mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    assert checkpoint_in_folder("encoder", folder) == str((folder / "encoder").resolve())
    assert checkpoint_in_folder("whisper-base", folder) == "whisper-base"
    with pytest.raises(ConfigError, match="no such file or folder in the model folder"):
        checkpoint_in_folder("other", folder)


def test_a_symlink_out_inside_a_checkpoint_folder_is_refused(tmp_path):
    folder = tmp_path / "model"
    (folder / "encoder").mkdir(parents=True)
    garbage_checkpoint(tmp_path / "outside.bin")
    (folder / "encoder" / "model.bin").symlink_to(tmp_path / "outside.bin")
    with pytest.raises(ConfigError, match="a symbolic link leads out of the model folder"):
        checkpoint_in_folder("encoder", folder)


def test_the_size_limit_fits_every_shipped_model_and_refuses_a_huge_one():
    for name in ("default", "default-emodb", "accurate", "accurate-emodb", "accurate-adapt"):
        assert load_model(name, backend="torch").labels
    largest = build_model("cnn_blstm", n_dims=129, n_classes=7)  # seed000-cnn_blstm-spectrogram, the largest
    assert sum(p.numel() for p in largest.parameters()) < MAX_PARAMETERS / 10
    with pytest.raises(ConfigError, match="parameters, more than"):
        build_model("blstm", n_dims=40, n_classes=4, hidden=100_000)

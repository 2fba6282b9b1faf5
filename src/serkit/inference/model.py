"""Loading a trained model into a :class:`~serkit.inference.predictor.Predictor`.

``load_model`` accepts what ``serkit predict --model`` accepts:

* nothing: the shipped ``default`` model;
* a shipped model's name (``serkit models`` lists them);
* a model folder written by ``serkit train`` (``model.safetensors`` and
  ``model.json``: weights and JSON, no pickle);
* an ``.onnx`` file written by ``serkit export``, run by onnxruntime.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from serkit.artifacts import INFO, ModelInfo, load_weights, read_model_info
from serkit.configs import check_types
from serkit.errors import ConfigError, SerkitError
from serkit.inference.frames import make_predictor
from serkit.inference.predictor import InferenceConfig, Predictor
from serkit.inference.spec import ModelSpec, one_line
from serkit.inference.registry import SHIPPED_MODELS, default_model_path, read_card, shipped_model_path, shipped_models
from serkit.models import UtteranceModel, model_from_config
from serkit.models.registry import check_model_config, config_class


class TorchBackend:
    """A PyTorch model in evaluation mode, on the CPU."""

    def __init__(self, model: UtteranceModel):
        self.model = model.eval()

    def logits(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        # oneDNN stays on: without it a 2-D convolution unfolds its input (im2col), which for the
        # recognizer's (ds2) second convolution is about 0.5 GB per 12 s recording, so a batch of 32
        # long files took over 16 GB, and ran 3 times slower (torch 2.13; an LSTM's per-length
        # kernel building, which once made serkit turn it off, no longer shows).
        with torch.inference_mode():
            return self.model(torch.from_numpy(x), torch.from_numpy(lengths)).numpy()


def load_model(
    name_or_path: str | Path | None = None,
    config: InferenceConfig | None = None,
    models_dir: Path = SHIPPED_MODELS,
    backend: str = "auto",
) -> Predictor:
    """A predictor for a shipped model's name, a model folder or an ``.onnx`` file (default: ``default``).

    A model folder holding a ``model.onnx`` exported from its current weights runs through
    onnxruntime unless ``backend="torch"``.
    """
    path = resolve_model(name_or_path, models_dir)
    if path.suffix.lower() == ".onnx":
        from serkit.inference.onnx import load_onnx  # onnxruntime only when asked for

        return load_onnx(path, config)
    if backend not in ("auto", "torch"):
        raise SerkitError(f"backend must be 'auto' or 'torch', not {backend!r}")
    if backend == "auto":
        # The folder's own settings must hold whichever backend runs: a broken model.json is a
        # broken folder, even while an export from the same weights could still run.
        read_model_folder_info(path)
        read_card(path)
        # A folder that carries its own up-to-date export runs it: onnxruntime is several times
        # faster than PyTorch here (docs/benchmarks.md), with outputs equal within 1e-4 (tested).
        from serkit.inference.onnx import load_onnx

        exported = _folder_export(path)
        if exported is not None:
            return load_onnx(exported, config)
    spec, model = load_torch_model(path)
    return make_predictor(spec, TorchBackend(model), config)


def _folder_export(path: Path) -> Path | None:
    from serkit.inference.onnx import FOLDER_EXPORT, folder_export

    try:
        return folder_export(path)
    except Exception as error:  # onnx raises protobuf's decode errors, which it does not export
        raise SerkitError(f"{path / FOLDER_EXPORT}: not a readable ONNX model ({one_line(error)})") from None


def resolve_model(name_or_path: str | Path | None, models_dir: Path = SHIPPED_MODELS) -> Path:
    """The folder or ``.onnx`` file ``name_or_path`` means; a clear error if none."""
    if name_or_path is None:
        return default_model_path(models_dir)
    path = Path(name_or_path)
    if path.is_file() and path.suffix.lower() == ".onnx":
        return path
    if path.is_dir():
        if not (path / "model.json").is_file():
            raise SerkitError(f"{path}: not a model folder (no model.json; `serkit train` writes one)")
        return path
    shipped = shipped_model_path(str(name_or_path), models_dir)
    if shipped is not None:
        return shipped
    if path.exists():
        raise SerkitError(f"{path}: not a model (expected a model folder or an .onnx file)")
    names = ", ".join(m.name for m in shipped_models(models_dir)) or "none installed"
    raise SerkitError(f"{name_or_path}: no such model folder, .onnx file or shipped model (shipped: {names})")


def load_torch_model(model_dir: str | Path) -> tuple[ModelSpec, UtteranceModel]:
    """A model folder's specification and its network, weights loaded, in evaluation mode."""
    model_dir = Path(model_dir)
    info = read_model_folder_info(model_dir)
    spec = ModelSpec.from_info(info, read_card(model_dir), str(model_dir))
    model = model_from_config(info.model)
    try:
        model.load_state_dict(load_weights(model_dir))
    except RuntimeError as error:  # names or shapes that do not match model.json, one line each
        problems = [line.strip() for line in str(error).splitlines()[1:] if line.strip()] or [str(error)]
        more = f"; and {len(problems) - 1} more" if len(problems) > 1 else ""
        raise SerkitError(f"{model_dir}: weights do not fit the model in model.json ({problems[0]}{more})") from None
    if len(spec.labels) != model.n_classes:
        raise SerkitError(f"{model_dir}: {len(spec.labels)} labels for a model of {model.n_classes} classes")
    return spec, model.eval()


def read_model_folder_info(model_dir: str | Path) -> ModelInfo:
    """A model folder's ``model.json``, its model section checked before anything is built: each
    setting's type against the model's configuration, and its size against the models' limit."""
    path = Path(model_dir) / INFO
    info = read_model_info(model_dir)
    model = info.model
    if not isinstance(model, dict) or not isinstance(model.get("config"), dict):
        raise ConfigError(f"{path}: no model section (a mapping with the model's name and config)")
    try:
        check_types(config_class(model.get("name")), model["config"], "model.config.")
        check_model_config(model)
    except SerkitError as error:
        raise ConfigError(f"{path}: {error}") from None
    return info

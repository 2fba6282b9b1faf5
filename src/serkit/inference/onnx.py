"""ONNX export, and an onnxruntime backend behind the same predictor.

:func:`export_onnx` writes the network with dynamic batch and time axes
(inputs ``features`` ``(batch, dims, frames)`` float32 and ``lengths``
``(batch,)`` int64, output ``logits`` ``(batch, classes)``), and puts the
model folder's ``model.json`` (labels, feature configuration, normaliser,
fixed length, windows) and ``card.json`` into the graph's
``metadata_props``, so that the file alone is enough to predict.  The legacy
TorchScript exporter (``dynamo=False``) is used: the models are written to
trace (no data-dependent control flow, see :mod:`serkit.models.masking`).
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

import numpy as np

from serkit.errors import SerkitError
from serkit.inference.predictor import InferenceConfig, ModelSpec, Predictor
from serkit.outputs import TEMPORARY_PREFIX, output_file

log = logging.getLogger(__name__)

MODEL_KEY = "serkit.model"
CARD_KEY = "serkit.card"
FORMAT_KEY = "serkit.format"
#: SHA-256 of the model folder's weights the graph was exported from: tells a stale export.
WEIGHTS_KEY = "serkit.weights_sha256"
FORMAT = "1"
#: A model folder may carry its own export under this name; ``load_model`` then runs it.
FOLDER_EXPORT = "model.onnx"
OPSET = 17
#: Length in frames of the example batch traced at export; longer inputs work as well.
EXAMPLE_FRAMES = (300, 200)


def export_onnx(model_dir: str | Path, out: str | Path, opset: int = OPSET) -> Path:
    """Write the model folder ``model_dir`` as one self-contained ONNX file ``out``."""
    model_dir, out = Path(model_dir), output_file(out)
    # Written beside ``out`` and renamed into place: a kill never leaves half a model there.
    staging = out.with_name(f"{TEMPORARY_PREFIX}{out.name}-{os.getpid()}")
    try:
        _write_onnx(model_dir, staging, opset)
        os.replace(staging, out)
    finally:
        staging.unlink(missing_ok=True)
    log.info("exported %s to %s", model_dir, out)
    return out


def _write_onnx(model_dir: Path, path: Path, opset: int) -> None:
    import onnx
    import torch

    from serkit.inference.model import load_torch_model
    from serkit.inference.registry import read_card
    from serkit.training.checkpoint import read_model_info

    spec, model = load_torch_model(model_dir)
    # Two items of different lengths, so that the trace keeps the masking of padding.
    lengths = torch.tensor(EXAMPLE_FRAMES, dtype=torch.int64)
    example = torch.zeros(len(EXAMPLE_FRAMES), spec.n_dims, max(EXAMPLE_FRAMES))
    with warnings.catch_warnings():
        # The legacy exporter's deprecation notice, and its LSTM batch-size caution, which does
        # not apply: the models start their LSTMs from zero states built from the batch itself.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (example, lengths), str(path),
            input_names=["features", "lengths"], output_names=["logits"],
            dynamic_axes={"features": {0: "batch", 2: "frames"}, "lengths": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=opset, dynamo=False,
        )
    graph = onnx.load(str(path))
    metadata = {
        MODEL_KEY: json.dumps(read_model_info(model_dir), sort_keys=True),
        CARD_KEY: json.dumps(read_card(model_dir) or spec.card, sort_keys=True),
        FORMAT_KEY: FORMAT,
        WEIGHTS_KEY: weights_digest(model_dir),
    }
    del graph.metadata_props[:]
    for key, value in metadata.items():
        graph.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(graph)
    onnx.save(graph, str(path))


def weights_digest(model_dir: str | Path) -> str:
    from serkit.audio.io import content_hash

    return content_hash(Path(model_dir) / "model.safetensors")


def folder_export(model_dir: Path) -> Path | None:
    """The folder's ``model.onnx`` if it was exported from the folder's current weights."""
    path = model_dir / FOLDER_EXPORT
    if not path.is_file():
        return None
    import onnx

    metadata = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    if metadata.get(WEIGHTS_KEY) != weights_digest(model_dir):
        log.warning("%s was exported from other weights than %s: using PyTorch", path, model_dir)
        return None
    return path


class OnnxBackend:
    """An onnxruntime session on the CPU (thread-safe: ``run`` may be called concurrently)."""

    def __init__(self, session: object):
        self.session = session

    def logits(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return self.session.run(["logits"], {"features": x, "lengths": lengths})[0]


def load_onnx(path: str | Path, config: InferenceConfig | None = None) -> Predictor:
    """A predictor for an ONNX file written by :func:`export_onnx`."""
    import onnxruntime

    path = Path(path)
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own unexported exception types
        raise SerkitError(f"{path}: not a readable ONNX model ({error})") from None
    metadata = session.get_modelmeta().custom_metadata_map
    if MODEL_KEY not in metadata:
        raise SerkitError(f"{path}: an ONNX model without serkit's metadata; export it with `serkit export`")
    if metadata.get(FORMAT_KEY) != FORMAT:
        raise SerkitError(f"{path}: serkit ONNX format {metadata.get(FORMAT_KEY)!r}, this serkit reads {FORMAT!r}")
    try:
        info = json.loads(metadata[MODEL_KEY])
        card = json.loads(metadata.get(CARD_KEY, "{}"))
    except ValueError as error:
        raise SerkitError(f"{path}: unreadable serkit metadata ({error})") from None
    return Predictor(ModelSpec.from_info(info, card, str(path)), OnnxBackend(session), config)

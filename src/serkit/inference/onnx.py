"""The onnxruntime backend behind the same predictor, for files :mod:`serkit.inference.export` writes.

An export carries its model folder's ``model.json`` and ``card.json`` in the
graph's ``metadata_props`` (under :data:`MODEL_KEY` and :data:`CARD_KEY`), so
that the file alone is enough to predict; :data:`WEIGHTS_KEY` records the
weights it came from, so that a folder's own ``model.onnx`` is run only while
it matches the folder's weights.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from serkit.artifacts import WEIGHTS, ModelInfo
from serkit.errors import SerkitError
from serkit.inference.frames import make_predictor
from serkit.inference.predictor import InferenceConfig, Predictor
from serkit.inference.spec import ModelSpec

log = logging.getLogger(__name__)

MODEL_KEY = "serkit.model"
CARD_KEY = "serkit.card"
FORMAT_KEY = "serkit.format"
#: SHA-256 of the model folder's weights the graph was exported from: tells a stale export.
WEIGHTS_KEY = "serkit.weights_sha256"
FORMAT = "1"
#: A model folder may carry its own export under this name; ``load_model`` then runs it.
FOLDER_EXPORT = "model.onnx"


def weights_digest(model_dir: str | Path) -> str:
    from serkit.audio.io import content_hash

    return content_hash(Path(model_dir) / WEIGHTS)


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
    """A predictor for an ONNX file written by :func:`serkit.inference.export.export_onnx`."""
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
        info = ModelInfo.from_dict(json.loads(metadata[MODEL_KEY]), path)
        card = json.loads(metadata.get(CARD_KEY, "{}"))
    except ValueError as error:
        raise SerkitError(f"{path}: unreadable serkit metadata ({error})") from None
    return make_predictor(ModelSpec.from_info(info, card, str(path)), OnnxBackend(session), config)

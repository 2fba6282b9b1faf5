"""ONNX export: a model folder as one self-contained ``.onnx`` file.

:func:`export_onnx` writes the network with dynamic batch and time axes
(inputs ``features`` ``(batch, dims, frames)`` float32 and ``lengths``
``(batch,)`` int64, output ``logits`` ``(batch, classes)``, or a frame model's
``(batch, frames, classes)``), and puts the
model folder's ``model.json`` and ``card.json`` into the graph's
``metadata_props``, so that the file alone is enough to predict
(:func:`serkit.inference.onnx.load_onnx` runs it).  The legacy TorchScript
exporter (``dynamo=False``) is used: the models are written to trace (no
data-dependent control flow, see :mod:`serkit.models.masking`).
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

from serkit.artifacts import read_model_info
from serkit.inference.model import load_torch_model
from serkit.inference.onnx import CARD_KEY, FORMAT, FORMAT_KEY, MODEL_KEY, WEIGHTS_KEY, weights_digest
from serkit.inference.registry import read_card
from serkit.outputs import TEMPORARY_PREFIX, output_file

log = logging.getLogger(__name__)

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
            dynamic_axes={"features": {0: "batch", 2: "frames"}, "lengths": {0: "batch"},
                          # a frame (or ctc) model's logits keep the input's frames
                          "logits": {0: "batch", 1: "frames"} if spec.frame else {0: "batch"}},
            opset_version=opset, dynamo=False,
        )
    graph = onnx.load(str(path))
    metadata = {
        MODEL_KEY: json.dumps(read_model_info(model_dir).to_dict(), sort_keys=True),
        CARD_KEY: json.dumps(read_card(model_dir) or spec.card, sort_keys=True),
        FORMAT_KEY: FORMAT,
        WEIGHTS_KEY: weights_digest(model_dir),
    }
    del graph.metadata_props[:]
    for key, value in metadata.items():
        graph.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(graph)
    onnx.save(graph, str(path))

"""Whisper's encoder through onnxruntime, in float32 or with int8 weights: the feature's fast runtimes.

``runtime="onnx"`` exports the PyTorch encoder (up to the layers asked for)
with the legacy TorchScript exporter (``dynamo=False``, as
:mod:`serkit.inference.export` does) into memory and runs it with
onnxruntime: the same computation in float32, a different order of operations
(features within about 1e-3 of PyTorch's, tests/test_whisper_fast.py).
``runtime="onnx-int8"`` then quantises the weights of the matrix products to
int8 (onnxruntime's dynamic quantisation: activations quantised per call);
its features differ from float32 by much more than rounding, so a model reads
them only if it was trained on them.

The graph is built from the verified PyTorch weights when the feature first
runs (a few seconds) and never written to disk: a stale or altered copy
cannot be read.  The session uses as many threads as torch
(``torch.get_num_threads()``), so ``--threads`` and ``OMP_NUM_THREADS`` govern
both.
"""

from __future__ import annotations

import io
import logging
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from serkit.features.whisper.cached_padding import CachedPadding
from serkit.features.whisper.encoder import WhisperEncoder

log = logging.getLogger(__name__)

#: How the feature runs the encoder: PyTorch, onnxruntime float32, onnxruntime with int8 weights.
RUNTIMES = ("torch", "onnx", "onnx-int8")
OPSET = 17
#: What runs the layers: the encoder, or the encoder with its window's padding cached.
Network = WhisperEncoder | CachedPadding
#: Mel frames of the example traced at export; the time axis is dynamic.
EXAMPLE_MEL_FRAMES = 300


class _Layers(nn.Module):
    """The encoder up to ``upto`` as a graph: the last state only, or every state (``every``)."""

    def __init__(self, encoder: Network, upto: int, every: bool):
        super().__init__()
        self.encoder, self.upto, self.every = encoder, upto, every

    def forward(self, mel: Tensor) -> tuple[Tensor, ...]:
        states = self.encoder(mel, upto=self.upto)
        return tuple(states) if self.every else (states[-1],)


class OnnxEncoder:
    """``encoder`` up to layer ``upto`` in an onnxruntime session; ``int8``: quantised weights."""

    def __init__(self, encoder: Network, upto: int, every: bool, int8: bool = False):
        import onnxruntime

        start = time.perf_counter()
        graph = export_graph(encoder, upto, every)
        if int8:
            graph = quantise(graph)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        log.info("Whisper encoder up to layer %d in onnxruntime%s: built in %.1f s", upto,
                 " (int8 weights)" if int8 else "", time.perf_counter() - start)

    def __call__(self, mel: np.ndarray) -> list[np.ndarray]:
        """States ``(batch, frames, width)`` of ``mel`` ``(batch, n_mels, mel_frames)``, as
        :meth:`WhisperEncoder.forward` returns them (only the last unless ``every``)."""
        return self.session.run(None, {"mel": np.ascontiguousarray(mel, dtype=np.float32)})


def export_graph(encoder: Network, upto: int, every: bool) -> bytes:
    """The serialised ONNX graph of ``encoder`` up to ``upto``, batch and time axes dynamic."""
    module = _Layers(encoder, upto, every).eval()
    names = [f"layer{k}" for k in (range(upto + 1) if every else [upto])]
    example = torch.zeros(1, encoder.dims.n_mels, EXAMPLE_MEL_FRAMES)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The tracer's notes on the encoder's length check, a Python bool fixed at trace time
        # that the graph does not need: inputs over 30 s are refused before the encoder.
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), buffer, dynamo=False, opset_version=OPSET,
                          input_names=["mel"], output_names=names,
                          dynamic_axes={"mel": {0: "batch", 2: "mel_frames"},
                                        **{name: {0: "batch", 1: "frames"} for name in names}})
    return buffer.getvalue()


def quantise(graph: bytes) -> bytes:
    """``graph`` with int8 weights in its matrix products (onnxruntime's dynamic quantisation).

    The convolutions stay float32: they are a small part of the time, and quantising them
    too doubles the error on the layers (benchmarks/accurate_speed.py).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "encoder.onnx", Path(folder) / "encoder-int8.onnx"
        source.write_bytes(graph)
        logging.getLogger().disabled, was = True, logging.getLogger().disabled
        try:  # its advice to pre-process, logged on the root logger, is for static quantisation
            quantize_dynamic(source, target, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
        finally:
            logging.getLogger().disabled = was
        return onnx.load(target).SerializeToString()

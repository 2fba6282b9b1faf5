"""ONNX export: a self-contained file whose outputs match PyTorch's, behind the same predictor."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import soundfile as sf

from serkit.errors import SerkitError
from serkit.inference import load_model
from serkit.inference.export import EXAMPLE_FRAMES, export_onnx
from serkit.inference.model import TorchBackend, load_torch_model
from serkit.inference.onnx import MODEL_KEY, OnnxBackend
from serkit.inference.predictor import pad_batch
from test_inference_predict import SPEAKERS, train_tiny_model


@pytest.fixture(scope="module")
def exported(emodb_root, tmp_path_factory):
    model_dir = train_tiny_model(emodb_root, tmp_path_factory)
    return model_dir, export_onnx(model_dir, tmp_path_factory.mktemp("onnx") / "tiny.onnx")


@pytest.fixture(scope="module")
def long_clips(emodb_wavs):
    """Unseen speakers' clips, the longest first: all longer than the example traced at export."""
    unseen = [w for w in emodb_wavs if w.name[:2] not in SPEAKERS]
    return sorted(unseen, key=lambda w: -sf.info(str(w)).frames)[:8]


def test_the_file_carries_everything_needed_to_predict(exported):
    model_dir, path = exported
    graph = onnx.load(str(path))
    metadata = {p.key: p.value for p in graph.metadata_props}
    info = json.loads(metadata[MODEL_KEY])
    assert info["labels"] == ["anger", "happiness", "neutral", "sadness"]
    assert info["features"]["family"] == "logmel" and info["normaliser"]["kind"] == "global"
    assert json.loads(metadata["serkit.card"])["model"] == "blstm"
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.graph.input}
    assert dims == {"features": ["batch", 40, "frames"], "lengths": ["batch"]}


def test_outputs_match_pytorch_on_clips_longer_than_the_export_example(exported, long_clips):
    model_dir, path = exported
    torch_predictor = load_model(model_dir)
    onnx_predictor = load_model(path)
    assert isinstance(onnx_predictor.backend, OnnxBackend) and isinstance(torch_predictor.backend, TorchBackend)
    assert onnx_predictor.labels == torch_predictor.labels and onnx_predictor.card == torch_predictor.card
    spec = torch_predictor.spec
    inputs = [spec.model_inputs(spec.feature.process_file(p))[0] for p in long_clips]
    assert min(x.shape[1] for x in inputs) > max(EXAMPLE_FRAMES)
    for batch in (inputs[:1], inputs[1:3], inputs):  # batch sizes 1, 2 and 8, lengths mixed
        x, lengths = pad_batch(batch)
        np.testing.assert_allclose(onnx_predictor.backend.logits(x, lengths),
                                   torch_predictor.backend.logits(x, lengths), atol=1e-4)
    for a, b in zip(torch_predictor.predict_files(long_clips), onnx_predictor.predict_files(long_clips, batch_size=3)):
        assert a.label == b.label
        assert b.probabilities == pytest.approx(a.probabilities, abs=1e-4)


def test_onnx_files_without_serkit_metadata_are_refused(exported, tmp_path):
    _, path = exported
    graph = onnx.load(str(path))
    del graph.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(graph, str(bare))
    with pytest.raises(SerkitError, match="without serkit's metadata"):
        load_model(bare)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a graph")
    with pytest.raises(SerkitError, match="not a readable ONNX model"):
        load_model(junk)


def test_exported_weights_are_the_folders(exported):
    model_dir, path = exported
    _, model = load_torch_model(model_dir)
    initialisers = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    total = sum(v.size for v in initialisers.values())
    assert total >= sum(p.numel() for p in model.parameters()) * 0.99


def test_a_model_folder_runs_its_own_up_to_date_export(exported, tmp_path, emodb_wavs):
    import shutil

    import serkit
    from serkit.inference.export import export_onnx
    from serkit.inference.onnx import FOLDER_EXPORT

    folder = tmp_path / "model"
    shutil.copytree(exported[0], folder)
    torch_side = serkit.load_model(folder).predict_file(emodb_wavs[3])
    export_onnx(folder, folder / FOLDER_EXPORT)
    auto = serkit.load_model(folder)
    assert type(auto.backend).__name__ == "OnnxBackend"
    assert type(serkit.load_model(folder, backend="torch").backend).__name__ == "TorchBackend"
    onnx_side = auto.predict_file(emodb_wavs[3])
    for label, p in torch_side.probabilities.items():
        assert abs(onnx_side.probabilities[label] - p) < 1e-4
    # Weights changed after the export: the stale graph is not used.
    from safetensors.torch import load_file, save_file

    weights = load_file(folder / "model.safetensors")
    save_file({k: v * 1.5 if v.is_floating_point() else v for k, v in weights.items()}, folder / "model.safetensors")
    assert type(serkit.load_model(folder).backend).__name__ == "TorchBackend"

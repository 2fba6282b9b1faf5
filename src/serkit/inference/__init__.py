"""Putting trained models to work: predict on files and long recordings, ONNX export.

``serkit.load_model()`` (the shipped default), ``load_model("default")`` (a
shipped model by name), ``load_model("runs/model")`` (a folder written by
``serkit train``) or ``load_model("model.onnx")`` (written by ``serkit
export``) gives a :class:`Predictor`::

    predictor = serkit.load_model()
    predictor.predict_file("clip.wav").to_dict()
    # {"path": "clip.wav", "duration": 2.1, "label": "anger", "probabilities": {...}}
    predictor.predict_files(paths)          # batched; a bad file gets .error, the rest go on
    predictor.predict_folder("recordings/")
    predictor.predict_signal(signal, 44_100)

Recordings longer than 8 s (configurable, :class:`InferenceConfig`) are cut
into speech regions and windows and get a timeline (``segments``).
"""

from serkit.inference.model import load_model, resolve_model
from serkit.inference.predictor import AudioTooLongError, InferenceConfig, Prediction, Predictor, Segment
from serkit.inference.registry import ShippedModel, shipped_models
from serkit.inference.segmentation import SegmentationConfig
from serkit.inference.spec import ModelSpec

__all__ = [
    "AudioTooLongError",
    "InferenceConfig",
    "ModelSpec",
    "Prediction",
    "Predictor",
    "Segment",
    "SegmentationConfig",
    "ShippedModel",
    "load_model",
    "resolve_model",
    "shipped_models",
]

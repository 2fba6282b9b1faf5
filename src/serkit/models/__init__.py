"""Utterance-level emotion classifiers (PyTorch): features and lengths in, logits out.

Models sit after features in the pipeline and never read files: they take a
``(batch, dims, frames)`` tensor and the valid ``lengths`` of its items
(:mod:`serkit.models.base` states the contract).  The families:

* ``cnn``, ``blstm``, ``cnn_blstm``: seed 000 (Pandey et al.);
* ``cnn_tf`` with heads ``gap``, ``bilinear``, ``attention``: seed 002 (Li et al.);
* ``linear``, ``layer_weighted``, ``gru``, together in :mod:`serkit.models.probes`: probes of
  a speech recogniser's layers, seed 003 (Lakomkin et al.) and SUPERB's weighted sum of layers;
* ``frame_blstm``: a class per frame, logits ``(batch, frames, classes)`` (seed 001's phones).

Build them by name with :func:`build_model`; :func:`model_config` and
:func:`model_from_config` carry a model's configuration through JSON.
"""

from serkit.models.base import UtteranceModel
from serkit.models.registry import build_model, list_models, model_config, model_from_config

__all__ = ["UtteranceModel", "build_model", "list_models", "model_config", "model_from_config"]

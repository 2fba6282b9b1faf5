"""Hidden states of serkit's own speech recognizer (seed 003's DS2) as a frame-level feature.

Seed 003 (Lakomkin et al. 2017, Section 3.1) feeds emotion models the layers
of a frozen CTC recognizer.  ``recognizer-seed003:layer=2`` is the second GRU
layer of the DeepSpeech 2-like model that ``serkit train`` (or ``serkit cv``)
writes for ``recipes/seed003/seed003-ds2-librispeech.yaml``: ``model`` is its
model folder (a path, or a shipped model's name), read through
:mod:`serkit.artifacts`.  The recognizer's own input (its ``model.json``'s
feature, the power spectrogram of the recipe, and its normalisation) is
computed here, then the network runs up to the layer.

**Layers.**  As the paper counts them: ``layer=x`` for x >= 1 is the x-th
bidirectional GRU layer, ``(2 * hidden, frames)``, the directions' outputs
concatenated (forward first); ``layer=0`` is the convolutions' output that
the first GRU layer reads, ``(channels * bins, frames)``.  Several layers
(``layer=[1, 2]``) are stacked along the first axis in the order given.

**Frames.**  The convolutions halve the frame rate (time strides 2 and 1), so
a 10 ms spectrogram gives 20 ms frames, ``1 + n // 320`` of them for ``n``
samples: exactly the shared grid at hop 320 (output frame ``j`` is centred on
input frame ``2j``).  ``hop=160`` puts them on the 10 ms grid of the other
spectral features, as the Whisper layers do (frame ``2j`` is frame ``j``, the
odd ones the mean of their neighbours), so that ``mfcc-seed003+pitch-seed003+
recognizer-seed003:layer=2,hop=160`` stacks them for the progressive network
(:mod:`serkit.models.progressive`).  The hop is in the configuration because
recipes are checked (the grid of a combination) before any recognizer exists;
a hop that does not fit the recognizer is refused when it is loaded.

**Why a forward of its own.**  Features come before models in the pipeline
(``tests/test_architecture.py``), so this module cannot build
:class:`serkit.models.ds2.DS2`.  A frozen feature extractor needs far less
than the model does: one utterance at a time, in evaluation mode, so no
padding to mask and batch norm with its running statistics.  That is a few
functional torch calls over the weights read by their names in
``model.safetensors`` (``conv1.conv.weight``, ``gru2.norm.running_mean``,
``gru2.rnn.forward_lstms.0.weight_ih_l0`` ...), as the Whisper feature runs
its own encoder over a checkpoint's weights.  ``tests/test_recognizer_layers.py``
holds every layer equal to the DS2 module's own intermediate output, so a
change to the model's layout fails there.

**Cache key.**  A digest of ``model.safetensors`` and ``model.json`` (weights,
input feature, normaliser) is part of :meth:`RecognizerLayers.config_hash`,
so features of a recognizer retrained in place are never reused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from serkit.artifacts import INFO, WEIGHTS, load_weights, model_folder, read_model_info
from serkit.errors import ConfigError
from serkit.features.base import Feature, Preset, feature_from_dict
from serkit.features.normalise import GlobalNormaliser, Normalisation, normalise_utterance
from serkit.features.whisper.layers import to_half_hop
from serkit.features.whisper.registry import checkpoint_digest

#: The shipped recognizer that seed 003's recipe trained (``serkit models``): its held-out
#: LibriSpeech run's own model, published by ``serkit train --from-cv``.
SEED003_RECOGNIZER = "recognizer-seed003"
#: DeepSpeech 2's clipped ReLU ceiling (as serkit.models.ds2.CLIP).
CLIP = 20.0
#: torch's BatchNorm default, which the model's batch norms keep.
BATCH_NORM_EPS = 1e-5


@dataclasses.dataclass(frozen=True)
class RecognizerLayersConfig:
    """``model``: a ds2 model folder (or a shipped model's name); ``layer``: one layer (0: the
    convolutions, x >= 1: GRU layer x) or several, stacked in the order given; ``hop``: the
    recognizer's own frames (320 for the seed 003 recipe) or half of it."""

    model: str = SEED003_RECOGNIZER
    layer: int | tuple[int, ...] = 1
    hop: int = 320


class DS2Layers(nn.Module):
    """The inference-only forward of a ds2 model's convolutions and GRU layers, one utterance."""

    def __init__(self, config: dict[str, Any], weights: dict[str, Tensor]):
        super().__init__()
        self.config = config
        self.weights = weights
        self.num_layers = int(config["num_layers"])
        self.hidden = int(config["hidden"])
        #: Input frames per output frame.
        self.time_stride = math.prod(config["time_strides"])
        self.grus = nn.ModuleList(self._gru(k) for k in range(1, self.num_layers + 1))

    def _gru(self, k: int) -> nn.GRU:
        """GRU layer k as one bidirectional ``nn.GRU``: over one unpadded utterance that is what the
        model's two one-directional GRUs (the backward one over the reversed frames) compute."""
        prefix = f"gru{k}.rnn."
        w = self.weights[prefix + "forward_lstms.0.weight_ih_l0"]
        gru = nn.GRU(w.shape[1], self.hidden, batch_first=True, bidirectional=True)
        state = {}
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            state[name] = self.weights[f"{prefix}forward_lstms.0.{name}"]
            state[f"{name}_reverse"] = self.weights[f"{prefix}backward_lstms.0.{name}"]
        gru.load_state_dict(state)
        return gru.eval()

    def _norm(self, x: Tensor, prefix: str, dim: int) -> Tensor:
        """Batch norm with running statistics over axis ``dim`` of ``x``."""
        w = self.weights
        shape = [1] * x.dim()
        shape[dim] = -1
        mean, var = w[prefix + "running_mean"].view(shape), w[prefix + "running_var"].view(shape)
        scale = w[prefix + "weight"].view(shape) * torch.rsqrt(var + BATCH_NORM_EPS)
        return (x - mean) * scale + w[prefix + "bias"].view(shape)

    def _conv(self, x: Tensor, k: int) -> Tensor:
        c = self.config
        weight = self.weights[f"conv{k}.conv.weight"]
        stride = (c["freq_strides"][k - 1], c["time_strides"][k - 1])
        padding = (weight.shape[2] // 2, weight.shape[3] // 2)
        h = F.conv2d(x, weight, stride=stride, padding=padding)
        return F.hardtanh(self._norm(h, f"conv{k}.norm.", 1), 0.0, CLIP)

    def forward(self, spectrogram: Tensor, upto: int) -> list[Tensor]:
        """States ``(frames, width)`` of layers 0..``upto`` of a ``(bins, frames)`` input."""
        h = self._conv(self._conv(spectrogram[None, None], 1), 2)
        h = h.flatten(1, 2).transpose(1, 2)  # (1, frames, channels x bins)
        states = [h[0]]
        for k in range(1, upto + 1):
            if k > 1:
                h = self._norm(h, f"gru{k}.norm.", 2)
            h, _ = self.grus[k - 1](h)
            states.append(h[0])
        return states


class RecognizerLayers(Feature):
    """Frame-level states of layers of a trained ds2 recognizer (see module doc)."""

    family = "recognizer"
    Config = RecognizerLayersConfig

    def __init__(self, config: Any = None, **overrides: Any):
        super().__init__(config, **overrides)
        self._loaded: tuple[Feature, Any, DS2Layers] | None = None

    def validate(self) -> None:
        if isinstance(self.config.layer, list):  # as JSON and YAML give it
            object.__setattr__(self.config, "layer", tuple(self.config.layer))
        layers = self.layers
        if not layers or min(layers) < 0 or len(set(layers)) < len(layers):
            raise ValueError(f"layer must be one layer or several different ones, each 0 or more, "
                             f"not {self.config.layer}")
        if self.config.hop < 1:
            raise ValueError(f"hop must be positive, not {self.config.hop}")

    @property
    def layers(self) -> tuple[int, ...]:
        layer = self.config.layer
        return (layer,) if isinstance(layer, int) else tuple(layer)

    @property
    def folder(self) -> Path:
        return model_folder(self.config.model)

    @property
    def hop(self) -> int:
        return self.config.hop

    def compute(self, signal: np.ndarray) -> np.ndarray:
        front, normaliser, network = self.loaded
        x = front.compute(signal)
        if isinstance(normaliser, GlobalNormaliser):
            x = normaliser.transform(x)
        elif normaliser == Normalisation.UTTERANCE:
            x = normalise_utterance(x)
        with torch.inference_mode():
            states = network(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), max(self.layers))
        out = np.concatenate([states[k].T.numpy() for k in self.layers]).astype(np.float32)
        if self.hop == front.hop * network.time_stride:
            return out
        return to_half_hop(out, 1 + len(signal) // self.hop)

    @property
    def loaded(self) -> tuple[Feature, Any, DS2Layers]:
        """The recognizer's input feature, its normaliser (or normalisation kind) and network."""
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded

    def _load(self) -> tuple[Feature, Any, DS2Layers]:
        folder = self.folder
        info = read_model_info(folder)
        where = folder / INFO
        if not info.model or info.model.get("name") != "ds2" or info.features is None:
            raise ConfigError(f"{where}: recognizer features need a ds2 model, not "
                              f"{(info.model or {}).get('name')}")
        config = info.model["config"]
        if max(self.layers) > int(config["num_layers"]):
            raise ConfigError(f"{where}: the recognizer has layers 0..{config['num_layers']}, not {self.config.layer}")
        front = feature_from_dict(info.features)
        network = DS2Layers(config, load_weights(folder / WEIGHTS))
        native = front.hop * network.time_stride
        if front.sample_rate != self.sample_rate or self.hop not in (native, native // 2):
            raise ConfigError(f"{where}: a recognizer of {front.sample_rate} Hz input and {native}-sample frames; "
                              f"the feature needs {self.sample_rate} Hz and hop {native} or {native // 2}, "
                              f"not {self.hop}")
        normalisation = Normalisation(info.normalisation)
        if normalisation == Normalisation.GLOBAL:
            normaliser: Any = GlobalNormaliser.from_dict(info.normaliser or {})
        elif normalisation in (Normalisation.UTTERANCE, Normalisation.NONE):
            normaliser = normalisation
        else:
            raise ConfigError(f"{where}: normalised {normalisation}, which a feature of one file cannot repeat")
        return front, normaliser, network

    def config_hash(self) -> str:
        """The configuration's hash and a digest of the recognizer's weights and ``model.json``."""
        folder = self.folder
        digests = " ".join(checkpoint_digest(str(folder / name)) for name in (WEIGHTS, INFO))
        return hashlib.sha256(f"{super().config_hash()} {digests}".encode()).hexdigest()[:16]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_loaded": None}


PRESETS = (
    Preset(
        "recognizer-seed003",
        RecognizerLayers(),
        "seed 003, section 3.1 (Lakomkin et al. 2017): the frozen ASR network's layers",
        f"GRU layer 1 (layer=x: layer x; 0: the convolutions) of serkit's DS2 recognizer in "
        f"the shipped {SEED003_RECOGNIZER} (trained by recipes/seed003/seed003-ds2-librispeech.yaml), 20 ms frames",
    ),
)

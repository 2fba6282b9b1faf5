"""Hidden states of a Whisper encoder's layers as a frame-level feature (seed 003's idea).

Seed 003 (Lakomkin et al. 2017) shows that the layers of a speech recognizer carry
emotion; this feature reads them from a far stronger recognizer, Whisper.
``whisper-tiny.en:layer=3`` is layer 3 of tiny.en, ``(384, frames)``;
without ``layer``, all layers are stacked along the first axis, layer 0 first
(``(n_layers * width, frames)``: rows ``k * width`` to ``(k + 1) * width`` are
layer ``k``; see :func:`layer_block`).  Layer numbering is the encoder's
(:mod:`serkit.features.whisper.encoder`): 0 is the input to the first block,
the last is the encoder's output.

**Frames.**  The encoder gives one frame per 20 ms, so by default the grid's
hop is 320 samples: a signal of ``n`` samples gives ``1 + n // 320`` frames,
all of them over real audio (the padding that Whisper needs is dropped, so a
pooling over frames pools real audio only).  ``hop=160`` puts the layers on
the spectral features' 10 ms grid, to be concatenated with them: frame ``2j``
is encoder frame ``j`` and frame ``2j + 1`` the mean of encoder frames ``j``
and ``j + 1`` (linear interpolation between their centres), ``1 + n // 160``
frames in all.

**Windows.**  Whisper reads 30 s windows.  ``padded=True`` (the default, as
Whisper was trained) pads each window with silence to 30 s before the
encoder; ``padded=False`` encodes only the audio's own frames, much faster on
short clips but out of the conditions Whisper was trained in (docs/results.md
measures both).  Longer recordings are cut into consecutive 30 s windows,
each encoded on its own, and their frames joined.  ``padding="cached"`` keeps
the padded window but encodes the padding once, not with each clip
(:mod:`serkit.features.whisper.cached_padding`: about nine times faster on
3 s clips, the same cross-validated UA for the ``accurate`` model).

**Runtimes.**  ``runtime="onnx"`` runs the same layers through onnxruntime,
``"onnx-int8"`` with int8 weights (:mod:`serkit.features.whisper.onnx_encoder`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from serkit.configs import added_later
from serkit.devices import feature_device, full_precision
from serkit.errors import ConfigError
from serkit.features.base import Feature, Preset
from serkit.features.whisper.encoder import WhisperEncoder
from serkit.features.whisper.cached_padding import MARGIN, CachedPadding
from serkit.features.whisper.onnx_encoder import RUNTIMES, OnnxEncoder
from serkit.features.whisper.frontend import HOP, SAMPLE_RATE, WINDOW_SAMPLES, log_mel, pad_window
from serkit.features.whisper.registry import RECOGNIZERS, checkpoint_digest, load_recognizer

#: Encoder frames are two mel frames: 20 ms.
ENCODER_HOP = 2 * HOP
#: How a padded window's padding is computed (``padding``): with each clip, or once.
PADDINGS = ("encoded", "cached")
#: Encoder frames of one 30 s window.
WINDOW_ENCODER_FRAMES = WINDOW_SAMPLES // ENCODER_HOP


@dataclasses.dataclass(frozen=True)
class WhisperLayersConfig:
    """``model``: a recognizer name (``serkit models``) or a checkpoint path; ``layer``: one
    layer, several (stacked in the order given), or None for all of them stacked; ``padded``:
    pad each window to 30 s as Whisper does."""

    model: str = "whisper-tiny.en"
    layer: int | tuple[int, ...] | None = None
    padded: bool = True
    #: 320 (the encoder's own 20 ms frames) or 160 (the spectral features' 10 ms grid); added
    #: later: unset, it keeps older cache keys and model files valid.
    hop: int = added_later(ENCODER_HOP)
    #: How the encoder runs: "torch", or through onnxruntime, "onnx" (float32) or "onnx-int8"
    #: (int8 weights); see :mod:`serkit.features.whisper.onnx_encoder`. Added later, like ``hop``.
    runtime: str = added_later("torch")
    #: With ``padded``: "encoded" (the padding goes through the encoder with each clip, as in
    #: Whisper) or "cached" (its keys and values come from a window of padding only, encoded
    #: once; see :mod:`serkit.features.whisper.cached_padding`). Added later, like ``hop``.
    padding: str = added_later("encoded")

    def __post_init__(self) -> None:
        if isinstance(self.layer, list):  # several layers, as JSON and YAML give them
            object.__setattr__(self, "layer", tuple(self.layer))


class WhisperLayers(Feature):
    """Frame-level hidden states of one or all layers of a Whisper encoder (see module doc)."""

    family = "whisper"
    Config = WhisperLayersConfig

    def __init__(self, config: Any = None, **overrides: Any):
        super().__init__(config, **overrides)
        self._encoder: WhisperEncoder | None = None
        self._onnx: OnnxEncoder | None = None
        self._cached: CachedPadding | None = None

    def validate(self) -> None:
        layers = self.layers
        if layers is not None and (not layers or min(layers) < 0 or len(set(layers)) < len(layers)):
            raise ValueError(f"layer must be one layer or several different ones, each 0 or more, "
                             f"not {self.config.layer}")
        if self.config.hop not in (HOP, ENCODER_HOP):
            raise ValueError(f"hop must be {ENCODER_HOP} (the encoder's frames) or {HOP}, not {self.config.hop}")
        if self.config.runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, not {self.config.runtime!r}")
        if self.config.padding not in PADDINGS:
            raise ValueError(f"padding must be one of {', '.join(PADDINGS)}, not {self.config.padding!r}")
        if self.config.padding == "cached" and not self.config.padded:
            raise ValueError("padding='cached' caches a padded window's padding: it needs padded=True")

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    @property
    def hop(self) -> int:
        return self.config.hop

    @property
    def min_samples(self) -> int:
        return HOP

    @property
    def encoder(self) -> WhisperEncoder:
        if self._encoder is None:
            encoder = load_recognizer(self.config.model)
            if self.layers is not None and max(self.layers) > encoder.dims.n_audio_layer:
                raise ConfigError(f"{self.config.model} has layers 0..{encoder.dims.n_audio_layer}, "
                                 f"not {self.config.layer}")
            self._encoder = encoder.to(self.device)
        return self._encoder

    @property
    def device(self) -> torch.device:
        """Where the torch runtime runs the encoder (``$SERKIT_DEVICE``, :mod:`serkit.devices`);
        onnxruntime's runtimes run on the CPU."""
        return feature_device() if self.config.runtime == "torch" else torch.device("cpu")

    @property
    def width(self) -> int:
        """Dimensions of one layer."""
        known = RECOGNIZERS.get(self.config.model)
        return known.width if known else self.encoder.dims.n_audio_state

    @property
    def layers(self) -> tuple[int, ...] | None:
        """The layers kept, in output order (None: every layer)."""
        layer = self.config.layer
        return (layer,) if isinstance(layer, int) else layer

    @property
    def n_layers(self) -> int:
        """Layers in the output: those asked for, or every layer of the encoder (0..blocks)."""
        if self.layers is not None:
            return len(self.layers)
        known = RECOGNIZERS.get(self.config.model)
        return known.layers + 1 if known else self.encoder.dims.n_outputs

    def compute(self, signal: np.ndarray) -> np.ndarray:
        chunks = [signal[start:start + WINDOW_SAMPLES] for start in range(0, len(signal), WINDOW_SAMPLES)]
        frames = [self._encode(chunk) for chunk in chunks]
        # Each full window gives 1500 frames; the last, ``1 + n // 320``: together 1 + n // 320.
        encoded = np.concatenate(frames, axis=1)
        if self.config.hop == ENCODER_HOP:
            return encoded
        return to_half_hop(encoded, 1 + len(signal) // HOP)

    def _encode(self, chunk: np.ndarray) -> np.ndarray:
        with torch.inference_mode(), full_precision(self.device):
            mel, frames = self.encoder_input(chunk)
            states = self.encode_mel(mel)
        return np.concatenate([s[0, :frames].T for s in states])

    def encoder_input(self, chunk: np.ndarray) -> tuple[torch.Tensor, int]:
        """The log-mel ``(1, n_mels, mel_frames)`` the encoder reads for a chunk of at most 30 s,
        and how many of its encoder frames are the chunk's."""
        frames = min(1 + len(chunk) // ENCODER_HOP, WINDOW_ENCODER_FRAMES)
        if self.cached_padding:
            # The chunk, a margin of padding and one more encoder frame of it, which the
            # convolutions read at the edge; past a full window, the encoder's zero padding.
            samples = (frames + MARGIN + 1) * ENCODER_HOP
            mel = log_mel(np.pad(chunk, (0, max(min(samples, WINDOW_SAMPLES) - len(chunk), 0))))[None]
            return (F.pad(mel, (0, 2)) if samples > WINDOW_SAMPLES else mel), frames
        if self.config.padded:
            return log_mel(pad_window(chunk))[None], frames
        # enough audio for ``frames`` encoder frames: a little silence after the chunk
        return log_mel(np.pad(chunk, (0, 2 * ENCODER_HOP - len(chunk) % ENCODER_HOP))[: WINDOW_SAMPLES])[None], frames

    def encode_mel(self, mel: torch.Tensor) -> list[np.ndarray]:
        """The states ``(1, frames, width)`` of ``mel`` ``(1, n_mels, mel_frames)`` that the feature
        keeps (the layer asked for, or every layer), on the configured runtime."""
        if self.config.runtime != "torch":
            states = self.onnx_encoder(mel.numpy())
            return states if isinstance(self.config.layer, int) else self.kept(states)
        states = self.network(mel.to(self.device), upto=self.last_layer)
        return [s.cpu().numpy() for s in self.kept(states)]

    def kept(self, states: list) -> list:
        """Of the states of layers 0..last, those the feature keeps, in its order."""
        return states if self.layers is None else [states[k] for k in self.layers]

    @property
    def cached_padding(self) -> bool:
        return self.config.padded and self.config.padding == "cached"

    @property
    def last_layer(self) -> int:
        return self.encoder.dims.n_audio_layer if self.layers is None else max(self.layers)

    @property
    def network(self) -> WhisperEncoder | CachedPadding:
        """What runs the layers: the encoder, or with ``padding="cached"`` the encoder with its
        padding's keys and values encoded once (on first use)."""
        if not self.cached_padding:
            return self.encoder
        if self._cached is None:
            self._cached = CachedPadding(self.encoder, self.last_layer)
        return self._cached

    @property
    def onnx_encoder(self) -> OnnxEncoder:
        """The network in onnxruntime (``runtime`` onnx or onnx-int8), built on first use."""
        if self._onnx is None:
            self._onnx = OnnxEncoder(self.network, self.last_layer, every=not isinstance(self.config.layer, int),
                                     int8=self.config.runtime == "onnx-int8")
        return self._onnx

    def config_hash(self) -> str:
        """A known recognizer's weights are pinned by its name; a checkpoint path's are
        hashed into the key, so features cached from a checkpoint replaced in place are not reused."""
        base = super().config_hash()
        if self.config.model in RECOGNIZERS:
            return base
        return hashlib.sha256(f"{base} {checkpoint_digest(self.config.model)}".encode()).hexdigest()[:16]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_encoder": None, "_onnx": None, "_cached": None}


def to_half_hop(frames: np.ndarray, n_frames: int) -> np.ndarray:
    """``(dims, m)`` frames at hop 320 as ``n_frames`` (at most ``2 m``) frames at hop 160:
    the originals at even positions, the means of neighbours between them, the last repeated."""
    dims, m = frames.shape
    out = np.empty((dims, 2 * m), dtype=frames.dtype)
    out[:, 0::2] = frames
    out[:, 1:-1:2] = 0.5 * (frames[:, :-1] + frames[:, 1:])
    out[:, -1] = frames[:, -1]
    return out[:, :n_frames]


def layer_block(array: np.ndarray, layer: int, n_layers: int) -> np.ndarray:
    """Layer ``layer`` of an all-layers array ``(n_layers * width, frames)``."""
    if array.shape[0] % n_layers:
        raise ValueError(f"{array.shape[0]} rows do not split into {n_layers} layers")
    width = array.shape[0] // n_layers
    return array[layer * width:(layer + 1) * width]


PRESETS = tuple(
    Preset(
        name,
        WhisperLayers(model=name),
        "seed 003's ASR-layer features (Lakomkin et al. 2017), with OpenAI Whisper (Radford et al. 2022)",
        f"{recognizer.description}: every layer's hidden states, 20 ms frames, 30 s windows padded",
    )
    for name, recognizer in RECOGNIZERS.items()
)

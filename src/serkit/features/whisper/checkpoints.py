"""Whisper encoder weights from the formats they are distributed in, without a network.

* **CTranslate2** (faster-whisper's format): a folder with ``model.bin``.  The
  file may be split into parts (``model.bin.part1``, ``model.bin.part2``...),
  which are read as one stream, without joining them on disk.  The binary
  layout (version 6) is CTranslate2's ``ModelSpec._serialize``: a header, then
  for each variable its name, shape, type and bytes, then aliases.  Only the
  encoder's variables are kept; int8 weights are scaled back to float.
* **OpenAI** ``whisper`` checkpoints (``*.pt``: ``{"dims", "model_state_dict"}``).
* **Hugging Face** ``transformers`` folders (``config.json`` with
  ``model.safetensors`` or ``pytorch_model.bin``).

Each reader returns :class:`~serkit.features.whisper.encoder.EncoderDims` and
a state dict in :class:`~serkit.features.whisper.encoder.WhisperEncoder`'s
names; :func:`load_encoder` builds the module from either.
"""

from __future__ import annotations

import io
import json
import pickle
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from serkit.errors import SerkitError
from serkit.features.whisper.encoder import EncoderDims, WhisperEncoder

#: CTranslate2's DataType enum order (include/ctranslate2/types.h).
_CT2_TYPES = (np.float32, np.int8, np.int16, np.int32, np.float16, "bfloat16")
_CT2_VERSIONS = (5, 6)

StateDict = dict[str, torch.Tensor]


def load_encoder(path: str | Path | Sequence[Path]) -> WhisperEncoder:
    """A Whisper encoder in evaluation mode, from any supported checkpoint.

    ``path`` is a CTranslate2 folder, a Hugging Face folder, an OpenAI
    ``.pt`` file, or a list of CTranslate2 ``model.bin`` parts in order.
    """
    dims, state = read_checkpoint(path)
    encoder = WhisperEncoder(dims)
    missing, unexpected = encoder.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise SerkitError(f"{path}: weights do not fit a Whisper encoder "
                          f"(missing {sorted(missing)[:4]}, unexpected {sorted(unexpected)[:4]})")
    return encoder.eval()


def read_checkpoint(path: str | Path | Sequence[Path]) -> tuple[EncoderDims, StateDict]:
    if not isinstance(path, (str, Path)):
        return read_ctranslate2(list(path))
    path = Path(path)
    if path.is_file() and path.suffix == ".pt":
        return read_openai(path)
    if (path / "model.bin").is_file():
        return read_ctranslate2([path / "model.bin"])
    if (path / "config.json").is_file() and _hf_weights(path):
        return read_huggingface(path)
    raise SerkitError(
        f"{path}: no Whisper weights found (expected a CTranslate2 folder with model.bin, a "
        "Hugging Face folder with config.json and model.safetensors, or an OpenAI .pt file)"
    )


# -- CTranslate2 ---------------------------------------------------------------


class _Parts(io.RawIOBase):
    """Several files read as one stream, in order (a model.bin split into parts)."""

    def __init__(self, paths: Sequence[Path]):
        self._files = [open(p, "rb") for p in paths]  # noqa: SIM115 (closed in close())
        self._index = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while self._index < len(self._files):
            n = self._files[self._index].readinto(buffer)
            if n:
                return n
            self._index += 1
        return 0

    def close(self) -> None:
        for f in self._files:
            f.close()
        super().close()


def read_ctranslate2(parts: Sequence[Path]) -> tuple[EncoderDims, StateDict]:
    """The encoder of a CTranslate2 Whisper ``model.bin`` (given as one or more parts)."""
    for part in parts:
        if not Path(part).is_file():
            raise SerkitError(f"{part}: CTranslate2 model file not found")
    with io.BufferedReader(_Parts(parts), buffer_size=1 << 20) as stream:
        try:
            variables = dict(_ct2_variables(stream, str(parts[0])))
        except (struct.error, ValueError, UnicodeDecodeError) as e:
            raise SerkitError(f"{parts[0]}: not a readable CTranslate2 model ({e})") from None
    return _ct2_encoder(variables, str(parts[0]))


def _ct2_variables(stream: BinaryIO, name: str) -> Iterator[tuple[str, np.ndarray]]:
    def read(fmt: str):
        size = struct.calcsize(fmt)
        data = stream.read(size)
        if len(data) != size:
            raise ValueError("file ends early")
        return struct.unpack(fmt, data)[0]

    def string() -> str:
        return stream.read(read("<H"))[:-1].decode()

    version = read("<I")
    if version not in _CT2_VERSIONS:
        raise SerkitError(f"{name}: CTranslate2 binary version {version}, serkit reads {_CT2_VERSIONS}")
    spec = string()
    if spec != "WhisperSpec":
        raise SerkitError(f"{name}: a {spec} model, not Whisper")
    read("<I")  # spec revision
    for _ in range(read("<I")):
        key = string()
        shape = [read("<I") for _ in range(read("<B"))]
        dtype = _CT2_TYPES[read("<B")]
        data = stream.read(read("<I"))
        if not key.startswith("encoder/"):
            continue
        if dtype == "bfloat16":  # numpy has no bfloat16: widen the 16 bits to float32
            array = (np.frombuffer(data, np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(data, dtype)
        yield key, array.reshape(shape)


def _ct2_encoder(v: dict[str, np.ndarray], name: str) -> tuple[EncoderDims, StateDict]:
    if "encoder/conv1/weight" not in v:
        raise SerkitError(f"{name}: no Whisper encoder variables")

    def weight(key: str) -> torch.Tensor:
        array = v[key].astype(np.float32)
        scale = v.get(key + "_scale")  # int8 quantisation: stored value = weight * scale
        if scale is not None:
            array = array / scale.astype(np.float32).reshape(-1, *([1] * (array.ndim - 1)))
        return torch.from_numpy(np.ascontiguousarray(array))

    n_layers = sum(1 for k in v if k.endswith("/self_attention/linear_0/weight"))
    width, n_mels, _ = v["encoder/conv1/weight"].shape
    dims = EncoderDims(n_mels=int(n_mels), n_audio_ctx=int(v["encoder/position_encodings/encodings"].shape[0]),
                       n_audio_state=int(width), n_audio_head=int(v["encoder/num_heads"]),
                       n_audio_layer=n_layers)
    state = {"positions": weight("encoder/position_encodings/encodings")}
    pairs = {"conv1": "conv1", "conv2": "conv2"}
    for ours, theirs in pairs.items():
        state[f"{ours}.weight"] = weight(f"encoder/{theirs}/weight")
        state[f"{ours}.bias"] = weight(f"encoder/{theirs}/bias")
    state["ln_post.weight"] = weight("encoder/layer_norm/gamma")
    state["ln_post.bias"] = weight("encoder/layer_norm/beta")
    for i in range(n_layers):
        p = f"encoder/layer_{i}"
        names = {
            "attn_ln": f"{p}/self_attention/layer_norm", "mlp_ln": f"{p}/ffn/layer_norm",
        }
        for ours, theirs in names.items():
            state[f"blocks.{i}.{ours}.weight"] = weight(f"{theirs}/gamma")
            state[f"blocks.{i}.{ours}.bias"] = weight(f"{theirs}/beta")
        linears = {
            "qkv": f"{p}/self_attention/linear_0", "out": f"{p}/self_attention/linear_1",
            "mlp.0": f"{p}/ffn/linear_0", "mlp.2": f"{p}/ffn/linear_1",
        }
        for ours, theirs in linears.items():
            state[f"blocks.{i}.{ours}.weight"] = weight(f"{theirs}/weight")
            state[f"blocks.{i}.{ours}.bias"] = weight(f"{theirs}/bias")
    return dims, state


# -- OpenAI and Hugging Face ------------------------------------------------------------


def read_openai(path: Path) -> tuple[EncoderDims, StateDict]:
    """An OpenAI ``whisper`` checkpoint: ``{"dims": {...}, "model_state_dict": {...}}``."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        d, source = checkpoint["dims"], checkpoint["model_state_dict"]
    except pickle.UnpicklingError:  # garbage, or a pickle holding more than tensors (never unpickled)
        raise SerkitError(f"{path}: not an OpenAI Whisper checkpoint (not a file of PyTorch tensors)") from None
    # torch.load of a file that is not a checkpoint raises any of these
    except (KeyError, TypeError, RuntimeError, OSError, EOFError, ValueError) as e:
        raise SerkitError(f"{path}: not an OpenAI Whisper checkpoint ({e})") from None
    dims = EncoderDims(**{f: int(d[f]) for f in ("n_mels", "n_audio_ctx", "n_audio_state",
                                                    "n_audio_head", "n_audio_layer")})
    names = {"conv": "encoder.conv", "ln": "encoder.ln_post", "pos": "encoder.positional_embedding",
             "block": "encoder.blocks.{i}.", "attn_ln": "attn_ln", "mlp_ln": "mlp_ln",
             "q": "attn.query", "k": "attn.key", "v": "attn.value", "out": "attn.out",
             "fc1": "mlp.0", "fc2": "mlp.2"}
    return dims, _rename(source, dims, names)


def read_huggingface(path: Path) -> tuple[EncoderDims, StateDict]:
    """A ``transformers`` Whisper folder (``WhisperModel`` or ``...ForConditionalGeneration``)."""
    config = json.loads((path / "config.json").read_text())
    try:
        dims = EncoderDims(n_mels=config["num_mel_bins"], n_audio_ctx=config["max_source_positions"],
                           n_audio_state=config["d_model"], n_audio_head=config["encoder_attention_heads"],
                           n_audio_layer=config["encoder_layers"])
    except KeyError as e:
        raise SerkitError(f"{path}/config.json: not a Whisper configuration (no {e})") from None
    source = _hf_state(path)
    prefix = "model.encoder." if any(k.startswith("model.encoder.") for k in source) else "encoder."
    names = {"conv": prefix + "conv", "ln": prefix + "layer_norm", "pos": prefix + "embed_positions.weight",
             "block": prefix + "layers.{i}.", "attn_ln": "self_attn_layer_norm", "mlp_ln": "final_layer_norm",
             "q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj",
             "out": "self_attn.out_proj", "fc1": "fc1", "fc2": "fc2"}
    return dims, _rename(source, dims, names)


def _hf_weights(path: Path) -> Path | None:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (path / name).is_file():
            return path / name
    return None


def _hf_state(path: Path) -> StateDict:
    weights = _hf_weights(path)
    if weights is None:
        raise SerkitError(f"{path}: no model.safetensors or pytorch_model.bin")
    if weights.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(weights)
    return torch.load(weights, map_location="cpu", weights_only=True)


def _rename(source: StateDict, dims: EncoderDims, n: dict[str, str]) -> StateDict:
    """Our names from a checkpoint whose names ``n`` gives (separate q/k/v, key without bias)."""
    def get(key: str) -> torch.Tensor:
        if key not in source:
            raise SerkitError(f"checkpoint lacks {key}")
        return source[key].float()

    state = {"positions": get(n["pos"]), "ln_post.weight": get(n["ln"] + ".weight"),
             "ln_post.bias": get(n["ln"] + ".bias")}
    for c in ("1", "2"):
        for p in ("weight", "bias"):
            state[f"conv{c}.{p}"] = get(f"{n['conv']}{c}.{p}")
    for i in range(dims.n_audio_layer):
        block = n["block"].format(i=i)
        for ours in ("attn_ln", "mlp_ln"):
            for p in ("weight", "bias"):
                state[f"blocks.{i}.{ours}.{p}"] = get(f"{block}{n[ours]}.{p}")
        q, k, v = (get(f"{block}{n[x]}.weight") for x in ("q", "k", "v"))
        key_bias = source.get(f"{block}{n['k']}.bias")
        state[f"blocks.{i}.qkv.weight"] = torch.cat([q, k, v])
        state[f"blocks.{i}.qkv.bias"] = torch.cat([
            get(f"{block}{n['q']}.bias"),
            torch.zeros_like(q[:, 0]) if key_bias is None else key_bias.float(),
            get(f"{block}{n['v']}.bias"),
        ])
        for ours, theirs in (("out", "out"), ("mlp.0", "fc1"), ("mlp.2", "fc2")):
            for p in ("weight", "bias"):
                state[f"blocks.{i}.{ours}.{p}"] = get(f"{block}{n[theirs]}.{p}")
    return state

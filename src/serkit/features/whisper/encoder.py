"""Whisper's audio encoder in PyTorch, built from its dimensions, returning every layer.

The architecture of Radford et al. (2022), as in OpenAI's ``whisper/model.py``:
two 1-D convolutions with GELU (the second with stride 2, so one encoder
frame per 20 ms), fixed sinusoidal positions, pre-norm transformer blocks
(self-attention, then a 4x MLP with GELU), and a final layer norm.

**Layers.**  :meth:`WhisperEncoder.forward` returns the hidden states that
emotion models read, numbered as the SUPERB benchmark and Hugging Face number
them: layer 0 is the input to the first block (convolutions plus positions),
layer ``k`` the output of block ``k``, and the last layer has the final layer
norm applied, so it equals the encoder's output (what CTranslate2's
``encode()`` returns).  Asking for layers up to ``k`` only runs ``k`` blocks.

Attention runs through ``scaled_dot_product_attention``; query, key and value
are one fused projection (CTranslate2 stores them so; Whisper's key has no
bias, which is a zero bias here).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclasses.dataclass(frozen=True)
class EncoderDims:
    """The encoder's sizes: as OpenAI's ``ModelDimensions`` names the audio part."""

    n_mels: int = 80
    n_audio_ctx: int = 1500
    n_audio_state: int = 384
    n_audio_head: int = 6
    n_audio_layer: int = 4

    @property
    def n_outputs(self) -> int:
        """Hidden states :meth:`WhisperEncoder.forward` can return (layers 0..n_audio_layer)."""
        return self.n_audio_layer + 1


class Block(nn.Module):
    """One pre-norm transformer block: ``x + attn(ln(x))``, then ``x + mlp(ln(x))``."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.attn_ln = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.mlp_ln = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Queries, keys and values of ``x``, each ``(batch, heads, frames, head width)``."""
        batch, frames, _ = x.shape
        q, k, v = self.qkv(self.attn_ln(x)).view(batch, frames, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        return q, k, v

    def forward(self, x: Tensor, context: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """``context``: keys and values (as :meth:`project` gives them) of frames after ``x``'s
        that its frames attend to as well, but that are not computed here."""
        batch, frames, width = x.shape
        q, k, v = self.project(x)
        if context is not None:
            k, v = torch.cat([k, context[0]], dim=2), torch.cat([v, context[1]], dim=2)
        attended = F.scaled_dot_product_attention(q, k, v)
        x = x + self.out(attended.transpose(1, 2).reshape(batch, frames, width))
        return x + self.mlp(self.mlp_ln(x))


class WhisperEncoder(nn.Module):
    """Whisper's audio encoder; load weights with :mod:`serkit.features.whisper.checkpoints`."""

    def __init__(self, dims: EncoderDims):
        super().__init__()
        self.dims = dims
        width = dims.n_audio_state
        self.conv1 = nn.Conv1d(dims.n_mels, width, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(width, width, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positions", sinusoids(dims.n_audio_ctx, width))
        self.blocks = nn.ModuleList(Block(width, dims.n_audio_head) for _ in range(dims.n_audio_layer))
        self.ln_post = nn.LayerNorm(width)

    def forward(self, mel: Tensor, upto: int | None = None) -> list[Tensor]:
        """Hidden states ``[layer 0, ..., layer upto]``, each ``(batch, frames, width)``.

        ``mel`` is ``(batch, n_mels, mel_frames)`` with at most
        ``2 * n_audio_ctx`` frames; the encoder gives ``ceil(mel_frames / 2)``
        frames and the first that many positions.
        """
        last = self.dims.n_audio_layer if upto is None else upto
        if not 0 <= last <= self.dims.n_audio_layer:
            raise ValueError(f"layer {upto} does not exist: this encoder has 0..{self.dims.n_audio_layer}")
        x = self.embed(mel)
        states = [x]
        for index, block in enumerate(self.blocks[:last], start=1):
            x = block(x)
            states.append(self.ln_post(x) if index == self.dims.n_audio_layer else x)
        return states

    def embed(self, mel: Tensor) -> Tensor:
        """Layer 0: the convolutions and positions, ``(batch, ceil(mel_frames / 2), width)``."""
        return self.place(self.convolve(mel))

    def convolve(self, mel: Tensor) -> Tensor:
        """The convolutions, ``(batch, ceil(mel_frames / 2), width)``."""
        return F.gelu(self.conv2(F.gelu(self.conv1(mel)))).transpose(1, 2)

    def place(self, x: Tensor) -> Tensor:
        """``x`` plus the positions of its frames, the first of the window's."""
        if x.shape[1] > self.dims.n_audio_ctx:
            raise ValueError(f"{2 * x.shape[1]} mel frames exceed the encoder's {2 * self.dims.n_audio_ctx}")
        return x + self.positions[: x.shape[1]]


def sinusoids(length: int, channels: int, max_timescale: float = 10_000.0) -> Tensor:
    """Whisper's fixed positions: sines of all frequencies, then cosines."""
    increment = torch.log(torch.tensor(max_timescale)) / (channels // 2 - 1)
    inverse = torch.exp(-increment * torch.arange(channels // 2))
    scaled = torch.arange(length)[:, None] * inverse[None, :]
    return torch.cat([torch.sin(scaled), torch.cos(scaled)], dim=1)

"""Whisper's padded 30 s window without encoding the padding each time: its keys and values, cached.

Whisper reads a short clip padded with silence to 30 s, and its layers differ
from those of the clip alone (the ``accurate`` model loses 3 UA points
unpadded, 2 in 10 s windows: docs/benchmarks.md).  Encoding the padding is
nearly all the work on short clips (a 3 s clip is 150 of the window's 1500
frames), but the clip's frames use the padding only as keys and values of each
layer's attention.  :class:`CachedPadding` encodes an all-padding window once,
keeps the keys and values of each block over it, and then runs only the
clip's frames (plus :data:`MARGIN` frames after them) through the blocks,
attending to their own keys and values and to the cached ones of the
positions after them.

What it leaves out: in a real window the padding's states also depend on the
clip (they attend to it) and on its loudness (Whisper's log-mel floor, 8
decades under the clip's peak, is the padding's value); the cached ones come
from a window that is padding only, at :data:`SILENCE`.  The frames just
after the clip, where the clip's influence is strongest, are computed
(:data:`MARGIN`).  The layers differ from the fully encoded window's by up to
about 0.2 in the mean of a clip (values up to 5), and the ``accurate``
model's cross-validated UA is the same on either (benchmarks/accurate_speed.py).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from serkit.features.whisper.encoder import EncoderDims, WhisperEncoder

#: The log-mel value of the cached padding: Whisper's floor, ``(peak - 8 + 4) / 4``, for a
#: clip whose loudest band reaches ``10 ** 1.6`` (EMO-DB's median; nEMO's and ASED's are
#: a little lower, -0.77 and -0.74: the layers hardly depend on it).
SILENCE = -0.6
#: Encoder frames after a clip's own that are computed with it rather than cached; the last
#: of them also absorbs the convolutions' edge.
MARGIN = 4


class CachedPadding(nn.Module):
    """``encoder`` up to layer ``upto`` for clips padded to its window, the padding cached.

    Called as the encoder is (``(mel, upto)``), with the log-mel of the clip, of
    :data:`MARGIN` frames of padding after it and of two more mel frames, it returns
    those frames' states as :meth:`WhisperEncoder.forward` would within the full
    window, but for the cached padding's part.
    """

    def __init__(self, encoder: WhisperEncoder, upto: int, window: Tensor | None = None):
        """``window``: the log-mel ``(1, n_mels, 2 * n_audio_ctx)`` whose keys and values are
        cached (default: :data:`SILENCE` throughout)."""
        super().__init__()
        self.encoder, self.upto = encoder, upto
        dims = encoder.dims
        if window is None:
            window = torch.full((1, dims.n_mels, 2 * dims.n_audio_ctx), SILENCE, device=encoder.positions.device)
        with torch.inference_mode():
            states = encoder(window, upto=max(upto - 1, 0))
            for index, block in enumerate(encoder.blocks[:upto]):
                _, keys, values = block.project(states[index])
                self.register_buffer(f"keys{index}", keys.clone(), persistent=False)
                self.register_buffer(f"values{index}", values.clone(), persistent=False)

    @property
    def dims(self) -> EncoderDims:
        return self.encoder.dims

    def forward(self, mel: Tensor, upto: int | None = None) -> list[Tensor]:
        """States of the first ``mel_frames / 2 - 1`` frames: ``mel`` ends with two frames that
        the convolutions read past the last of them (the padding, or zeros after a full window)."""
        last = self.upto if upto is None else upto
        if not 0 <= last <= self.upto:
            raise ValueError(f"layer {upto}: the padding is cached for layers 0..{self.upto}")
        x = self.encoder.place(self.encoder.convolve(mel)[:, :-1])
        batch, frames, _ = x.shape
        states = [x]
        for index, block in enumerate(self.encoder.blocks[:last]):
            keys, values = (getattr(self, f"{name}{index}")[:, :, frames:].expand(batch, -1, -1, -1)
                            for name in ("keys", "values"))
            x = block(x, context=(keys, values))
            states.append(self.encoder.ln_post(x) if index + 1 == self.encoder.dims.n_audio_layer else x)
        return states

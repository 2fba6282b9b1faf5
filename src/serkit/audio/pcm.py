"""16-bit PCM samples to float32 in one pass.

numpy takes two (``astype``, then the scale by ``2**-15``), and reading a corpus
file is mostly this conversion and the system calls around it.  Kept apart from
:mod:`serkit.audio.io` so that importing that module does not import numba.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def pcm16_to_float32(samples):  # pragma: no cover  (compiled; covered through load_audio)
    """``samples * 2**-15`` as float32: exact, as every int16 is a float32 and the scale a power of two."""
    out = np.empty(samples.shape[0], np.float32)
    for i in range(samples.shape[0]):
        out[i] = np.float32(samples[i]) * np.float32(1 / 32768)
    return out

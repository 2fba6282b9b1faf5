"""The spectral core every spectral family shares: frames, window, FFT, filterbank.

A :class:`ShortTimeSpectrum` turns a signal into ``|STFT|**power`` of shape
``(n_fft // 2 + 1, frames)`` on the shared grid of :mod:`serkit.features.base`
(frame ``i`` centred on sample ``i * hop``, ``1 + n // hop`` frames, the window
centred in the FFT frame, padding by ``n_fft // 2`` on both sides), exactly as
``librosa.stft(center=True)`` frames a signal.  A :class:`FilterBank` sums its
bins into bands (mel, Kaldi mel, ...).

**Why hand-written.**  Extracting features is the cost of every corpus pass.
librosa spends most of it in numpy's FFT, which on float32 frames is several
times slower than scipy's (about 4 us against 0.6 us per 512-point frame on the
benchmark machine, see ``docs/benchmarks.md``), and the rest in framing copies,
complex intermediates and a dense filterbank product over mostly-zero weights.
For a power-of-two FFT size a numba kernel does the whole path in one pass over
blocks of frames: it gathers each block's samples (applying Kaldi's per-frame
DC removal and pre-emphasis when asked), runs a radix-4 FFT vectorised
*across* frames (one SIMD lane per frame), and writes the power or magnitude
straight into the ``(bins, frames)`` output, or, through
:meth:`ShortTimeSpectrum.banded`, adds each bin into its filterbank bands at
once and writes only the bands.  Most utterances make one block; the kernel's
arrays live in a cache-line-aligned work buffer that each thread keeps from
signal to signal (:class:`_WorkBuffer`).  Any other FFT size goes through
``scipy.fft``.  Both paths are tested against ``librosa.stft`` and a float64
reference written from the definitions (``tests/test_features_spectral.py``);
the filterbank touches only each band's non-zero bins.  ``docs/benchmarks.md``
says what made the kernel faster and what did not.

**Why one long module.**  It is the one module past 400 lines that
``tests/test_architecture.py`` allows: the numba kernel's passes (gather,
radix-4 butterflies, unpacking, banding) share one work buffer, one layout of
planes and one set of twiddle tables, and read as one piece only together.
"""

from __future__ import annotations

import functools
import threading

import numba
import numpy as np

PAD_MODES = ("constant", "reflect", "symmetric", "edge")

#: The cache ``revision`` of every family built on the FFT kernel: it goes up whenever
#: a change here changes their outputs, at float rounding included, so that no
#: cached array from older code is reused.  2: the unpacking runs in float32;
#: 3: bins k and M - k are unpacked together, and each radix-4 butterfly takes three
#: twiddle products, not four (both 2026-11-22).
REVISION = 3

LOG_SCALES = ("none", "db", "ln")

#: Most frames per kernel block, one SIMD lane each, for a 512-point FFT.  Every
#: row loop of a block has a fixed cost of about three vectors' work, so the
#: fewer blocks the better: a signal goes in equal blocks of at most this many
#: frames (10.24 s), one block for most utterances.  Planes of 2 MiB, beyond
#: the L2 cache, cost no more per frame than smaller ones on the benchmark
#: machine; 768 to 2048 ran equally fast over EMO-DB, 256 about 7% slower.
_BLOCK = 1024
#: float32 lanes of one AVX-512 vector: the last block's loops stop at a multiple of it.
_LANES = 16


def _block_width(n_frames: int, n_fft: int) -> int:
    """Lanes per kernel block: equal blocks, as few as the largest allows (the planes keep
    the size they have at 512 points), so that no block is a short remainder paying a whole
    block's per-row costs for a few lanes; rounded up to a vector."""
    largest = max(_LANES, min(_BLOCK, _BLOCK * 512 // n_fft) // _LANES * _LANES)
    per_block = -(-n_frames // -(-n_frames // largest))
    return -(-per_block // _LANES) * _LANES


def _kernel_floats(n_fft: int, n_bands: int, width: int) -> int:
    """Floats of work the FFT kernel needs: two planes, the band sums, and eleven rows."""
    return (n_fft + n_bands + 11) * width


class _WorkBuffer(threading.local):
    """A float32 work buffer per thread, aligned to a cache line and kept from call to call.

    The kernel's vector loads and stores run about 14% slower when its rows are not
    aligned to a cache line, and malloc aligns to 16 bytes only.  Allocating anew for
    every signal also costs page faults, which in a fresh worker process over a corpus
    of short files add up to several percent.  Requests over ``keep`` floats (8 MiB,
    about two minutes of audio) get a buffer of their own, so that one long signal
    does not hold its memory.
    """

    def __init__(self, keep: int = 1 << 21):
        self.keep = keep
        self.buffer = _aligned(0)

    def get(self, size: int) -> np.ndarray:
        if size > self.keep:
            return _aligned(size)
        if self.buffer.size < size:
            # All of `keep` at once: growing step by step would fault in fresh pages at
            # every step, and untouched pages cost no memory.
            self.buffer = _aligned(self.keep)
        return self.buffer[:size]


def _aligned(size: int, alignment: int = 64) -> np.ndarray:
    """``np.empty(size, np.float32)`` starting on an ``alignment``-byte boundary."""
    raw = np.empty(size + alignment // 4, np.float32)
    start = (-raw.ctypes.data % alignment) // 4
    return raw[start : start + size]


def n_bins(n_fft: int) -> int:
    return n_fft // 2 + 1


#: numpy's symmetric windows; a periodic window of N points is the symmetric one of N + 1 less its last point.
_NUMPY_WINDOWS = {"hann": np.hanning, "hamming": np.hamming, "blackman": np.blackman, "bartlett": np.bartlett}


def get_window(name: str, length: int) -> np.ndarray:
    """A periodic window as librosa and scipy build it (``fftbins=True``), float32.

    The common windows come from numpy: importing ``scipy.signal`` costs most of
    a second in every fresh process.  Any other scipy window name works too.
    """
    if name in ("rectangular", "boxcar", "ones") or length == 1:
        return np.ones(length, np.float32)
    if name in _NUMPY_WINDOWS:
        return _NUMPY_WINDOWS[name](length + 1)[:-1].astype(np.float32)
    import scipy.signal  # noqa: PLC0415  (rare windows only)

    return scipy.signal.get_window(name, length, fftbins=True).astype(np.float32)


def is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


class ShortTimeSpectrum:
    """``|STFT|**power`` on the shared frame grid, with its window and FFT plan cached.

    ``window`` has the window's own length (at most ``n_fft``) and is centred in
    the FFT frame.  ``remove_dc`` subtracts each frame's mean and
    ``preemphasis`` applies ``y[t] = x[t] - a * x[t-1]`` inside each frame (with
    ``y[0] = x[0] - a * x[0]``), both over the window's span and before the
    window, as Kaldi does.  ``scale`` multiplies the signal first.
    """

    def __init__(
        self,
        n_fft: int,
        hop: int,
        window: np.ndarray,
        *,
        power: float = 2.0,
        pad_mode: str = "constant",
        remove_dc: bool = False,
        preemphasis: float = 0.0,
        scale: float = 1.0,
    ):
        window = np.asarray(window, dtype=np.float32)
        if window.ndim != 1 or not 0 < window.size <= n_fft:
            raise ValueError(f"window length {window.size} must be within 1..n_fft={n_fft}")
        if hop < 1:
            raise ValueError(f"hop must be positive, not {hop}")
        if power <= 0:
            raise ValueError(f"power must be positive, not {power}")
        if pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}, not {pad_mode!r}")
        self.n_fft = n_fft
        self.hop = hop
        self.power = float(power)
        self.pad_mode = pad_mode
        self.remove_dc = bool(remove_dc)
        self.preemphasis = float(preemphasis)
        self.scale = float(scale)
        self.win_length = window.size
        self.offset = (n_fft - window.size) // 2  # librosa's pad_center
        self.window = window
        self.fast = is_power_of_two(n_fft) and n_fft >= 16
        if self.fast:
            full = np.zeros(n_fft, np.float32)
            # Halved, exactly: the unpacking's E = (Z[k] + conj Z[M-k]) / 2 and O then need no
            # multiply, and every intermediate is exactly half of what it would be.
            full[self.offset : self.offset + window.size] = window * np.float32(0.5)
            self._full_window = full
            self._plan = _fft_plan(n_fft)
            self._work = _WorkBuffer()

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_work"}  # per thread, not pickled

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._work = _WorkBuffer()

    @classmethod
    def from_config(cls, config) -> ShortTimeSpectrum:
        """From a family's configuration with ``n_fft``, ``hop``, ``window``, ``win_length``,
        ``power`` and ``pad_mode`` fields (a librosa-style periodic window)."""
        window = get_window(config.window, config.win_length)
        return cls(config.n_fft, config.hop, window, power=config.power, pad_mode=config.pad_mode)

    @property
    def n_bins(self) -> int:
        return n_bins(self.n_fft)

    def n_frames(self, n_samples: int) -> int:
        return 1 + n_samples // self.hop

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        """Spectrum of a mono signal: float32 ``(n_fft // 2 + 1, 1 + len // hop)``."""
        signal = self._checked(signal)
        if self.fast:
            spectrum = self._fast(signal, np.empty((self.n_bins, self.n_frames(signal.size)), np.float32))
        else:
            spectrum = self._scipy(signal)
        if self.power not in (1.0, 2.0):
            np.power(spectrum, self.power / 2.0, out=spectrum)
        return spectrum

    def _padded(self, signal: np.ndarray, length: int) -> np.ndarray:
        """The signal padded by ``n_fft // 2`` on the left and to ``length`` on the right."""
        left = self.n_fft // 2
        out = np.zeros(length, np.float32)
        if self.pad_mode == "constant":
            out[left : left + signal.size] = signal
        else:
            right = min(self.n_fft - left, length - left - signal.size)
            out[: left + signal.size + right] = np.pad(signal, (left, right), mode=self.pad_mode)
        if self.scale != 1.0:
            out *= self.scale
        return out

    def banded(self, signal: np.ndarray, filterbank: FilterBank) -> np.ndarray:
        """``filterbank(self(signal))``, ``(bands, frames)``.

        On the fast path the kernel adds each bin into its bands while the bin
        is in L1, so the ``(bins, frames)`` spectrum is never written out.
        """
        if filterbank.weights.shape[1] != self.n_bins:
            raise ValueError(f"the spectrum has {self.n_bins} bins, the filterbank {filterbank.weights.shape[1]}")
        if not (self.fast and self.power in (1.0, 2.0)):
            return filterbank(self(signal))
        signal = self._checked(signal)
        return self._fast(signal, np.empty((filterbank.n_bands, self.n_frames(signal.size)), np.float32), filterbank)

    def _checked(self, signal: np.ndarray) -> np.ndarray:
        signal = np.asarray(signal, dtype=np.float32)
        if signal.ndim != 1 or signal.size == 0:
            raise ValueError("the signal must be a non-empty 1-D array")
        return signal

    def _fast(self, signal: np.ndarray, out: np.ndarray, filterbank: FilterBank | None = None) -> np.ndarray:
        frames = self.n_frames(signal.size)
        # Whole rows of `hop` samples, as many as the last vector of lanes reaches into.
        rows = -(-frames // _LANES) * _LANES + -(-self.n_fft // self.hop)
        width = _block_width(frames, self.n_fft)
        bands = _NO_BANDS if filterbank is None else filterbank.sparse
        # The columns first, then the kernel's arrays from the next cache line on.
        start = -(-rows * self.hop // _LANES) * _LANES
        n_bands = 0 if filterbank is None else filterbank.n_bands
        work = self._work.get(start + _kernel_floats(self.n_fft, n_bands, width))
        # Row-major (hop, rows): a given in-frame sample of consecutive frames is
        # contiguous, so the kernel's gather is a plain vector load.
        columns = work[: rows * self.hop].reshape(self.hop, rows)
        if self.pad_mode == "constant" and self.scale == 1.0:
            _columns(signal, self.n_fft // 2, columns)  # pads as it goes
        else:
            columns[:] = self._padded(signal, rows * self.hop).reshape(rows, self.hop).T
        _power_kernel(
            columns,
            frames,
            self._full_window,
            self.offset,
            self.win_length,
            self.remove_dc,
            np.float32(self.preemphasis),
            *self._plan,
            self.power == 1.0,
            width,
            *bands,
            work[start:],
            out,
        )
        return out

    def _scipy(self, signal: np.ndarray) -> np.ndarray:
        frames = self.n_frames(signal.size)
        padded = self._padded(signal, (frames - 1) * self.hop + self.n_fft)
        span = np.lib.stride_tricks.sliding_window_view(padded, self.n_fft)[:: self.hop]
        x = span[:frames, self.offset : self.offset + self.win_length]
        if self.remove_dc:
            x = x - x.mean(axis=1, keepdims=True, dtype=np.float32)
        if self.preemphasis:
            a = np.float32(self.preemphasis)
            x = np.concatenate([x[:, :1] * (1 - a), x[:, 1:] - a * x[:, :-1]], axis=1)
        import scipy.fft  # noqa: PLC0415  (only sizes the kernel does not take)

        # Zero-padding at the end instead of around the window only turns the
        # phase, which neither power nor magnitude sees.
        spectrum = scipy.fft.rfft(x * self.window, n=self.n_fft, axis=1)
        out = np.square(spectrum.real) + np.square(spectrum.imag)
        if self.power == 1.0:
            np.sqrt(out, out=out)
        return np.ascontiguousarray(out.T, dtype=np.float32)


class FilterBank:
    """Band weights over FFT bins, ``(bands, bins)``, applied on their non-zero span only."""

    def __init__(self, weights: np.ndarray):
        weights = np.asarray(weights, dtype=np.float32)
        if weights.ndim != 2:
            raise ValueError("filterbank weights must be a (bands, bins) matrix")
        self.weights = weights
        nonzero = weights != 0
        used = nonzero.any(axis=0)
        # For each bin, the first and one past the last band that uses it.
        self._first = np.where(used, nonzero.argmax(axis=0), 0).astype(np.int64)
        self._stop = np.where(used, weights.shape[0] - nonzero[::-1].argmax(axis=0), 0).astype(np.int64)
        self._by_bin = np.ascontiguousarray(weights.T)
        #: what the FFT kernel takes to sum bands itself
        self.sparse = (self._by_bin, self._first, self._stop)

    @property
    def n_bands(self) -> int:
        return self.weights.shape[0]

    def __call__(self, spectrum: np.ndarray) -> np.ndarray:
        """``weights @ spectrum`` for a ``(bins, frames)`` float32 spectrum."""
        if spectrum.shape[0] != self.weights.shape[1]:
            raise ValueError(f"spectrum has {spectrum.shape[0]} bins, the filterbank {self.weights.shape[1]}")
        out = np.zeros((self.n_bands, spectrum.shape[1]), np.float32)
        _banded_kernel(np.ascontiguousarray(spectrum, dtype=np.float32), self._by_bin, self._first, self._stop, out)
        return out


def default_amin(power: float) -> float:
    """librosa's floor before a log: 1e-10 for a power spectrum, 1e-5 for a magnitude."""
    return 1e-10 ** (power / 2.0)


def check_log(log: str, top_db: float | None) -> None:
    if log not in LOG_SCALES:
        raise ValueError(f"log must be one of {LOG_SCALES}, not {log!r}")
    if top_db is not None and (log != "db" or top_db <= 0):
        raise ValueError("top_db needs log='db' and a positive value")


def compress(spectrum: np.ndarray, log: str, power: float, amin: float, top_db: float | None) -> np.ndarray:
    """Log compression of a ``|X|**power`` array, in place where it can be.

    ``"db"`` gives decibels of the amplitude, ``(20 / power) * log10(max(S, amin))``
    (``10 log10`` of a power spectrum, ``20 log10`` of a magnitude, as librosa's
    ``power_to_db`` and ``amplitude_to_db`` with ``ref=1``), clipped ``top_db``
    below the utterance's peak if set; ``"ln"`` the natural log of
    ``max(S, amin)`` (Kaldi's log energies); ``"none"`` leaves it linear.
    """
    if log == "none":
        return spectrum
    np.maximum(spectrum, np.float32(amin), out=spectrum)
    if log == "ln":
        return np.log(spectrum, out=spectrum)
    if log != "db":
        raise ValueError(f"log must be 'none', 'db' or 'ln', not {log!r}")
    np.log10(spectrum, out=spectrum)
    spectrum *= np.float32(20.0 / power)
    if top_db is not None:
        np.maximum(spectrum, spectrum.max() - np.float32(top_db), out=spectrum)
    return spectrum


#: A filterbank of no bands: the kernel writes the spectrum itself.
_NO_BANDS = (np.zeros((0, 0), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64))


@functools.lru_cache(maxsize=16)
def _fft_plan(n_fft: int) -> tuple[np.ndarray, ...]:
    """Bit-reversal order and twiddles of the half-length complex FFT that a real FFT rides on."""
    half = n_fft // 2
    bits = half.bit_length() - 1
    index = np.arange(half)
    reverse = np.zeros(half, np.int64)
    for b in range(bits):
        reverse |= ((index >> b) & 1) << (bits - 1 - b)
    twiddle = np.exp(-2j * np.pi * np.arange(half) / half)
    unpack = np.exp(-2j * np.pi * np.arange(half + 1) / n_fft)
    f32 = np.float32
    return reverse, twiddle.real.astype(f32), twiddle.imag.astype(f32), unpack.real.astype(f32), unpack.imag.astype(f32)


@numba.njit(nogil=True, cache=True)
def _columns(signal, left, out):  # pragma: no cover  (compiled; covered through ShortTimeSpectrum)
    """``out[i, j] = signal[j * hop + i - left]``, zero outside the signal, for ``out`` of
    shape ``(hop, rows)``: padding and transposing in one pass, which takes about 20% less
    time than numpy's pad and transposed copy."""
    hop, rows = out.shape
    n = signal.shape[0]
    for j in range(rows):
        base = j * hop - left
        if base >= 0 and base + hop <= n:
            for i in range(hop):
                out[i, j] = signal[base + i]
        else:
            for i in range(hop):
                out[i, j] = signal[base + i] if 0 <= base + i < n else np.float32(0.0)
    return out


@numba.njit(fastmath=True, inline="always")
def _first_radix4(z0r, z0i, z1r, z1i, z2r, z2i, z3r, z3i, r0, m0, r1, m1, r2, m2, r3, m3, b):  # pragma: no cover
    """A 4-point DFT of ``z0..z3`` (bit-reversed) into lane ``b`` of rows ``0..3``."""
    _radix4_outputs(
        z0r + z1r, z0i + z1i, z0r - z1r, z0i - z1i, z2r + z3r, z2i + z3i, z2r - z3r, z2i - z3i,
        r0, m0, r1, m1, r2, m2, r3, m3, b,
    )  # fmt: skip


@numba.njit(fastmath=True, inline="always")
def _radix4_outputs(y0r, y0i, y1r, y1i, u2r, u2i, u3r, u3i, r0, m0, r1, m1, r2, m2, r3, m3, b):  # pragma: no cover
    """A radix-4 butterfly's outputs into lane ``b``: rows 0 and 2 get ``y0 +- u2``, rows 1 and 3
    ``y1 -+ i u3`` (``y`` the sum and difference of the first pair, ``u`` of the second)."""
    r0[b] = y0r + u2r
    m0[b] = y0i + u2i
    r2[b] = y0r - u2r
    m2[b] = y0i - u2i
    r1[b] = y1r + u3i
    m1[b] = y1i - u3r
    r3[b] = y1r - u3i
    m3[b] = y1i + u3r


@numba.njit(fastmath=True, nogil=True, cache=True)
def _power_kernel(
    columns,
    n_frames,
    window,
    offset,
    length,
    remove_dc,
    preemph,
    reverse,
    tw_re,
    tw_im,
    un_re,
    un_im,
    magnitude,
    B,
    by_bin,
    first,
    stop,
    work,
    out,
):  # pragma: no cover  (compiled; covered through ShortTimeSpectrum)
    """|rfft|^2 (or |rfft|) of frames ``f`` = samples ``f * hop + n``, into ``out[k, f]``.

    ``columns[n % hop, f + n // hop]`` is sample ``f * hop + n`` of the padded
    signal.  The real frame of ``n_fft`` samples is packed as ``M = n_fft / 2``
    complex values ``z[m] = x[2m] + i x[2m+1]`` in bit-reversed order, transformed
    by radix-4 decimation-in-time passes (three twiddle products per butterfly;
    a final radix-2 stage when ``M`` is an odd power of two) and unpacked into the
    ``M + 1`` bins of the real transform.  With a filterbank (``by_bin`` not
    empty) each bin is added into its bands at once and only the bands go out,
    ``out[m, f]``.  Frames go ``B`` at a time, one lane each (``_block_width``
    balances the blocks); the last block's loops stop at the first multiple of
    ``_LANES`` past its last frame, so a short signal costs what its frames cost.
    """
    hop = columns.shape[0]
    n_fft = window.shape[0]
    M = n_fft // 2
    # Every array the kernel writes, carved from `work` (see `_kernel_floats`), rows
    # of B floats each: aligned to a cache line when `work` is.
    re_planes = work[: M * B]
    im_planes = work[M * B : 2 * M * B]
    used = 2 * M * B
    n_bands = by_bin.shape[1]
    acc = work[used : used + n_bands * B].reshape((n_bands, B))
    acc[:] = 0.0
    used += n_bands * B
    power = work[used : used + 2 * B].reshape((2, B))
    quad = work[used + 2 * B : used + 10 * B].reshape((8, B))
    mean = work[used + 10 * B : used + 11 * B]
    keep = np.float32(1.0) - preemph
    plain = not remove_dc and preemph == 0.0
    banded = by_bin.shape[0] > 0
    for blk in range(0, n_frames, B):
        # The last block runs as many lanes as it needs, rounded up to a vector, on
        # planes whose rows are that wide, so that it touches no more memory than that.
        width = min(B, (n_frames - blk + _LANES - 1) // _LANES * _LANES)
        re = re_planes[: M * width].reshape((M, width))
        im = im_planes[: M * width].reshape((M, width))
        if remove_dc:
            mean[:] = 0.0
            for n in range(offset, offset + length):
                src = columns[n % hop, blk + n // hop : blk + n // hop + B]
                for b in range(width):
                    mean[b] += src[b]
            for b in range(width):
                mean[b] /= length
        # Gather four bit-reversed complex points and do the first radix-4 pass
        # (all twiddles 1) on them while they are in registers: one pass over the
        # block's planes fewer.
        for g in range(0, M, 4):
            r0, r1, r2, r3 = re[g], re[g + 1], re[g + 2], re[g + 3]
            m0, m1, m2, m3 = im[g], im[g + 1], im[g + 2], im[g + 3]
            n0, n1, n2, n3 = 2 * reverse[g], 2 * reverse[g + 1], 2 * reverse[g + 2], 2 * reverse[g + 3]
            if plain:
                # The window is zero outside its span, so every tap is one product
                # and the group is one loop without branches: per-row overhead, not
                # arithmetic, is what this stage costs.
                x0 = columns[n0 % hop, blk + n0 // hop : blk + n0 // hop + B]
                y0 = columns[(n0 + 1) % hop, blk + (n0 + 1) // hop : blk + (n0 + 1) // hop + B]
                x1 = columns[n1 % hop, blk + n1 // hop : blk + n1 // hop + B]
                y1 = columns[(n1 + 1) % hop, blk + (n1 + 1) // hop : blk + (n1 + 1) // hop + B]
                x2 = columns[n2 % hop, blk + n2 // hop : blk + n2 // hop + B]
                y2 = columns[(n2 + 1) % hop, blk + (n2 + 1) // hop : blk + (n2 + 1) // hop + B]
                x3 = columns[n3 % hop, blk + n3 // hop : blk + n3 // hop + B]
                y3 = columns[(n3 + 1) % hop, blk + (n3 + 1) // hop : blk + (n3 + 1) // hop + B]
                a0, c0, a1, c1 = window[n0], window[n0 + 1], window[n1], window[n1 + 1]
                a2, c2, a3, c3 = window[n2], window[n2 + 1], window[n3], window[n3 + 1]
                for b in range(width):
                    _first_radix4(
                        a0 * x0[b], c0 * y0[b], a1 * x1[b], c1 * y1[b], a2 * x2[b], c2 * y2[b], a3 * x3[b], c3 * y3[b],
                        r0, m0, r1, m1, r2, m2, r3, m3, b,
                    )  # fmt: skip
                continue
            for t in range(4):
                for part in range(2):
                    n = 2 * reverse[g + t] + part
                    dst = quad[2 * t + part]
                    if n < offset or n >= offset + length:
                        for b in range(width):
                            dst[b] = 0.0
                        continue
                    src = columns[n % hop, blk + n // hop : blk + n // hop + B]
                    w = window[n]
                    if preemph != 0.0 and n > offset:
                        prev = columns[(n - 1) % hop, blk + (n - 1) // hop : blk + (n - 1) // hop + B]
                        for b in range(width):
                            dst[b] = w * (src[b] - preemph * prev[b] - keep * mean[b])
                    else:
                        wk = w * keep
                        for b in range(width):
                            dst[b] = wk * (src[b] - mean[b])
            q0, q1, q2, q3, q4, q5, q6, q7 = quad[0], quad[1], quad[2], quad[3], quad[4], quad[5], quad[6], quad[7]
            for b in range(width):
                _first_radix4(q0[b], q1[b], q2[b], q3[b], q4[b], q5[b], q6[b], q7[b], r0, m0, r1, m1, r2, m2, r3, m3, b)
        s = 8
        while 2 * s <= M:
            q = s // 2
            for start in range(0, M, 2 * s):
                for j in range(q):
                    # Rows i0, i0 + q, i0 + s and i0 + s + q hold the q-point transforms of the
                    # samples = 0, 2, 1, 3 (mod 4) of a 2s-point one (bit-reversed order): their
                    # twiddles are 1, W^2j, W^j and W^3j, with W that transform's root of unity.
                    step = M // (2 * s)
                    ar = tw_re[j * step]
                    ai = tw_im[j * step]
                    br = tw_re[2 * j * step]
                    bi = tw_im[2 * j * step]
                    cr = tw_re[3 * j * step]
                    ci = tw_im[3 * j * step]
                    i0 = start + j
                    r0 = re[i0]
                    r1 = re[i0 + q]
                    r2 = re[i0 + s]
                    r3 = re[i0 + s + q]
                    m0 = im[i0]
                    m1 = im[i0 + q]
                    m2 = im[i0 + s]
                    m3 = im[i0 + s + q]
                    for b in range(width):
                        tbr = br * r1[b] - bi * m1[b]
                        tbi = br * m1[b] + bi * r1[b]
                        tar = ar * r2[b] - ai * m2[b]
                        tai = ar * m2[b] + ai * r2[b]
                        tcr = cr * r3[b] - ci * m3[b]
                        tci = cr * m3[b] + ci * r3[b]
                        _radix4_outputs(
                            r0[b] + tbr, m0[b] + tbi, r0[b] - tbr, m0[b] - tbi, tar + tcr, tai + tci, tar - tcr, tai - tci,
                            r0, m0, r1, m1, r2, m2, r3, m3, b,
                        )  # fmt: skip
            s *= 4
        if s <= M:
            half = s // 2
            for start in range(0, M, s):
                for j in range(half):
                    wr = tw_re[j * (M // s)]
                    wi = tw_im[j * (M // s)]
                    ra = re[start + j]
                    rc = re[start + j + half]
                    ia = im[start + j]
                    ic = im[start + j + half]
                    for b in range(width):
                        tr = wr * rc[b] - wi * ic[b]
                        ti = wr * ic[b] + wi * rc[b]
                        rc[b] = ra[b] - tr
                        ic[b] = ia[b] - ti
                        ra[b] += tr
                        ia[b] += ti
        lanes = min(B, n_frames - blk)  # the last block's spare lanes are not written out
        # Bins k and M - k come from the same two rows, Z[k] and Z[M - k], so they are
        # unpacked together (bin M / 2 pairs with itself): with E + iF = Z[k] + conj Z[M - k],
        # O = -i (Z[k] - conj Z[M - k]) and A + iC = -i W^k O, X[k] = E + A + i (F + C) and,
        # as W^(M-k) = -conj W^k, X[M - k] = E - A + i (C - F).  The halved window already
        # holds the factor 1/2 of E and O.
        for k in range(M // 2 + 1):
            j = (M - k) % M
            cr = un_re[k]
            ci = un_im[k]
            zr1 = re[k]
            zi1 = im[k]
            zr2 = re[j]
            zi2 = im[j]
            # the spectrum goes straight out; bands go through `power` first
            lo = power[0, :width] if banded else out[k, blk : blk + lanes]
            hi = power[1, :width] if banded else out[M - k, blk : blk + lanes]
            for b in range(lo.shape[0]):
                er = zr1[b] + zr2[b]
                ei = zi1[b] - zi2[b]
                orr = zr1[b] - zr2[b]
                oi = zi1[b] + zi2[b]
                aa = cr * oi + ci * orr
                cc = ci * oi - cr * orr
                lo[b] = (er + aa) * (er + aa) + (ei + cc) * (ei + cc)
                hi[b] = (er - aa) * (er - aa) + (cc - ei) * (cc - ei)
            if magnitude:
                for b in range(lo.shape[0]):
                    lo[b] = np.sqrt(lo[b])
                if 2 * k != M:  # bin M / 2's `hi` is `lo`, rooted already
                    for b in range(hi.shape[0]):
                        hi[b] = np.sqrt(hi[b])
            if banded:
                for m in range(first[k], stop[k]):
                    w = by_bin[k, m]
                    a = acc[m]
                    for b in range(width):
                        a[b] += w * lo[b]
                if 2 * k != M:  # bin M / 2 is summed already, as `lo`
                    for m in range(first[M - k], stop[M - k]):
                        w = by_bin[M - k, m]
                        a = acc[m]
                        for b in range(width):
                            a[b] += w * hi[b]
        if banded:
            for m in range(acc.shape[0]):
                a = acc[m]
                out[m, blk : blk + lanes] = a[:lanes]
                a[:width] = 0.0


@numba.njit(fastmath=True, nogil=True, cache=True)
def _banded_kernel(spectrum, by_bin, first, stop, out):  # pragma: no cover  (compiled)
    """``out[m] += by_bin[k, m] * spectrum[k]`` over each bin's bands only."""
    frames = spectrum.shape[1]
    for k in range(spectrum.shape[0]):
        row = spectrum[k]
        for m in range(first[k], stop[k]):
            w = by_bin[k, m]
            o = out[m]
            for f in range(frames):
                o[f] += w * row[f]

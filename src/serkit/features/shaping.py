"""Shaping frame-level features into model inputs.

Everything here takes ``(dims, frames)`` arrays, or batches ``(..., dims,
frames)``, with time on the last axis:

* :func:`stack_frames` - seed 004 stacks 4 consecutive 10 ms frames into one
  40 ms frame: non-overlapping groups of ``n`` frames concatenated, which is
  the same as a context of ``n`` frames taken at every ``n``-th frame (stack
  and subsample).
* :func:`context_windows` - the ``n`` frames centred on every frame (seed 001:
  31), as a strided view made at batch time, never stored ``n`` times.  Works
  on numpy arrays and torch tensors.
* :func:`fix_length` - pad or crop to a fixed number of frames.
* :func:`fixed_inputs` - seed 000's 251-frame inputs from an utterance of any
  length, under a named rule for utterances that are longer.
* :func:`segment` / :class:`SegmentRule` - windows with a hop (seed 002: 2 s
  windows, 1 s hop in training, 0.4 s hop in testing), with their start frames
  and times.
* :func:`window_transform` - what a feature asks each model window to go
  through where it is cut (seed 002's per-segment rescaling and mu-law,
  ``mulaw``'s ``rescale: segment``): the one rule training, cross-validation
  and prediction all take.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from serkit.errors import ConfigError
from serkit.features.base import Feature, FrameGrid

PAD_MODES = ("zeros", "edge")
CROP_MODES = ("centre", "start")
#: How :func:`fixed_inputs` treats an utterance longer than the input.
LONG_INPUT_RULES = ("crop-centre", "split")
#: How :func:`segment` treats the frames after the last full window.
LAST_WINDOW_RULES = ("shift", "pad", "drop")


def stack_frames(x: np.ndarray, n: int, pad: str = "edge") -> np.ndarray:
    """Concatenate each group of ``n`` consecutive frames: ``(..., d, t)`` to ``(..., n*d, ceil(t/n))``.

    Output frame ``j`` holds input frames ``n*j .. n*j+n-1``, frame by frame
    (rows ``0..d-1`` are frame ``n*j``).  An incomplete last group is padded
    (``"edge"`` repeats the last frame, ``"zeros"``); with ``1 + N // hop``
    input frames this gives exactly ``1 + N // (n * hop)`` output frames, the
    shared grid's count at an ``n`` times longer hop.  Returns a new array.
    """
    if n < 1:
        raise ValueError(f"stack_frames: n must be positive, got {n}")
    frames = x.shape[-1]
    groups = math.ceil(frames / n)
    x = _pad_time(x, 0, groups * n - frames, pad)
    *lead, dims, _ = x.shape
    grouped = x.reshape(*lead, dims, groups, n)
    # (..., d, g, n) -> (..., n, d, g) -> (..., n*d, g): frame-major rows
    return np.moveaxis(grouped, -1, -3).reshape(*lead, n * dims, groups)


def context_windows(x: Any, n: int, pad: str | None = "edge") -> Any:
    """The ``n`` frames around every frame, as a view: ``(..., d, t)`` to ``(..., t, d, n)``.

    Window ``i`` holds frames ``i - n//2 .. i - n//2 + n - 1`` (centred for odd
    ``n``).  ``pad="edge"`` repeats the first and last frame beyond the ends,
    ``"zeros"`` pads zeros; either way the windows are a strided view of one
    padded copy of ``x`` (``t + n - 1`` frames, not ``t * n``).  ``pad=None``
    keeps only the ``t - n + 1`` complete windows, a view of ``x`` itself.
    numpy input gives a read-only numpy view, torch input a torch view
    (``Tensor.unfold``).
    """
    if n < 1:
        raise ValueError(f"context_windows: n must be positive, got {n}")
    if pad is not None:
        x = _pad_time(x, n // 2, n - 1 - n // 2, pad)
    if _is_torch(x):
        return x.unfold(-1, n, 1).movedim(-2, -3)
    view = np.lib.stride_tricks.sliding_window_view(x, n, axis=-1)  # (..., d, t, n)
    return np.moveaxis(view, -2, -3)


def fix_length(x: np.ndarray, n: int, pad: str = "zeros", crop: str = "centre") -> np.ndarray:
    """``x`` with exactly ``n`` frames: padded at the end, or cropped (``"centre"`` or ``"start"``).

    A cropped (or already right-sized) result is a view of ``x``; a padded one is new.
    """
    if crop not in CROP_MODES:
        raise ValueError(f"fix_length: crop must be one of {CROP_MODES}, got {crop!r}")
    frames = x.shape[-1]
    if frames < n:
        return _pad_time(x, 0, n - frames, pad)
    start = (frames - n) // 2 if crop == "centre" else 0
    return x[..., start : start + n]


def fixed_inputs(x: np.ndarray, n: int, rule: str = "crop-centre", pad: str = "zeros") -> np.ndarray:
    """Fixed-size inputs ``(k, d, n)`` from one ``(d, t)`` utterance (seed 000: ``n = 251``).

    A shorter utterance is padded at the end (seed 000 zero-pads) into one
    input.  A longer one follows ``rule``:

    * ``"crop-centre"`` (the default): one input, the middle ``n`` frames.  It
      keeps seed 000's one input per utterance, so class counts and per-
      utterance scoring stay as in the paper.
    * ``"split"``: ``k = ceil(t / n)`` inputs whose starts are spread evenly
      from the first frame to ``t - n``, so together they cover every frame
      with no padding (neighbours overlap by less than ``n`` frames); a
      prediction averages their scores.
    """
    if rule not in LONG_INPUT_RULES:
        raise ValueError(f"fixed_inputs: rule must be one of {LONG_INPUT_RULES}, got {rule!r}")
    frames = x.shape[-1]
    if frames <= n:
        return fix_length(x, n, pad=pad)[np.newaxis]
    if rule == "crop-centre":
        return fix_length(x, n, crop="centre")[np.newaxis]
    starts = np.round(np.linspace(0, frames - n, math.ceil(frames / n))).astype(np.int64)
    return np.stack([x[..., s : s + n] for s in starts])


class Segments(NamedTuple):
    """Windows cut from one utterance, and where each starts."""

    windows: np.ndarray  # (k, d, window)
    starts: np.ndarray  # (k,) start frame of each window
    times: np.ndarray | None  # (k,) start time in seconds, when a grid was given


def segment(
    x: np.ndarray, window: int, hop: int, last: str = "shift", grid: FrameGrid | None = None
) -> Segments:
    """Windows of ``window`` frames every ``hop`` frames from a ``(d, t)`` array.

    Full windows start at ``0, hop, 2*hop, ...``.  Frames after the last full
    window follow ``last``:

    * ``"shift"`` (default): one more window, ending at the last frame (it
      overlaps its neighbour more than the others do), so every frame is
      covered and no window holds padding;
    * ``"pad"``: one more window starting at the next hop, padded with zeros;
    * ``"drop"``: those frames are not used.

    An utterance shorter than one window gives a single window padded with
    zeros at the end, under every rule.  ``times`` are the start
    frames' times on ``grid``.
    """
    if window < 1 or hop < 1:
        raise ValueError(f"segment: window and hop must be positive, got {window}, {hop}")
    if last not in LAST_WINDOW_RULES:
        raise ValueError(f"segment: last must be one of {LAST_WINDOW_RULES}, got {last!r}")
    frames = x.shape[-1]
    if frames <= window:
        starts = np.zeros(1, dtype=np.int64)
        windows = fix_length(x, window, pad="zeros")[np.newaxis]
    else:
        starts = np.arange(0, frames - window + 1, hop)
        covered = starts[-1] + window
        if covered < frames and last == "shift":
            starts = np.append(starts, frames - window)
        elif covered < frames and last == "pad":
            starts = np.append(starts, starts[-1] + hop)
        padded = _pad_time(x, 0, max(0, starts[-1] + window - frames), "zeros")
        view = np.lib.stride_tricks.sliding_window_view(padded, window, axis=-1)
        windows = np.moveaxis(view[..., starts, :], -2, 0)  # fancy index: a copy
    times = None if grid is None else starts * (grid.hop / grid.sample_rate)
    return Segments(np.ascontiguousarray(windows), starts, times)


@dataclasses.dataclass(frozen=True)
class SegmentRule:
    """Segmentation in seconds, turned into frames on a grid."""

    window_s: float
    hop_s: float
    last: str = "shift"

    def frames(self, grid: FrameGrid) -> tuple[int, int]:
        """Window and hop in frames of ``grid`` (rounded to the nearest frame)."""
        per_second = grid.sample_rate / grid.hop
        return round(self.window_s * per_second), round(self.hop_s * per_second)

    def apply(self, x: np.ndarray, grid: FrameGrid) -> Segments:
        window, hop = self.frames(grid)
        return segment(x, window, hop, last=self.last, grid=grid)


#: Seed 002: 2 s segments overlapping by 1 s in training, by 1.6 s in testing.
SEED002_TRAIN = SegmentRule(window_s=2.0, hop_s=1.0)
SEED002_TEST = SegmentRule(window_s=2.0, hop_s=0.4)


WindowTransform = Callable[[np.ndarray], np.ndarray]


def window_transform(feature: Feature, windowed: bool) -> WindowTransform | None:
    """The step ``feature`` leaves to each model window, or None when its output is the input.

    A feature exposes it as ``window_transform`` (``mulaw`` with ``rescale: segment``: min-max
    and mu-law per window).  It is applied to every window as cut, at its true length (padding
    is the batch's), after any normalisation, by every place that cuts windows for a model.
    Where none are cut (``windowed`` false: a recipe without ``segments``) the model would read
    the untransformed output, so that is refused; so is a combined or stacked feature holding
    such a part, whose step would have to find its rows in the stack.
    """
    wrapped = [*getattr(feature, "parts", ()), getattr(feature, "part", None)]
    inner = [part.family for part in wrapped if getattr(part, "window_transform", None) is not None]
    if inner:
        raise ConfigError(f"{feature.family}: its part {inner[0]} is rescaled per model window (rescale: segment), "
                          "which a combined or stacked feature cannot apply; use it alone")
    transform = getattr(feature, "window_transform", None)
    if transform is not None and not windowed:
        raise ConfigError(f"{feature.family}: rescale: segment rescales each model window, and none is cut here: "
                          "give the recipe segments: (or use rescale: utterance)")
    return transform


def _pad_time(x: Any, before: int, after: int, mode: str) -> Any:
    """Pad the last axis of a numpy array or torch tensor."""
    if mode not in PAD_MODES:
        raise ValueError(f"pad must be one of {PAD_MODES}, got {mode!r}")
    if before == 0 and after == 0:
        return x
    if _is_torch(x):
        import torch.nn.functional as F  # torch only when given a tensor

        if mode == "zeros":
            return F.pad(x, (before, after))
        # replicate padding needs a batch dimension in front of (d, t)
        flat = x.reshape(-1, *x.shape[-2:]) if x.ndim >= 2 else x.reshape(1, 1, -1)
        return F.pad(flat, (before, after), mode="replicate").reshape(*x.shape[:-1], -1)
    widths = [(0, 0)] * (x.ndim - 1) + [(before, after)]
    return np.pad(x, widths, mode="constant" if mode == "zeros" else "edge")


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")

"""A model of a continuous annotator: what a rater's arousal or valence trace would be.

Used by :mod:`serkit.corpora.streams` to turn the places of a recording's
utterances (each a constant on the arousal/valence plane) into a gold
standard like RECOLA's: the annotator reacts late, moves smoothly, and drifts
back toward neutral while nobody speaks.  docs/streams.md gives the values and
why (the reaction lag of continuous raters, the share of RECOLA's trace power
under 1 Hz that seed 004 reports).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from serkit.corpora.recola import FRAME
from serkit.errors import ConfigError


@dataclass(frozen=True)
class Annotator:
    """How the annotator rates: seconds of lag, smoothing and drift toward neutral in pauses."""

    #: Reaction lag, seconds (Mariooryad & Busso 2015 measured 1 to 6 s).
    lag: float = 2.0
    #: Time constant of the exponential smoothing, seconds.
    smoothing: float = 1.0
    #: Time constant of the drift toward neutral during a pause, seconds.
    pause_decay: float = 2.0

    def __post_init__(self) -> None:
        if self.lag < 0 or self.smoothing <= 0 or self.pause_decay <= 0:
            raise ConfigError(f"annotator: lag {self.lag:g} must be >= 0, smoothing {self.smoothing:g} "
                              f"and pause_decay {self.pause_decay:g} > 0")


def rated_signal(segments: Sequence[tuple[float, float, float]], times: np.ndarray, neutral: float,
                 pause_decay: float) -> np.ndarray:
    """What there is to rate at ``times`` (seconds): the place of the utterance being spoken;
    after one, a drift from its place toward ``neutral`` (time constant ``pause_decay``);
    before the first, ``neutral``.  ``segments`` are ``(onset, offset, place)``, in order."""
    onsets, offsets, places = (np.array([s[k] for s in segments], dtype=float) for k in range(3))
    j = np.searchsorted(onsets, times, side="right") - 1
    rated = np.full(len(times), float(neutral))
    spoken = j >= 0
    js, ts = j[spoken], times[spoken]
    drift = np.exp(-np.maximum(ts - offsets[js], 0.0) / pause_decay)
    rated[spoken] = neutral + (places[js] - neutral) * np.where(ts < offsets[js], 1.0, drift)
    return rated


def annotator_trace(segments: Sequence[tuple[float, float, float]], n_frames: int, neutral: float,
                    annotator: Annotator = Annotator(), frame: float = FRAME) -> np.ndarray:
    """One dimension's gold standard, ``n_frames`` values, value ``k`` at ``k * frame`` seconds.

    The annotator rates :func:`rated_signal` ``lag`` seconds late, smoothed by a causal
    one-pole filter (time constant ``smoothing``) that starts at ``neutral``.  Every value is
    a weighted mean of places and ``neutral``, so it stays within their range.
    """
    times = np.arange(n_frames) * frame - annotator.lag
    rated = rated_signal(segments, times, neutral, annotator.pause_decay)
    alpha = 1.0 - math.exp(-frame / annotator.smoothing)
    return lfilter([alpha], [1.0, alpha - 1.0], rated - neutral) + neutral

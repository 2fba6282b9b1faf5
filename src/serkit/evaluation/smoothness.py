"""How smooth a time-continuous trace is, and how smooth a prediction of it is (seed 004, Section 5.2).

Khorram et al. motivate the down/up-sampling network by the smoothness of RECOLA's gold traces:
"more than 95 percent of the power of these trajectories lies in frequency bands that are lower
than 1 Hz", and downsampling a trace by up to 64 and rebuilding it with a spline loses under 5% of
CCC (Figure 4).  They show the dilated network's predictions are erratic and the down/up
network's smooth (Figure 5) without a number; :func:`roughness` gives one:

* :func:`low_frequency_share`: the share of a trace's power (mean removed) under ``cutoff`` Hz,
  from its periodogram (a boxcar window, so the shares of all bins sum to the whole signal);
* :func:`reconstruction_ccc`: CCC between a trace and the cubic spline through every ``factor``-th
  value, evaluated at the original times;
* :func:`roughness`: the mean absolute change from one frame to the next, per second (units of
  the trace per second); :func:`roughness_ratio` divides a prediction's by its gold trace's, so
  1 is as smooth as the reference and larger is rougher.

Every function takes one trace (a 1-D array, one value per frame at ``rate`` frames a second;
RECOLA's 40 ms is 25 Hz).  scipy is imported where it is used: ``serkit.evaluation`` stays cheap
to import.
"""

from __future__ import annotations

import numpy as np

from serkit.evaluation.regression import concordance_correlation

#: RECOLA's (and ``serkit streams``') gold-standard rate: a value every 40 ms.
TRACE_RATE = 25.0


def low_frequency_share(values: np.ndarray, rate: float = TRACE_RATE, cutoff: float = 1.0) -> float:
    """The share (0..1) of ``values``' power, mean removed, at frequencies below ``cutoff`` Hz."""
    from scipy.signal import periodogram

    trace = _trace(values, minimum=2)
    frequencies, power = periodogram(trace, fs=rate, window="boxcar", detrend="constant")
    total = power.sum()
    if total == 0:
        raise ValueError("a constant trace has no power to share out")
    return float(power[frequencies < cutoff].sum() / total)


def reconstruction_ccc(values: np.ndarray, factor: int) -> float:
    """CCC between ``values`` and its reconstruction from every ``factor``-th value (the first
    included) by a cubic spline at the original frame times; frames past the last kept value hold
    it, since a cubic extrapolated over up to ``factor - 1`` frames runs off.  No anti-alias filter:
    the values kept are the trace's own, as the paper's "standard uniform downsampling"."""
    from scipy.interpolate import CubicSpline

    if factor < 1:
        raise ValueError(f"downsampling factor {factor}: give 1 or more")
    trace = _trace(values, minimum=2 * factor)  # at least two values kept
    positions = np.arange(len(trace))
    kept = positions[::factor]
    spline = CubicSpline(kept, trace[kept])
    rebuilt = spline(np.minimum(positions, kept[-1]))
    return concordance_correlation(trace, rebuilt)


def roughness(values: np.ndarray, rate: float = TRACE_RATE) -> float:
    """Mean absolute first difference times ``rate``: how far the trace moves per second, on average."""
    trace = _trace(values, minimum=2)
    return float(np.abs(np.diff(trace)).mean() * rate)


def roughness_ratio(predicted: np.ndarray, gold: np.ndarray, rate: float = TRACE_RATE) -> float:
    """``roughness(predicted) / roughness(gold)`` over the same frames."""
    predicted, gold = _trace(predicted, minimum=2), _trace(gold, minimum=2)
    if predicted.shape != gold.shape:
        raise ValueError(f"a prediction of {len(predicted)} frames against a gold trace of {len(gold)}")
    reference = roughness(gold, rate)
    if reference == 0:
        raise ValueError("the gold trace is constant: a roughness ratio to it is undefined")
    return roughness(predicted, rate) / reference


def _trace(values: np.ndarray, minimum: int) -> np.ndarray:
    trace = np.asarray(values, dtype=np.float64)
    if trace.ndim != 1:
        raise ValueError(f"a trace is 1-D (one value per frame), got shape {trace.shape}")
    if len(trace) < minimum:
        raise ValueError(f"a trace of {len(trace)} values is too short (at least {minimum} here)")
    if not np.isfinite(trace).all():
        raise ValueError("the trace holds NaN or infinite values")
    return trace

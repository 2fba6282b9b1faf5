"""Metrics for continuous targets: Lin's concordance correlation coefficient and RMSE.

Seed 004 (Khorram et al.) scores time-continuous arousal and valence with

    CCC = 2 cov(y, y^) / (var(y) + var(y^) + (mean(y) - mean(y^))^2)

where the moments are expectations over the sequence, so variances and the
covariance here are population moments (divided by ``n``, not ``n - 1``).
Unlike Pearson's r, CCC drops when predictions are shifted or scaled away
from the reference, not only when they are decorrelated.

:func:`moments` and :func:`rates_from_moments` compute the same figures from
summed moments, so that a bootstrap can score every resample of speakers in
one vectorised pass.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import numpy as np

class RegressionRates(NamedTuple):
    """CCC and RMSE, as floats or as arrays over a batch of moment sums."""

    ccc: Any
    rmse: Any


@dataclasses.dataclass(frozen=True)
class RegressionScores:
    n: int
    ccc: float
    rmse: float

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "ccc": _finite_or_none(self.ccc), "rmse": self.rmse}


def concordance_correlation(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Lin's CCC as seed 004 defines it; NaN when both sides are one and the same constant."""
    true, pred = _pair(y_true, y_pred)
    mean_true, mean_pred = true.mean(), pred.mean()
    covariance = np.mean((true - mean_true) * (pred - mean_pred))
    denominator = true.var() + pred.var() + (mean_true - mean_pred) ** 2
    if denominator == 0:
        return float("nan")
    return float(2 * covariance / denominator)


def root_mean_squared_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    true, pred = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((true - pred) ** 2)))


def regression_scores(y_true: np.ndarray, y_pred: np.ndarray) -> RegressionScores:
    true, pred = _pair(y_true, y_pred)
    return RegressionScores(
        n=len(true),
        ccc=concordance_correlation(true, pred),
        rmse=root_mean_squared_error(true, pred),
    )


def moments(
    y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray, n_groups: int, shift: float = 0.0
) -> np.ndarray:
    """Summed moments per group, shape ``(n_groups, 6)``: the count and the sums of
    y, y^, y^2, y^^2 and y y^, in that order.

    ``groups`` holds each sample's group index in ``range(n_groups)``.  Both
    sides are shifted by ``shift`` first; CCC and RMSE do not change under a
    common shift, and shifting by the data's mean keeps the one-pass variance
    ``E[y^2] - E[y]^2`` from cancelling catastrophically.
    """
    true, pred = _pair(y_true, y_pred)
    true, pred = true - shift, pred - shift
    columns = (np.ones_like(true), true, pred, true * true, pred * pred, true * pred)
    return np.stack(
        [np.bincount(groups, weights=c, minlength=n_groups) for c in columns], axis=-1
    )


def rates_from_moments(sums: np.ndarray) -> RegressionRates:
    """CCC and RMSE of moment sums of shape ``(..., 6)``; NaN CCC where undefined."""
    sums = np.asarray(sums, dtype=np.float64)
    n, sy, sp, syy, spp, syp = np.moveaxis(sums, -1, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_true, mean_pred = sy / n, sp / n
        var_true = syy / n - mean_true**2
        var_pred = spp / n - mean_pred**2
        covariance = syp / n - mean_true * mean_pred
        denominator = var_true + var_pred + (mean_true - mean_pred) ** 2
        ccc = np.where(denominator > 0, 2 * covariance / denominator, np.nan)
        rmse = np.sqrt(np.maximum((syy + spp - 2 * syp) / n, 0.0))
    return RegressionRates(ccc=ccc, rmse=rmse)


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    if true.ndim != 1 or true.shape != pred.shape:
        raise ValueError(
            f"references and predictions must be 1-D and equally long, got {true.shape} "
            f"and {pred.shape}"
        )
    if len(true) == 0:
        raise ValueError("no predictions to score")
    if not (np.isfinite(true).all() and np.isfinite(pred).all()):
        raise ValueError("references or predictions hold NaN or infinite values")
    return true, pred


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None

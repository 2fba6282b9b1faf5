"""CCC against a direct formula and known values; RMSE against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mean_squared_error

from serkit.evaluation import regression


def _ccc_direct(y, p):
    # Seed 004's formula with population moments, written independently via np.cov.
    cov = np.cov(y, p, bias=True)
    return 2 * cov[0, 1] / (cov[0, 0] + cov[1, 1] + (y.mean() - p.mean()) ** 2)


@pytest.mark.parametrize("seed", range(4))
def test_ccc_and_rmse_on_random_traces(seed):
    rng = np.random.default_rng(seed)
    y = np.cumsum(rng.normal(size=500)) * 0.05  # a smooth trace, like an arousal rating
    p = 0.7 * y + rng.normal(0.1, 0.2, size=500)
    assert regression.concordance_correlation(y, p) == pytest.approx(_ccc_direct(y, p))
    assert regression.root_mean_squared_error(y, p) == pytest.approx(
        np.sqrt(mean_squared_error(y, p))
    )
    # CCC never exceeds Pearson's r in magnitude: it also pays for shift and scale.
    assert abs(regression.concordance_correlation(y, p)) <= abs(np.corrcoef(y, p)[0, 1])


def test_ccc_known_values():
    rng = np.random.default_rng(0)
    y = rng.normal(size=1000)
    y -= y.mean()
    assert regression.concordance_correlation(y, y) == pytest.approx(1.0)
    assert regression.concordance_correlation(y, -y) == pytest.approx(-1.0)
    # Mirrored about a non-zero mean is still perfect disagreement.
    z = y + 3.0
    assert regression.concordance_correlation(z, 2 * z.mean() - z) == pytest.approx(-1.0)
    # A constant offset c: 2 var / (2 var + c^2), below 1 though Pearson's r stays 1.
    offset = regression.concordance_correlation(y, y + 0.5)
    assert offset == pytest.approx(2 * y.var() / (2 * y.var() + 0.25))
    assert offset < 1.0 and np.corrcoef(y, y + 0.5)[0, 1] == pytest.approx(1.0)
    # Doubling a zero-mean trace: 2 * 2v / (v + 4v) = 0.8.
    assert regression.concordance_correlation(y, 2 * y) == pytest.approx(0.8)
    # A constant prediction carries no covariance.
    assert regression.concordance_correlation(y, np.full_like(y, 0.3)) == pytest.approx(0.0)


def test_ccc_of_one_shared_constant_is_undefined():
    assert np.isnan(regression.concordance_correlation(np.ones(5), np.ones(5)))
    assert regression.root_mean_squared_error(np.ones(5), np.ones(5)) == 0.0
    assert regression.regression_scores(np.ones(5), np.ones(5)).to_dict() == {
        "n": 5, "ccc": None, "rmse": 0.0
    }


def test_moment_sums_give_the_same_figures_as_the_direct_formula():
    rng = np.random.default_rng(5)
    y = rng.normal(100.0, 0.01, size=2000)  # a large mean that a naive one-pass variance loses
    p = y + rng.normal(0, 0.005, size=2000)
    groups = rng.integers(0, 7, size=2000)
    sums = regression.moments(y, p, groups, 7, shift=y.mean())
    rates = regression.rates_from_moments(sums.sum(axis=0))
    assert rates.ccc == pytest.approx(regression.concordance_correlation(y, p), rel=1e-9)
    assert rates.rmse == pytest.approx(regression.root_mean_squared_error(y, p), rel=1e-9)
    one = groups == 2
    per_group = regression.rates_from_moments(sums)
    assert per_group.ccc[2] == pytest.approx(
        regression.concordance_correlation(y[one], p[one]), rel=1e-9
    )


@pytest.mark.parametrize(
    "y, p, match",
    [
        (np.ones(3), np.ones(4), "equally long"),
        (np.ones((2, 2)), np.ones((2, 2)), "1-D"),
        (np.array([]), np.array([]), "no predictions"),
        (np.array([1.0, np.nan]), np.ones(2), "NaN"),
    ],
)
def test_bad_input_is_rejected(y, p, match):
    with pytest.raises(ValueError, match=match):
        regression.regression_scores(y, p)

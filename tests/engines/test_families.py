"""Families as objects: every family's log-density, score, weights, deviance and draws checked against
scipy's distributions and finite differences, and the registry's names and errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bayesmixed.errors import BayesmixedError
from bayesmixed.families import FAMILIES, Binomial, NegativeBinomial, get_family

ETA = np.array([-2.0, -0.3, 0.4, 1.7])
CASES = [
    ("binomial", "logit", None), ("binomial", "probit", None), ("binomial", "cloglog", None),
    ("poisson", "log", None), ("negbin", "log", 2.5), ("gaussian", "identity", None),
]


def response(family):
    """(y, prior weights) in lme4's form for each family: proportions of 7 trials, counts, or values."""
    if isinstance(family, Binomial):
        return np.array([0, 2, 5, 7]) / 7.0, np.full(4, 7.0)
    if family.name == "gaussian":
        return np.array([-1.0, 0.2, 0.5, 3.0]), np.ones(4)
    return np.array([0.0, 1.0, 3.0, 12.0]), np.ones(4)


def scipy_logpmf(family, y, weights, mu):
    if family.name == "binomial":
        return stats.binom.logpmf(np.round(y * weights), weights.astype(int), mu)
    if family.name == "poisson":
        return stats.poisson.logpmf(y, mu)
    if family.name == "negbin":
        return stats.nbinom.logpmf(y, family.dispersion, family.dispersion / (family.dispersion + mu))
    return stats.norm.logpdf(y, mu, 1.0)


@pytest.mark.parametrize("name, link, dispersion", CASES)
def test_log_density_and_deviance_match_scipy(name, link, dispersion):
    family = get_family(name, link, dispersion)
    y, weights = response(family)
    mu = family.link.inverse(ETA)
    log_norm = family.normalising_constant(y, weights)
    log_p = family.log_density(y, ETA, weights, log_norm)
    np.testing.assert_allclose(log_p, scipy_logpmf(family, y, weights, mu), rtol=1e-10, atol=1e-10)
    saturated = family.saturated_log_density(y, weights, log_norm)
    np.testing.assert_allclose(2 * (saturated - log_p), family.unit_deviance(y, mu, weights), atol=1e-9)


@pytest.mark.parametrize("name, link, dispersion", CASES)
def test_score_and_weight_derivative_by_finite_differences(name, link, dispersion):
    """score = d log p/dη; the weight's derivative is dw/dη; Newton families' weights are -d² log p/dη²."""
    family = get_family(name, link, dispersion)
    y, weights = response(family)
    log_norm = family.normalising_constant(y, weights)
    h = 1e-5

    def log_p(eta):
        return family.log_density(y, eta, weights, log_norm)

    w, score = family.working(y, ETA, weights)
    np.testing.assert_allclose(score, (log_p(ETA + h) - log_p(ETA - h)) / (2 * h), rtol=1e-6, atol=1e-8)
    w_up, _ = family.working(y, ETA + h, weights)
    w_down, _ = family.working(y, ETA - h, weights)
    np.testing.assert_allclose(family.weight_derivative(y, ETA, weights), (w_up - w_down) / (2 * h), rtol=1e-5, atol=1e-8)
    if family.newton_weights:
        curvature = -(log_p(ETA + h) - 2 * log_p(ETA) + log_p(ETA - h)) / h**2
        np.testing.assert_allclose(w, curvature, rtol=1e-4, atol=1e-6)
    assert family.newton_weights == (link in ("logit", "log", "identity"))


@pytest.mark.parametrize("name, link, dispersion", CASES)
def test_draws_have_the_family_mean_and_variance(name, link, dispersion):
    family = get_family(name, link, dispersion)
    _, weights = response(family)
    mu = family.link.inverse(np.full(20_000, 0.4))
    trials = np.full(mu.size, weights[0])
    draws = family.sample(mu, trials, np.random.default_rng(3))
    values = draws / trials if isinstance(family, Binomial) else draws
    assert values.mean() == pytest.approx(mu[0], rel=0.02)
    assert values.var() == pytest.approx(family.variance(mu[:1])[0] / trials[0], rel=0.05)


def test_negative_binomial_variance_and_dispersion():
    family = get_family("nbinom2", dispersion=2.0)
    assert isinstance(family, NegativeBinomial) and family.name == "negbin" and family.has_dispersion
    assert family.variance(np.array([4.0]))[0] == pytest.approx(4.0 + 16.0 / 2.0)
    assert family.with_dispersion(5.0).dispersion == 5.0 and family.dispersion == 2.0
    assert family.supports_bayes  # NB2 by Bayes: the full-route kernel samples log θ
    with pytest.raises(BayesmixedError, match="no dispersion"):
        get_family("poisson").with_dispersion(1.0)


def test_registry_names_links_and_errors():
    assert set(FAMILIES) == {"gaussian", "binomial", "poisson", "negbin"}
    assert get_family("Binomial").link.name == "logit" and get_family("poisson").link.name == "log"
    probit = get_family("binomial", "probit")
    assert get_family(probit) is probit
    with pytest.raises(BayesmixedError, match="unknown family 'gamma'"):
        get_family("gamma")
    with pytest.raises(BayesmixedError, match="link 'probit' is not available for the poisson family"):
        get_family("poisson", "probit")

"""Negative binomial (NB2) by Bayes: the compiled kernel's log density and gradient against scipy and finite
differences, the θ prior, the posterior pieces, and a default fit on the salamanders data against the ML fit
(glmmTMB's nbinom2 optimum, tests/reference/negbin_reference.json)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import gammaln

import bayesmixed as bm
from bayesmixed.design import build_design
from bayesmixed.engines.bayes import fit_bayes
from bayesmixed.engines.bayes.factors import digamma, negbin_logp_grad, prior_logp_grad
from bayesmixed.engines.bayes.kernels import log_density
from bayesmixed.engines.bayes.layout import FULL, make_layout, pack_model
from bayesmixed.engines.bayes.posterior import draw_response, pointwise_loglik
from bayesmixed.engines.bayes.prior import InverseSqrtHalfNormal, default_priors
from bayesmixed.errors import BayesmixedError

REFERENCE = Path(__file__).parent.parent / "reference"
FORMULA = "count ~ mined + spp + (1 | site)"


@pytest.fixture(scope="module")
def salamanders() -> pd.DataFrame:
    data = pd.read_csv(REFERENCE / "salamanders.csv")
    data["site"] = data["site"].astype(str)
    return data


@pytest.fixture(scope="module")
def design(salamanders):
    return build_design(FORMULA, salamanders, family="negbin")


def test_row_density_and_derivatives_match_scipy():
    from scipy.special import psi

    for y, eta, theta in [(0.0, 0.3, 0.9), (7.0, 1.2, 0.05), (3.0, -4.0, 250.0), (40.0, 3.5, 2.0)]:
        lp, grad_eta, grad_log_theta = negbin_logp_grad(y, eta, theta, np.log(theta))
        mu = np.exp(eta)
        # the kernel drops the data-only −log y!
        assert lp - gammaln(y + 1) == pytest.approx(stats.nbinom.logpmf(y, theta, theta / (theta + mu)), rel=1e-12, abs=1e-12)
        h = 1e-4  # lnΓ(y + θ) ~ 1e3 at θ = 250: a smaller step drowns in rounding
        up, down = negbin_logp_grad(y, eta + h, theta, np.log(theta)), negbin_logp_grad(y, eta - h, theta, np.log(theta))
        assert grad_eta == pytest.approx((up[0] - down[0]) / (2 * h), rel=1e-6, abs=1e-6)
        up = negbin_logp_grad(y, eta, theta * np.exp(h), np.log(theta) + h)
        down = negbin_logp_grad(y, eta, theta * np.exp(-h), np.log(theta) - h)
        assert grad_log_theta == pytest.approx((up[0] - down[0]) / (2 * h), rel=1e-6, abs=1e-6)
    for x in (1e-3, 0.5, 3.7, 12.0, 800.0):
        assert digamma(x) == pytest.approx(psi(x), rel=1e-12, abs=1e-12)


def test_theta_prior_density_and_gradient():
    row = np.array(InverseSqrtHalfNormal(1.5).kernel_row())
    for theta in (0.1, 1.0, 30.0):
        lp, grad = prior_logp_grad(row, theta)
        # 1/√θ ~ HalfNormal(1.5): p(θ) = HalfNormal(θ^(-1/2)) · ½ θ^(-3/2)
        expected = stats.halfnorm.logpdf(theta**-0.5, scale=1.5) + np.log(0.5) - 1.5 * np.log(theta)
        assert lp == pytest.approx(expected, rel=1e-12)
        h = 1e-6 * theta
        assert grad == pytest.approx((prior_logp_grad(row, theta + h)[0] - prior_logp_grad(row, theta - h)[0]) / (2 * h),
                                     rel=1e-6)


def test_default_prior_table_names_theta(design):
    priors = default_priors(design)
    assert repr(priors["theta"]) == "InverseSqrtHalfNormal(sigma=1)"
    assert "theta" in str(priors) and "1/√θ ~ HalfNormal(1)" in str(priors)
    assert repr(priors.updated({"theta": bm.prior.Exponential(0.1)})["theta"]) == "Exponential(lam=0.1)"
    with pytest.raises(ValueError, match="positive"):
        priors.updated({"theta": bm.prior.Normal(0, 1)})


def test_kernel_log_density_and_gradient(design):
    """The full-route kernel against a direct evaluation (scipy nbinom + the priors) and central differences."""
    priors = default_priors(design)
    layout = make_layout(design, FULL)
    model = pack_model(design, layout, priors)
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 0.3, layout.size)
    grad = np.empty(layout.size)
    lp = log_density(x, grad, model)

    beta, log_theta = x[:design.p], x[layout.sigma_index]
    term = layout.terms[0]
    sd, u = np.exp(x[term.sd_index]), x[term.u_index:term.u_index + term.n_levels]
    theta, mu = np.exp(log_theta), np.exp(design.X @ beta + sd * u[design.terms[0].codes])
    y = design.y
    expected = float(np.sum(stats.nbinom.logpmf(y, theta, theta / (theta + mu)) + gammaln(y + 1)))  # the kernel drops −log y!
    expected += sum(stats.norm.logpdf(beta[j], priors[n].param("mu"), priors[n].param("sigma"))
                    for j, n in enumerate(design.fixef_names))
    expected += stats.halfnorm.logpdf(theta**-0.5) + np.log(0.5) - 1.5 * log_theta + log_theta  # + log θ's Jacobian
    expected += stats.halfnorm.logpdf(sd, scale=priors["sd(site:(Intercept))"].param("sigma")) + np.log(sd)
    expected += float(np.sum(-0.5 * u**2))  # the kernel drops u's 2π constant
    assert lp == pytest.approx(expected, rel=1e-10)

    h = 1e-5
    numeric = np.empty(layout.size)
    scratch = np.empty(layout.size)
    for i in range(layout.size):
        step = np.zeros(layout.size)
        step[i] = h
        numeric[i] = (log_density(x + step, scratch, model) - log_density(x - step, scratch, model)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5)


def test_posterior_pieces():
    rng = np.random.default_rng(0)
    eta = np.array([[0.2, 1.5, -0.7]] * 2)
    theta = np.array([0.8, 40.0])
    y = np.array([0.0, 6.0, 1.0])
    loglik = pointwise_loglik("negbin", eta, y, None, theta)
    mu = np.exp(eta)
    np.testing.assert_allclose(loglik, stats.nbinom.logpmf(y, theta[:, None], theta[:, None] / (theta[:, None] + mu)),
                               rtol=1e-12)
    draws = draw_response("negbin", np.full((1, 200_000), 1.0), None, np.array([0.5]), rng)
    mean = np.e
    assert draws.mean() == pytest.approx(mean, rel=0.02)
    assert draws.var() == pytest.approx(mean + mean**2 / 0.5, rel=0.05)  # NB2: μ + μ²/θ


@pytest.fixture(scope="module")
def salamander_fit(design):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_bayes(design, chains=4, draws=500, tune=500, seed=11, progressbar=False)


@pytest.fixture(scope="module")
def ml_reference() -> dict:
    return json.loads((REFERENCE / "negbin_reference.json").read_text())["salamanders"]["glmmTMB"]


def test_salamanders_fit_samples_cleanly_near_ml(salamander_fit, ml_reference):
    fit = salamander_fit
    table = fit.parameters
    assert fit.diagnosis.ok, fit.diagnosis.problems
    assert fit.diagnosis.divergences == 0 and fit.diagnosis.max_rhat <= 1.01
    # ML estimates within 2 posterior sds (the posterior of θ is skewed: compare on the log scale)
    for name, value in ml_reference["fixef"].items():
        assert abs(table.loc[name, "median"] - value) < 2 * table.loc[name, "sd"], name
    theta_draws = np.log(fit.posterior.dispersion)
    assert abs(theta_draws.mean() - np.log(ml_reference["theta_nb"])) < 2 * theta_draws.std()
    sd_site = ml_reference["ranef_sdcor"]["site"]["sd"]
    assert abs(table.loc["sd(site:(Intercept))", "median"] - sd_site) < 2 * table.loc["sd(site:(Intercept))", "sd"]
    assert fit.dispersion == pytest.approx(table.loc["theta", "median"])
    assert "theta" in str(fit.summary())
    assert fit.sigma == 1.0


def test_salamanders_fit_result_surface(salamander_fit, design):
    fit = salamander_fit
    y = design.y
    fitted = fit.fitted().to_numpy()
    np.testing.assert_allclose(fit.residuals("pearson"), (y - fitted) / np.sqrt(fitted + fitted**2 / fit.dispersion))
    with pytest.raises(BayesmixedError, match="deviance residuals"):
        fit.residuals("deviance")
    simulated = fit.simulate(200, seed=1)
    simulated = np.asarray(simulated)
    assert simulated.shape[-1] == design.n or simulated.shape[0] == design.n
    assert simulated.mean() == pytest.approx(y.mean(), rel=0.25)
    icc = fit.icc()  # σ²_d = log(1 + 1/λ + 1/θ) at θ's posterior median
    assert 0 < icc.loc["site", "icc"] < 1
    np.testing.assert_allclose(fit.idata.posterior["theta"].values.reshape(-1), fit.posterior.dispersion)
    loglik = fit.log_likelihood()  # per observation, for LOO
    assert loglik.shape == (4 * 500, design.n) and np.isfinite(loglik).all() and (loglik <= 0).all()


@pytest.mark.slow
def test_nutpie_samples_the_same_posterior(salamander_fit, design):
    """The PyMC model (NegativeBinomial(mu, alpha=θ), 1/√θ ~ HalfNormal(1), non-centred) against the numba kernel."""
    pytest.importorskip("nutpie")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_bayes(design, sampler="nutpie", chains=2, draws=500, tune=500, seed=3, progressbar=False, warn=False)
    assert {"theta", "theta_inverse_sqrt"} <= {v.name for v in fit.pymc_model.unobserved_RVs}
    reference = salamander_fit.parameters
    for name in ("(Intercept)", "minedyes", "sppPR", "theta", "sd(site:(Intercept))"):
        assert abs(fit.parameters.loc[name, "median"] - reference.loc[name, "median"]) < 0.5 * reference.loc[name, "sd"], name

"""The GLMM fit's behaviour beyond glmer's numbers: recovery of known parameters, loud failures
(separation, bad nagq), and the semantics of fitted/residuals/predict/simulate/refit/summary."""

from __future__ import annotations

import json
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.engines.glmm import GlmmFit, GlmmWarning, fit_glmm
from bayesmixed.engines.glmm.deviance import DevianceFunction, agq_deviance, saturated_constant
from bayesmixed.errors import BayesmixedError
from bayesmixed.results.prediction import NewLevelError

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
EXTRA_PATH = Path(__file__).parent.parent / "reference" / "glmm_extra.json"


@lru_cache(maxsize=1)
def cbpp_fit() -> GlmmFit:
    return bm.glmer(CBPP, bm.datasets.load("cbpp"), "binomial")


def simulated_counts(seed: int = 11, groups: int = 60, per_group: int = 20) -> tuple[pd.DataFrame, dict]:
    """Poisson counts with exposure: log μ = log(t) + 0.3 - 0.5 x + b_g, b_g ~ N(0, 0.6²)."""
    rng = np.random.default_rng(seed)
    truth = {"beta": np.array([0.3, -0.5]), "sd": 0.6}
    g = np.repeat(np.arange(groups), per_group)
    x = rng.standard_normal(g.size)
    exposure = rng.uniform(0.5, 4.0, g.size)
    b = truth["sd"] * rng.standard_normal(groups)
    y = rng.poisson(exposure * np.exp(truth["beta"][0] + truth["beta"][1] * x + b[g]))
    data = pd.DataFrame({"y": y, "x": x, "t": exposure, "g": pd.Categorical([f"g{k}" for k in g])})
    return data, truth


def fit_quietly(*args, **kwargs) -> tuple[GlmmFit, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = bm.glmer(*args, **kwargs)
    return fit, [str(w.message) for w in caught if issubclass(w.category, GlmmWarning)]


def test_poisson_with_offset_recovers_the_truth():
    data, truth = simulated_counts()
    fit = bm.glmer("y ~ x + offset(log(t)) + (1 | g)", data, "poisson")
    assert fit.converged and fit.messages == ()
    z = (fit.beta - truth["beta"]) / fit.se.to_numpy()
    assert np.all(np.abs(z) < 3.5), z
    assert fit.theta[0] == pytest.approx(truth["sd"], rel=0.3)
    # Dropping the offset changes the fit: it is really used.
    without = bm.glmer("y ~ x + (1 | g)", data, "poisson")
    assert abs(without.beta[0] - fit.beta[0]) > 0.3
    assert fit.overdispersion["ratio"] == pytest.approx(1.0, abs=0.2)
    assert "Overdispersion check" in str(fit.summary())


def test_overdispersed_counts_are_flagged_in_the_summary():
    data, _ = simulated_counts(seed=3)
    rng = np.random.default_rng(5)
    data["y"] = rng.negative_binomial(1, 1 / (1 + data["y"].to_numpy() + 1.0))  # extra-Poisson variation
    fit = bm.glmer("y ~ x + (1 | g)", data, "poisson")
    assert fit.overdispersion["ratio"] > 1.5
    text = str(fit.summary())
    assert "observation-level random effect" in text


def test_fixed_effect_separation_is_a_warning_naming_the_coefficient():
    data = bm.datasets.load("cbpp").copy()
    data.loc[data["period"] == "4", "incidence"] = 0
    fit, caught = fit_quietly(CBPP, data, "binomial")
    assert any("separation" in m and "'period4'" in m for m in caught), caught
    assert any("separation" in m for m in fit.messages)
    assert "WARNINGS" in str(fit.summary()) and "period4" in str(fit.summary())
    assert not fit.converged
    assert fit.beta[3] < -8  # running off to -infinity, said so, not silently reported as an estimate


def test_separation_warns_once_without_numpy_noise():
    """Issue #12: complete separation printed ~19 numpy overflow warnings before the separation message."""
    data = bm.datasets.load("cbpp").copy()
    data.loc[data["period"] == "4", "incidence"] = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = bm.glmer(CBPP, data, "binomial")
        fit.se  # the Hessian's finite differences run through the same overflowing arithmetic
    numpy_noise = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert not numpy_noise, [str(w.message) for w in numpy_noise]
    assert sum("separation" in str(w.message) for w in caught) == 1


def test_probit_cbpp_converges_silently_as_glmer_does():
    """Issue #12: the probit fit warned 'may not have converged' (scaled gradient 0.00255 > 0.002) where
    glmer is silent: Fisher scoring is not Newton's method for the probit, so the profiled β is only close
    to the Laplace optimum; the fit now finishes over (θ, β), ending lower and with a small gradient."""
    fit, caught = fit_quietly(CBPP, bm.datasets.load("cbpp"), "binomial", link="probit")
    assert caught == [] and fit.converged
    assert fit.route == "profiled+polished"
    assert np.max(np.abs(fit.derivatives.gradient)) < 0.02  # was 0.031 on period2
    assert fit.objective < 185.242456  # the profiled-only optimum's deviance


def test_random_term_separation_is_a_warning_naming_the_term():
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(20), 10)
    data = pd.DataFrame({"y": (g % 2 == 0).astype(float), "x": rng.standard_normal(g.size),
                         "g": pd.Categorical([f"g{k}" for k in g])})
    fit, caught = fit_quietly("y ~ x + (1 | g)", data, "binomial")
    assert any("separation in the random term (1 | g)" in m and "20 of its 20 levels" in m for m in caught), caught
    assert any("method='bayes'" in m for m in caught)


def test_nagq_needs_a_single_scalar_term():
    data = bm.datasets.load("cbpp")
    with pytest.raises(BayesmixedError, match=r"\(1 \+ period \| herd\)"):
        bm.glmer("cbind(incidence, size - incidence) ~ period + (1 + period | herd)", data, "binomial", nagq=5)
    verbagg = bm.datasets.load("verbagg").iloc[:400]
    with pytest.raises(BayesmixedError, match=r"\(1 \| id\), \(1 \| item\)"):
        bm.glmer("r2 ~ Anger + (1 | id) + (1 | item)", verbagg, "binomial", nagq=3)
    for bad in (0, 2.5, 101):
        with pytest.raises(BayesmixedError, match="nagq"):
            bm.glmer(CBPP, data, "binomial", nagq=bad)


def test_one_node_quadrature_is_the_laplace_approximation():
    fit = cbpp_fit()
    deviance = DevianceFunction(fit.problem, 1, fit.u, fit.beta)
    modes, rows = deviance.modes(fit.theta, fit.beta)
    one_node = agq_deviance(fit.problem, rows, modes, np.array([0.0]), np.array([1.0]))
    assert one_node == pytest.approx(fit.objective, abs=1e-9)
    assert fit.lme4_objective == fit.objective


def test_bad_options_are_errors_not_guesses():
    data = bm.datasets.load("cbpp")
    design = bm.build_design(CBPP, data, "binomial")
    with pytest.raises(BayesmixedError, match="link"):
        fit_glmm(design, link="identity")
    with pytest.raises(BayesmixedError, match="start"):
        fit_glmm(design, start={"theta": [1.0, 2.0]})
    with pytest.raises(BayesmixedError, match="start takes"):
        fit_glmm(design, start={"beta": [0.0] * 4})
    with pytest.raises(BayesmixedError, match="Gaussian|binomial and Poisson"):
        fit_glmm(bm.build_design("Reaction ~ Days + (1 | Subject)", bm.datasets.load("sleepstudy"), "gaussian"))
    with pytest.raises(BayesmixedError, match="REML"):
        bm.Model(CBPP, data, "binomial").fit("reml")


def test_model_fit_ml_is_glmer():
    data = bm.datasets.load("cbpp")
    fit = bm.Model(CBPP, data, "binomial").fit("ml")
    assert isinstance(fit, GlmmFit)
    assert fit.objective == pytest.approx(cbpp_fit().objective, rel=1e-10)
    np.testing.assert_allclose(fit.theta, cbpp_fit().theta, rtol=1e-8)


def test_fitted_residuals_and_predict_agree():
    fit = cbpp_fit()
    data = bm.datasets.load("cbpp")
    mu = fit.fitted().to_numpy()
    eta = fit.fitted(scale="link").to_numpy()
    np.testing.assert_allclose(mu, 1 / (1 + np.exp(-eta)))
    assert np.all((mu > 0) & (mu < 1))
    proportion = data["incidence"] / data["size"]
    np.testing.assert_allclose(fit.residuals("response").to_numpy(), proportion - mu)
    pearson = fit.residuals("pearson").to_numpy()
    np.testing.assert_allclose(pearson, (proportion - mu) / np.sqrt(mu * (1 - mu) / data["size"]))
    deviance = fit.residuals().to_numpy()
    assert np.sign(deviance).tolist() == np.sign(proportion - mu).tolist()
    # The squared deviance residuals and the saturated model's -2 log-likelihood make up -2 log p(y | b̂).
    saturated = saturated_constant(fit.problem)
    assert np.sum(deviance**2) + saturated == pytest.approx(fit.modes.conditional_deviance, rel=1e-10)
    np.testing.assert_allclose(fit.predict(data).to_numpy(), mu)
    np.testing.assert_allclose(fit.predict(data, scale="link").to_numpy(), eta)
    population = fit.predict(data, re=False, scale="link").to_numpy()
    np.testing.assert_allclose(population, fit.design.X @ fit.beta)
    new_herd = data.iloc[:4].assign(herd="a new herd")
    with pytest.raises(NewLevelError, match="herd"):
        fit.predict(new_herd)
    np.testing.assert_allclose(fit.predict(new_herd, allow_new_levels=True, scale="link").to_numpy(), population[:4])
    with pytest.raises(BayesmixedError, match="kind"):
        fit.residuals("working")
    with pytest.raises(BayesmixedError, match="scale"):
        fit.fitted(scale="probability")


def test_simulate_draws_in_the_designs_form_and_is_reproducible():
    fit = cbpp_fit()
    trials = fit.design.trials
    draws = fit.simulate(200, seed=42)
    assert draws.shape == (200, fit.nobs)
    assert np.all(draws == np.round(draws)) and np.all(draws >= 0) and np.all(draws <= trials)
    np.testing.assert_array_equal(draws[:3], fit.simulate(3, seed=42))
    # Marginal mean of successes: trials × E[expit(η + b)], b ~ N(0, θ²), near trials × the fit's level.
    marginal = draws.mean(axis=0) / trials
    population = fit.fitted(re=False).to_numpy()
    assert np.corrcoef(marginal, population)[0, 1] > 0.9
    counts = bm.glmer("y ~ x + (1 | g)", simulated_counts()[0], "poisson").simulate(2, seed=1)
    assert counts.shape == (2, 1200) and np.all(counts == np.round(counts))


def test_refit_reproduces_the_fit_and_fits_simulated_responses():
    fit = cbpp_fit()
    again = fit.refit(fit.design.y)
    assert again.objective == pytest.approx(fit.objective, abs=1e-7)
    np.testing.assert_allclose(again.theta, fit.theta, atol=1e-4)
    simulated = fit.simulate(1, seed=3)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", GlmmWarning)  # refits record trouble in messages, never warn
        other = fit.refit(simulated, start={"theta": fit.theta, "fixef": fit.beta})
    assert isinstance(other, GlmmFit) and other.derivatives is None
    np.testing.assert_array_equal(other.design.y, fit.design.y)  # the design is untouched
    assert other.objective != pytest.approx(fit.objective)
    assert other.se.shape == (4,) and np.all(other.se > 0)  # standard errors on demand
    with pytest.raises(BayesmixedError, match="one response value per row"):
        fit.refit(simulated[:10])


def test_anova_matches_glmers_lrt():
    lrt = json.loads(EXTRA_PATH.read_text())["lrt"][0]
    data = bm.datasets.load("cbpp")
    small = bm.glmer(lrt["small"], data, "binomial")
    table = bm.anova(small, cbpp_fit())
    assert table["chisq"].iloc[1] == pytest.approx(lrt["chisq"], rel=1e-4)
    assert int(table["df"].iloc[1]) == lrt["df"]
    assert table["p"].iloc[1] == pytest.approx(lrt["p"], rel=1e-3)


def test_bootstrap_lrt_runs_on_glmm_fits():
    data = bm.datasets.load("cbpp")
    small = bm.glmer("cbind(incidence, size - incidence) ~ 1 + (1 | herd)", data, "binomial")
    result = bm.bootstrap_lrt(small, cbpp_fit(), n=8, seed=2, progress=False)
    assert result.n_ok == 8 and result.stat == pytest.approx(25.61, abs=0.01)
    assert result.p_value <= 1 / 9  # no simulated statistic reached the observed one (p = 0 or (1 + 0)/(n + 1))


def test_summary_and_repr_say_what_was_fitted():
    fit = cbpp_fit()
    text = str(fit.summary())
    assert "Laplace Approximation" in text and "Family: binomial  ( logit )" in text
    assert "z value" in text and "Pr(>|z|)" in text and "Residual" not in text
    assert "herd   (Intercept)" in text
    assert "Laplace" in repr(fit) and "-2 logLik" in repr(fit)
    agq = bm.glmer(CBPP, bm.datasets.load("cbpp"), "binomial", nagq=7)
    assert "nAGQ = 7" in str(agq.summary()) and agq.approximation == "adaptive Gauss-Hermite (nagq = 7)"
    np.testing.assert_allclose(fit.coefficients["z value"], fit.beta / fit.se.to_numpy())

"""Prior weights against lme4 1.1-31 / lmerTest: weighted REML and ML fits (sleepstudy with fixed weights, a
simulated data set with a correlated slope, a crossed factor and a fixed factor), Satterthwaite df,
residuals, simulate, the bootstrap's refit path, comparisons, and binomial proportions with weights = trials.

References: tests/reference/weights_reference.json, made by tests/reference/make_weights_reference.R.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.inference.refit import response_model

REFERENCE_DIR = Path(__file__).parents[1] / "reference"
REFERENCE = json.loads((REFERENCE_DIR / "weights_reference.json").read_text())
LMM_CASES = sorted(REFERENCE["lmm"])


def frame(name: str) -> pd.DataFrame:
    if name == "sleepstudy":
        return bm.datasets.load("sleepstudy").assign(w=REFERENCE["sleepstudy_weights"])
    return pd.read_csv(REFERENCE_DIR / "weighted_sim.csv")


@pytest.fixture(scope="module")
def fits() -> dict[str, bm.engines.lmm.api.LmmFit]:
    return {case: bm.lmer(ref["formula"], frame(ref["data"]), REML=ref["REML"], weights="w")
            for case, ref in REFERENCE["lmm"].items()}


@pytest.mark.parametrize("case", LMM_CASES)
def test_weighted_fit_matches_lme4(fits, case):
    ref, fit = REFERENCE["lmm"][case], fits[case]
    assert fit.objective == pytest.approx(ref["objective"], rel=1e-6)
    assert fit.loglik == pytest.approx(ref["loglik"], rel=1e-6)
    assert list(fit.design.fixef_names) == list(ref["beta"])
    np.testing.assert_allclose(fit.beta, list(ref["beta"].values()), rtol=1e-4)
    np.testing.assert_allclose(fit.theta, ref["theta"], rtol=1e-4, atol=1e-4)
    assert list(fit.theta_names) == ref["theta_names"]
    assert fit.sigma == pytest.approx(ref["sigma"], rel=1e-4)
    np.testing.assert_allclose(fit.coefficients["df"], list(ref["satterthwaite_df"].values()), rtol=1e-3)
    np.testing.assert_allclose(fit.se, list(ref["std_error"].values()), rtol=1e-4)


@pytest.mark.parametrize("case", LMM_CASES)
def test_weighted_residuals_are_on_the_response_scale(fits, case):
    """lme4's residuals() are y - fitted, unweighted; the scaled Pearson residuals are √wᵢ(y - fitted)/σ;
    condVar is σ²Λ(Λ'Z'WZΛ + I)⁻¹Λ'."""
    ref, fit = REFERENCE["lmm"][case], fits[case]
    scale = np.std(ref["residuals"])
    np.testing.assert_allclose(fit.fitted(), ref["fitted"], atol=1e-4 * scale)
    np.testing.assert_allclose(fit.residuals(), ref["residuals"], atol=1e-4 * scale)
    np.testing.assert_allclose(fit.residuals("pearson"), ref["pearson_scaled"], atol=1e-4)
    np.testing.assert_allclose(fit.ranef[fit.design.terms[0].group].iloc[0], ref["ranef_first"], rtol=1e-3, atol=1e-4)
    for term, covariances in zip(fit.design.terms, fit.conditional_covariances):
        np.testing.assert_allclose(covariances[0], np.atleast_2d(ref["cond_var_first"][term.group]), rtol=1e-3)


def test_summary_and_model_show_the_weights(fits):
    text = str(fits["sleep_reml"].summary())
    assert "Weights: w\nREML criterion at convergence: 1753.0" in text
    model = bm.Model("Reaction ~ Days + (Days | Subject)", frame("sleepstudy"), weights="w")
    assert "weights: w" in repr(model)


def test_unit_weights_change_nothing():
    data = frame("sim")
    plain = bm.lmer("y ~ x + f + (x | g) + (1 | h)", data)
    unit = bm.lmer("y ~ x + f + (x | g) + (1 | h)", data, weights=np.ones(len(data)))
    assert unit.objective == pytest.approx(plain.objective, rel=1e-12)
    np.testing.assert_allclose(unit.theta, plain.theta, rtol=1e-8)


def test_simulated_noise_has_variance_sigma_squared_over_w(fits):
    """Var(yᵢ) over draws = Σ_terms zᵢ'Σ_t zᵢ + σ²/wᵢ; with unweighted noise the ratio below would be mean(w) ≈ 1.6."""
    fit = fits["sim_ml"]
    design = fit.design
    draws = fit.simulate(4000, seed=11)
    random_part = sum(np.einsum("ic,cd,id->i", term.matrix, block, term.matrix)
                      for term, block in zip(design.terms, fit.covariance_blocks))
    noise = draws.var(axis=0) - random_part
    ratio = noise * design.weights / fit.sigma**2
    assert np.mean(ratio) == pytest.approx(1.0, abs=0.03)
    assert np.corrcoef(noise, 1.0 / design.weights)[0, 1] > 0.9


@pytest.mark.parametrize("case", ["sleep_reml", "sim_ml"])
def test_bootstrap_refit_of_the_observed_response_reproduces_the_fit(fits, case):
    """The parametric bootstrap refits through PlsSystem.with_response, which must weight the new y too."""
    fit = fits[case]
    model = response_model(fit)
    refit = model.refit(fit.design.y, [{"theta": fit.theta}])
    assert refit.objective == pytest.approx(fit.objective, rel=1e-8)
    sigma, beta = model.estimates(refit)
    assert sigma == pytest.approx(fit.sigma, rel=1e-5)
    np.testing.assert_allclose(beta, fit.beta, rtol=1e-5)


def test_comparing_fits_with_different_weights_is_refused(fits):
    unweighted = bm.lmer("Reaction ~ Days + (Days | Subject)", frame("sleepstudy"), REML=False)
    with pytest.raises(bm.BayesmixedError, match=r"same prior weights"):
        bm.anova(unweighted, fits["sleep_ml"])


def test_binomial_proportion_with_weights_is_the_cbind_fit():
    ref = REFERENCE["glmm"]["cbpp_prop"]
    cbpp = bm.datasets.load("cbpp")
    proportion = bm.glmer(ref["formula"], cbpp.assign(prop=cbpp["incidence"] / cbpp["size"]), weights="size")
    counts = bm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp)
    assert proportion.objective == pytest.approx(counts.objective, rel=1e-12)
    np.testing.assert_allclose(proportion.beta, counts.beta, rtol=1e-10)
    assert proportion.loglik == pytest.approx(ref["loglik"], rel=1e-5)
    np.testing.assert_allclose(proportion.beta, list(ref["beta"].values()), rtol=1e-3)
    np.testing.assert_allclose(proportion.theta, ref["theta"], rtol=1e-3)


def test_weighted_profile_intervals_match_lme4(fits):
    """Variance parameters against lme4's profile; fixed effects against Wald, since lme4's profile of β ignores
    the weights (lme4 issue #192): a likelihood interval is close to Wald's here, not 15 times narrower."""
    ref = REFERENCE["profile_sleep_ml"]
    intervals = fits["sleep_ml"].confint(method="profile", old_names=False)
    variance = intervals.loc[ref["names"]].to_numpy()
    np.testing.assert_allclose(variance[:, 0], ref["lower"], rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(variance[:, 1], ref["upper"], rtol=2e-4, atol=2e-4)
    fixed = intervals.loc[ref["wald_names"]].to_numpy()
    wald_width = np.array(ref["wald_upper"]) - np.array(ref["wald_lower"])
    np.testing.assert_allclose(fixed[:, 1] - fixed[:, 0], wald_width, rtol=0.1)
    assert np.all(fixed[:, 0] < fits["sleep_ml"].beta) and np.all(fits["sleep_ml"].beta < fixed[:, 1])

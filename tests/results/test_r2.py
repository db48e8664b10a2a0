"""Nakagawa & Schielzeth's R² against performance::r2_nakagawa (tests/reference/make_r2_reference.R)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.errors import BayesmixedError
from bayesmixed.families import get_family
from bayesmixed.results.r2 import components, r2
from tests.inference.helpers import SLEEP_CORRELATED, bayes, lmm

REFERENCE = Path(__file__).parents[1] / "reference"
FIELDS = ("marginal_hand", "conditional_hand", "var_fixed", "var_random_hand", "var_distribution")


@lru_cache(maxsize=1)
def reference() -> list[dict]:
    return json.loads((REFERENCE / "r2_reference.json").read_text())["cases"]


def data(name: str) -> pd.DataFrame:
    if name == "grouseticks":
        frame = pd.read_csv(REFERENCE / "grouseticks.csv")
        for column in ("YEAR", "BROOD", "LOCATION"):
            frame[column] = frame[column].astype(str)
        return frame
    return bm.datasets.load(name)


def case_id(case: dict) -> str:
    return f"{case['data']}-{case['link']}-{'reml' if case['reml'] else 'ml'}-{case['formula'].count('||')}"


@pytest.mark.parametrize("case", reference(), ids=case_id)
def test_components_from_lme4s_estimates_equal_performance(case):
    """Our formulas on lme4's own θ, β, σ: equal to R's numbers to rounding.  The reference's var_random is the
    sum written out over VarCorr's terms; it equals insight's except for (Days || Subject), where insight 0.19
    leaves the slope's variance out (it takes the terms from ranef(), which merges the two)."""
    design = bm.build_design(case["formula"], data(case["data"]), family=case["family"])
    sigma = case["sigma"] if case["family"] == "gaussian" else 1.0
    covariances = [sigma**2 * block @ block.T for block in design.lambda_blocks(np.atleast_1d(case["theta"]))]
    if case["family"] == "poisson":
        distribution = np.log1p(np.exp(-case["null_intercept"]))  # insight: log1p(1/mu), mu = exp(null intercept)
    else:
        distribution = get_family(case["family"], case["link"]).distribution_variance(sigma, null_mean=lambda: np.nan)
    got = components(design, np.atleast_1d(case["beta"]), covariances, distribution)
    np.testing.assert_allclose(got, [case[field] for field in FIELDS], rtol=1e-9, atol=1e-12)
    if "||" not in case["formula"]:
        assert case["var_random"] == pytest.approx(case["var_random_hand"], rel=1e-10)
        assert case["marginal"] == pytest.approx(case["marginal_hand"], rel=1e-10)


# Our fits against lme4's: LMMs agree to ~1e-6 (penicillin's REML θ to ~5e-5); cbpp's glmer θ differs by 3e-4
# (0.64226 here, 0.64207 by lme4's default optimiser); the grouse-tick null refit (for λ) reaches a
# log-likelihood 0.0085 higher than lme4's, moving σ²_d by 3e-3.
TOLERANCE = {"gaussian": 1e-4, "binomial": 2e-3, "poisson": 5e-3}


@pytest.mark.parametrize("case", reference(), ids=case_id)
def test_r2_of_our_fits_matches_performance(case):
    frame = data(case["data"])
    if case["family"] == "gaussian":
        fit = bm.lmer(case["formula"], frame, REML=case["reml"])
    else:
        fit = bm.glmer(case["formula"], frame, family=case["family"], link=case["link"])
    result = fit.r2()
    np.testing.assert_allclose(result.estimate, [case[field] for field in FIELDS], rtol=TOLERANCE[case["family"]],
                               atol=1e-12)
    assert result.lower is None and result.source == ("REML estimates" if case["reml"] else "ML estimates")
    if case["family"] == "poisson":
        assert np.log(fit.null_model_mean) == pytest.approx(case["null_intercept"], abs=5e-3)


def test_bayes_r2_is_computed_draw_by_draw():
    fit = bayes(SLEEP_CORRELATED)
    result = fit.r2()
    assert result.draws.shape == (fit.n_chains * fit.n_draws, 5)
    np.testing.assert_allclose(result.estimate, np.median(result.draws, axis=0))
    # one draw by hand: z_i'Σz_i row by row, var(Xβ) with n - 1, σ² from the draw
    s = 7
    design = fit.design
    beta = fit.beta_draws[s]
    sd_intercept = fit.draws["sd(Subject:(Intercept))"].reshape(-1)[s]
    sd_days = fit.draws["sd(Subject:Days)"].reshape(-1)[s]
    rho = fit.draws["cor(Subject:(Intercept),Days)"].reshape(-1)[s]
    sigma = fit.sigma_draws[s]
    covariance = np.array([[sd_intercept**2, rho * sd_intercept * sd_days], [rho * sd_intercept * sd_days, sd_days**2]])
    days = design.X[:, 1]
    var_random = np.mean([np.array([1.0, d]) @ covariance @ np.array([1.0, d]) for d in days])
    eta = design.X @ beta
    var_fixed = np.sum((eta - eta.mean()) ** 2) / (len(eta) - 1)
    total = var_fixed + var_random + sigma**2
    np.testing.assert_allclose(result.draws[s], [var_fixed / total, (var_fixed + var_random) / total, var_fixed,
                                                 var_random, sigma**2], rtol=1e-10)
    # the REML estimates lie inside the posterior's 95% intervals (a loose check of the draws' scale)
    reml = r2(lmm(SLEEP_CORRELATED))
    assert np.all(result.lower[:2] < reml.estimate[:2]) and np.all(reml.estimate[:2] < result.upper[:2])
    assert "credible" in str(result) and "2.5%" in result.to_markdown()


def test_side_by_side_has_r2_rows():
    reml = lmm(SLEEP_CORRELATED)
    frame = bm.side_by_side(reml=reml, intervals="wald").to_frame()
    assert frame.loc["R2_marginal", ("reml", "estimate")] == pytest.approx(r2(reml).marginal, rel=1e-12)
    assert frame.loc["R2_conditional", ("reml", "estimate")] == pytest.approx(0.799219922782924, rel=1e-5)


# --- count families: one σ²_d for R² and the ICC (performance 0.10.2 / insight 0.19 on lme4 and glmmTMB nbinom2) ---
ICC_NB_REFERENCE = json.loads((REFERENCE / "icc_nb_reference.json").read_text())
COUNT_FIELDS = ("marginal", "conditional", "var_fixed", "var_random", "var_distribution")


def count_case_id(case: dict) -> str:
    return f"{case['data']}-{case['family']}"


def test_distribution_variance_of_count_families_is_insights_lognormal_approximation():
    """On R's own λ and θ: Poisson log(1 + 1/λ), NB2 log(1 + 1/λ + 1/θ), to rounding."""
    for case in ICC_NB_REFERENCE["cases"]:
        family = get_family(case["family"])
        if case["family"] == "negbin":
            family = family.with_dispersion(case["theta"])
        lam = np.exp(case["null_intercept"])
        assert family.distribution_variance(None, lambda: lam) == pytest.approx(case["var_distribution"], rel=1e-12)


# Our Laplace fits against glmer's and glmmTMB's: the grouse-tick Poisson null refit moves σ²_d by ~3e-3 (see
# TOLERANCE above; measured 3.4e-3 relative); the NB fits agree with glmmTMB's R² and ICC to 3e-5 relative.
COUNT_TOLERANCE = {"poisson": 5e-3, "negbin": 2e-4}


@pytest.mark.parametrize("case", ICC_NB_REFERENCE["cases"], ids=count_case_id)
def test_icc_and_r2_of_count_fits_match_performance(case):
    frame = data(case["data"]) if case["data"] != "salamanders" else pd.read_csv(REFERENCE / "salamanders.csv")
    fit = bm.glmer(case["formula"], frame, family=case["family"])
    tolerance = COUNT_TOLERANCE[case["family"]]
    assert fit.icc()["icc"].iloc[0] == pytest.approx(case["icc_adjusted"], rel=tolerance)
    result = fit.r2()
    np.testing.assert_allclose(result.estimate, [case[field] for field in COUNT_FIELDS], rtol=tolerance)
    assert np.log(fit.null_model_mean) == pytest.approx(case["null_intercept"], abs=tolerance)
    assert "V(λ)/λ²" in " ".join(result.notes)


def test_a_negative_binomial_fit_gets_r2_rows_and_a_latent_scale_icc_from_its_family():
    """Where R² and the ICC apply is the family's to say (no list of family names in side_by_side or icc)."""
    fit = bm.glmer("count ~ mined + (1 | site)", pd.read_csv(REFERENCE / "salamanders.csv"), family="negbin")
    frame = bm.side_by_side(nb=fit, intervals="wald").to_frame()
    assert frame.loc["R2_marginal", ("nb", "estimate")] == pytest.approx(fit.r2().marginal, rel=1e-12)
    assert "sigma" not in frame.index
    assert fit.icc().attrs["scale"].startswith("latent")

"""The GLMM engine against glmer (lme4 1.1-31): cbpp (Laplace, AGQ, probit, cloglog), Poisson with an
offset and a correlated slope, and VerbAgg's crossed terms.

Reference values: tests/reference/lme4_reference.json (cbpp_laplace) and tests/reference/glmm_extra.json
(made by benchmarks/glmm_reference.R).  Our Laplace estimates minimise the fully converged Laplace
deviance; glmer stops PIRLS at a relative tolerance of 1e-7 with a log-determinant one step behind,
so its optimum sits up to ~1e-3 relative away on weakly determined coefficients and its -2 logLik is
a little higher.  The bars: -2 logLik at most glmer's (+1e-6 relative), θ and β within 1e-3 relative
(or 1% of a standard error), standard errors within 1e-3.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from tests.conftest import as_list, named, reference_fits

EXTRA_PATH = Path(__file__).parent.parent / "reference" / "glmm_extra.json"
POISSON_DATA = Path(__file__).parent.parent / "reference" / "glmm_poisson_sim.csv"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
VERBAGG = "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)"


@lru_cache(maxsize=1)
def extra() -> dict:
    return json.loads(EXTRA_PATH.read_text())["fits"]


@lru_cache(maxsize=None)
def fit_cbpp(nagq: int = 1, link: str | None = None) -> bm.engines.glmm.GlmmFit:
    return bm.glmer(CBPP, bm.datasets.load("cbpp"), "binomial", nagq=nagq, link=link)


def poisson_data() -> pd.DataFrame:
    data = pd.read_csv(POISSON_DATA)
    data["g"] = data["g"].astype("category")
    return data


def assert_estimates(fit, ref: dict, *, objective_scale: str = "laplace", se_tol: float = 1e-3) -> None:
    """θ, β within 1e-3 relative or 1% of a standard error; -2 logLik not above glmer's; se within se_tol."""
    theta = np.array(as_list(ref["theta"]))
    fixef = named(ref["fixef"], list(fit.design.fixef_names))
    se = named(ref["se"], list(fit.design.fixef_names))
    beta_ref = np.array([fixef[n] for n in fit.design.fixef_names])
    se_ref = np.array([se[n] for n in fit.design.fixef_names])
    np.testing.assert_allclose(fit.theta, theta, rtol=1e-3)
    beta_gap = np.abs(fit.beta - beta_ref)
    assert np.all((beta_gap <= 1e-3 * np.abs(beta_ref)) | (beta_gap <= 0.01 * se_ref)), (fit.beta, beta_ref)
    np.testing.assert_allclose(fit.se.to_numpy(), se_ref, rtol=se_tol)
    reported = ref.get("minus2loglik", ref.get("objective"))
    assert fit.lme4_objective <= reported * (1 + 1e-6)
    assert fit.lme4_objective >= reported - 5e-3  # the same optimum, not a different one


def assert_ranef(fit, ref: dict, values_atol: float, sd_rtol: float) -> None:
    for entry in ref["ranef"]:
        group = entry["group"]
        ours = fit.ranef[group]
        assert [str(level) for level in ours.index] == [str(level) for level in as_list(entry["levels"])]
        np.testing.assert_allclose(ours.to_numpy(), np.array(entry["values"]).reshape(ours.shape), atol=values_atol)
        np.testing.assert_allclose(
            fit.ranef_sd[group].to_numpy(), np.array(entry["condsd"]).reshape(ours.shape), rtol=sd_rtol
        )


def test_cbpp_laplace_matches_glmer():
    ref = reference_fits("binomial")["cbpp_laplace"]
    fit = fit_cbpp()
    assert_estimates(fit, ref)
    assert fit.objective == pytest.approx(-2 * fit.loglik)
    assert fit.aic == pytest.approx(fit.objective + 2 * ref["npar"])
    assert fit.bic == pytest.approx(fit.objective + ref["npar"] * np.log(ref["nobs"]))
    assert fit.npar == ref["npar"] and fit.nobs == ref["nobs"]
    varcorr = fit.varcorr
    assert list(varcorr["grp"]) == ["herd"] and "Residual" not in list(varcorr["grp"])
    np.testing.assert_allclose(varcorr["vcov"], [ref["varcorr"][0]["vcov"]], rtol=2e-3)
    np.testing.assert_allclose(varcorr["sdcor"], [ref["varcorr"][0]["sdcor"]], rtol=1e-3)
    assert_ranef(fit, ref, values_atol=2e-3, sd_rtol=1e-3)
    assert fit.converged and not fit.is_singular and fit.messages == ()


def test_cbpp_residuals_and_fitted_match_glmer():
    """At the AGQ optimum (no PIRLS-tolerance gap to glmer) residuals and fitted values agree tightly."""
    ref = extra()["cbpp_agq25"]
    fit = fit_cbpp(25)
    np.testing.assert_allclose(fit.fitted().to_numpy(), ref["fitted"], atol=1e-5)
    np.testing.assert_allclose(fit.fitted(scale="link").to_numpy(), ref["linear_predictor"], atol=1e-4)
    for kind in ("deviance", "pearson", "response"):
        np.testing.assert_allclose(fit.residuals(kind).to_numpy(), ref["residuals"][kind], atol=1e-4)
    laplace = fit_cbpp()
    np.testing.assert_allclose(laplace.residuals().to_numpy(), extra()["cbpp_agq1"]["residuals"]["deviance"], atol=3e-3)


@pytest.mark.parametrize("nagq", [2, 3, 5, 9, 25])
def test_cbpp_agq_matches_glmer(nagq):
    ref = extra()[f"cbpp_agq{nagq}"]
    fit = fit_cbpp(nagq)
    # For nagq > 1 glmer's -2 logLik leaves out the saturated-model constant; ours keeps it.  glmer
    # evaluates the AGQ sum at modes converged to its PIRLS tolerance: ~1e-6 off in either direction.
    assert fit.lme4_objective == pytest.approx(ref["minus2loglik"], rel=1e-7)
    np.testing.assert_allclose(fit.theta, as_list(ref["theta"]), rtol=1e-4)
    np.testing.assert_allclose(fit.beta, list(ref["fixef"].values()), rtol=1e-4)
    np.testing.assert_allclose(fit.se.to_numpy(), list(ref["se"].values()), rtol=1e-3)
    assert_ranef(fit, ref, values_atol=1e-4, sd_rtol=1e-4)


def test_agq_deviance_approaches_the_integral():
    """More nodes: the AGQ deviance settles (9 and 25 nodes agree to 1e-5), and it sits on the same scale as
    the Laplace value (the 1-node rule is the Laplace approximation)."""
    objectives = {k: fit_cbpp(k).objective for k in (1, 2, 5, 9, 25)}
    assert abs(objectives[9] - objectives[25]) < 1e-4
    assert abs(objectives[25] - objectives[2]) > abs(objectives[25] - objectives[9])
    assert abs(objectives[1] - objectives[25]) < 0.2


@pytest.mark.parametrize("link", ["probit", "cloglog"])
def test_cbpp_other_links_match_glmer(link):
    ref = extra()[f"cbpp_{link}"]
    fit = fit_cbpp(1, link)
    assert fit.family.link.name == link
    assert_estimates(fit, ref)
    assert_ranef(fit, ref, values_atol=2e-3, sd_rtol=1e-3)


def test_poisson_offset_and_correlated_slope_match_glmer():
    ref = extra()["poisson_slopes"]
    fit = bm.glmer("y ~ x + offset(log(exposure)) + (1 + x | g)", poisson_data(), "poisson")
    assert fit.family.name == "poisson" and fit.family.link.name == "log"
    assert fit.theta_names == tuple(ref["theta_names"])
    assert_estimates(fit, ref)
    assert_ranef(fit, ref, values_atol=1e-3, sd_rtol=1e-3)
    assert list(fit.varcorr["var2"].dropna()) == ["x"]


def test_poisson_agq_matches_glmer():
    ref = extra()["poisson_intercept_agq9"]
    fit = bm.glmer("y ~ x + offset(log(exposure)) + (1 | g)", poisson_data(), "poisson", nagq=9)
    assert fit.lme4_objective == pytest.approx(ref["minus2loglik"], rel=1e-7)
    np.testing.assert_allclose(fit.theta, as_list(ref["theta"]), rtol=1e-4)
    np.testing.assert_allclose(fit.se.to_numpy(), list(ref["se"].values()), rtol=1e-4)


def test_verbagg_crossed_terms_match_glmer():
    """The issue's figures: -2 logLik 8151.40, θ (id, item) = (1.3395, 0.4952)."""
    ref = extra()["verbagg"]
    fit = bm.glmer(VERBAGG, bm.datasets.load("verbagg"), "binomial")
    assert [t.group for t in fit.design.terms] == ["id", "item"]
    assert_estimates(fit, ref)
    assert fit.objective == pytest.approx(8151.40, abs=5e-3)
    np.testing.assert_allclose(fit.theta, [1.3395, 0.4952], atol=5e-4)
    assert_ranef(fit, ref, values_atol=2e-3, sd_rtol=1e-3)

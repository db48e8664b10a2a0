"""GLMM profile intervals against lme4's confint(method = "profile") for glmer fits, GLMM bootstrap intervals
reproducible by seed, and the GLMM parametric-bootstrap LRT against pbkrtest's PBmodcomp.

References (tests/reference/, each with the R script that made it): glmm_profile_reference.json (cbpp and a
Poisson model of grouseticks, lme4 1.1-31), glmm_profile_stage2_reference.json (cbpp probit and nAGQ = 9),
glmm_pbmodcomp_reference.json (pbkrtest 0.5.2) and negbin_profile_reference.json (glmmTMB 1.1.5).  lme4
interpolates a spline through a grid of profile points; the crossings here are solved for exactly, so the
bar is 5e-3 on every end point.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.inference import bootstrap_lrt, confint

REFERENCE = Path(__file__).parent.parent / "reference"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@lru_cache(maxsize=None)
def reference(name: str) -> dict:
    return json.loads((REFERENCE / name).read_text())


@lru_cache(maxsize=None)
def cbpp_fit(formula: str = CBPP):
    return bm.glmer(formula, bm.datasets.load("cbpp"), "binomial")


@lru_cache(maxsize=1)
def grouse_fit():
    data = pd.read_csv(REFERENCE / "grouseticks.csv")
    for column in ("YEAR", "BROOD"):
        data[column] = data[column].astype(str)
    return bm.glmer(reference("glmm_profile_reference.json")["grouse_poisson"]["formula"], data, "poisson")


@pytest.mark.parametrize("case, fit", [("cbpp", cbpp_fit), ("grouse_poisson", grouse_fit)])
def test_profile_intervals_match_glmer(case, fit):
    ref = reference("glmm_profile_reference.json")[case]
    table = confint(fit(), method="profile")
    assert list(table.index) == ref["names"]
    np.testing.assert_allclose(table.iloc[:, 0].to_numpy(), ref["lower"], atol=5e-3)
    np.testing.assert_allclose(table.iloc[:, 1].to_numpy(), ref["upper"], atol=5e-3)


def test_poisson_fit_matches_glmer_first():
    ref = reference("glmm_profile_reference.json")["grouse_poisson"]
    fit = grouse_fit()
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-4)
    np.testing.assert_allclose(fit.beta, [ref["fixef"][name] for name in fit.design.fixef_names], atol=1e-4)


def test_profile_of_one_parameter_and_level():
    """parm and level pick rows and the cut-off: a 50% interval sits inside the 95% one, both around β̂."""
    fit = cbpp_fit()
    narrow = confint(fit, parm="period2", level=0.5, method="profile").to_numpy()[0]
    wide = confint(fit, parm="period2", method="profile").to_numpy()[0]
    assert wide[0] < narrow[0] < fit.beta[1] < narrow[1] < wide[1]


@pytest.mark.parametrize("case, options", [("cbpp_probit", {"link": "probit"}), ("cbpp_agq9", {"nagq": 9})])
def test_profiles_over_theta_and_beta_jointly_match_glmer(case, options):
    """A non-canonical link and AGQ profile over (θ, β) with the fit's own criterion, as lme4 does."""
    ref = reference("glmm_profile_stage2_reference.json")[case]
    fit = bm.glmer(CBPP, bm.datasets.load("cbpp"), "binomial", **options)
    table = confint(fit, method="profile", parm=[".sig01", "period4"])
    rows = [ref["names"].index(name) for name in (".sig01", "period4")]
    np.testing.assert_allclose(table.iloc[:, 0].to_numpy(), np.array(ref["lower"])[rows], atol=5e-3)
    np.testing.assert_allclose(table.iloc[:, 1].to_numpy(), np.array(ref["upper"])[rows], atol=5e-3)


def test_bootstrap_intervals_are_reproducible_by_seed_whatever_n_jobs():
    fit = cbpp_fit()
    one = confint(fit, method="boot", n_boot=6, seed=5)
    two = confint(fit, method="boot", n_boot=6, seed=5, n_jobs=2)
    np.testing.assert_array_equal(one.to_numpy(), two.to_numpy())
    assert list(one.index) == [".sig01", "(Intercept)", "period2", "period3", "period4"]
    lower, upper = one.to_numpy().T
    estimates = np.concatenate([fit.theta, fit.beta])
    assert np.all(lower <= upper) and np.all(lower < estimates + 0.5) and np.all(upper > estimates - 0.5)
    other = confint(fit, method="boot", n_boot=6, seed=6)
    assert not np.array_equal(one.to_numpy(), other.to_numpy())


@pytest.mark.slow
def test_bootstrap_lrt_agrees_with_pbmodcomp():
    """p within 3 Monte Carlo standard errors of pbkrtest's (both simulations counted)."""
    ref = reference("glmm_pbmodcomp_reference.json")
    data = bm.datasets.load("cbpp")
    big = bm.glmer(ref["big"], data, "binomial")
    small = bm.glmer(ref["small"], data, "binomial")
    result = bootstrap_lrt(small, big, n=200, seed=1, progress=False)
    assert result.stat == pytest.approx(ref["stat"], abs=1e-3)
    p_ref, n_ref = ref["p_pb"], ref["n_used"]
    mc_se = np.sqrt(p_ref * (1 - p_ref) * (1 / result.n_ok + 1 / n_ref))
    assert abs(result.p_value - p_ref) < 3 * mc_se, (result.p_value, p_ref, mc_se)
    assert result.n_failed == 0
    # the whole null distribution, not only its tail: the mean statistic agrees within its Monte Carlo error
    mean_se = result.simulated.std() * np.sqrt(1 / result.n_ok + 1 / n_ref)
    assert abs(result.simulated.mean() - ref["ref_mean"]) < 3 * mean_se


def test_bootstrap_lrt_on_period_agrees_with_pbmodcomp():
    """cbpp's period: the observed statistic lies beyond every simulated one, in R as here (p at its floor)."""
    ref = reference("glmm_profile_reference.json")["cbpp_pbmodcomp"]
    small = bm.glmer("cbind(incidence, size - incidence) ~ 1 + (1 | herd)", bm.datasets.load("cbpp"), "binomial")
    result = bootstrap_lrt(small, cbpp_fit(), n=10, seed=3, progress=False)
    assert result.stat == pytest.approx(ref["stat"], abs=1e-3)
    assert ref["p_pb"] <= 2 / ref["n_used"] and result.p_value <= 1 / 10


def test_negative_binomial_profile_matches_glmmtmb():
    """NB2 on Salamanders (dispersion profiled as a nuisance parameter); glmmTMB profiles log sd, so its
    sd interval is exp of that."""
    ref = reference("negbin_profile_reference.json")
    data = pd.read_csv(REFERENCE / "salamanders.csv")
    data["site"] = data["site"].astype(str)
    fit = bm.glmer(ref["formula"], data, "negbin")
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-3)
    assert fit.dispersion == pytest.approx(ref["theta_nb"], rel=1e-3)
    table = confint(fit, method="profile")
    assert list(table.index) == [".sig01", "(Intercept)", "minedyes"]
    lower = np.array([np.exp(ref["lower"][2]), *ref["lower"][:2]])
    upper = np.array([np.exp(ref["upper"][2]), *ref["upper"][:2]])
    np.testing.assert_allclose(table.iloc[:, 0].to_numpy(), lower, atol=5e-3)
    np.testing.assert_allclose(table.iloc[:, 1].to_numpy(), upper, atol=5e-3)


def test_deviance_function_stage_reproduces_the_fit():
    """fit.devfun(): the objective as a function of (θ, β) - and of θ with β profiled - equals the fit's
    -2 log L at the estimates and rises away from them; refit(y) on the fit's own response lands there too."""
    fit = cbpp_fit()
    devfun = fit.devfun()
    params = np.concatenate([fit.theta, fit.beta])
    assert devfun.stage2(params) == pytest.approx(fit.objective, abs=1e-7)
    assert devfun.profiled(fit.theta) == pytest.approx(fit.objective, abs=1e-7)
    assert devfun.stage2(params + 0.05) > fit.objective
    again = fit.refit(fit.design.y)
    assert again.objective == pytest.approx(fit.objective, abs=1e-6)
    np.testing.assert_allclose(again.beta, fit.beta, atol=1e-4)

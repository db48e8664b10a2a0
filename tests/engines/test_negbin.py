"""Negative binomial (NB2) GLMMs by ML against glmmTMB(family = nbinom2) and lme4's glmer.nb.

References: tests/reference/negbin_reference.json from tests/reference/make_negbin_reference.R (glmmTMB
1.1.5, lme4 1.1-31).  The Laplace approximation here uses the observed information, as glmmTMB's does,
so the bars are glmmTMB's: log-likelihood and β to 1e-3, θ (NB size) to 1e-2 relative, random-effect sds
to 1e-2.  glmer.nb's Laplace uses Fisher weights (the log link is not NB's canonical link), which puts its
optimum ~0.1 log-likelihood units and up to 0.04 in β away; laplace_weights="fisher" reproduces it to the
same bars.
"""

from __future__ import annotations

import json
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.errors import BayesmixedError

REFERENCE = Path(__file__).parent.parent / "reference"
CASES = ("grouseticks", "slopes", "salamanders")


@lru_cache(maxsize=1)
def reference() -> dict:
    return json.loads((REFERENCE / "negbin_reference.json").read_text())


def dataset(case: str) -> pd.DataFrame:
    file, factors = {"grouseticks": ("grouseticks.csv", ["YEAR", "BROOD", "LOCATION"]),
                     "slopes": ("negbin_slopes.csv", ["g"]), "salamanders": ("salamanders.csv", ["site"])}[case]
    data = pd.read_csv(REFERENCE / file)
    for column in factors:
        data[column] = data[column].astype(str)
    return data


@lru_cache(maxsize=None)
def fit_case(case: str):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean fit: no convergence or singularity warnings
        return bm.glmer(reference()[case]["formula"], dataset(case), "negbin")


def reference_sds(ref: dict) -> np.ndarray:
    return np.concatenate([np.atleast_1d(term["sd"]) for term in ref["ranef_sdcor"].values()])


def fitted_sds(fit) -> np.ndarray:
    table = fit.varcorr
    return table.loc[table["var2"].isna(), "sdcor"].to_numpy(dtype=float)


@pytest.mark.parametrize("case", CASES)
def test_negbin_matches_glmmtmb(case):
    ref = reference()[case]["glmmTMB"]
    fit = fit_case(case)
    assert fit.converged and fit.family.name == "negbin"
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-3)
    beta_ref = np.array([ref["fixef"][name] for name in fit.design.fixef_names])
    np.testing.assert_allclose(fit.beta, beta_ref, atol=1e-3)
    assert fit.dispersion == pytest.approx(ref["theta_nb"], rel=1e-2)
    np.testing.assert_allclose(fitted_sds(fit), reference_sds(ref), rtol=1e-2)
    se_ref = np.array([ref["se"][name] for name in fit.design.fixef_names])
    np.testing.assert_allclose(fit.se.to_numpy(), se_ref, rtol=1e-2)


@lru_cache(maxsize=None)
def fit_fisher(case: str):
    return bm.glmer(reference()[case]["formula"], dataset(case), "negbin", laplace_weights="fisher")


@pytest.mark.parametrize("case", CASES)
def test_negbin_with_fisher_weights_matches_glmer_nb(case):
    """laplace_weights="fisher" is glmer.nb's Laplace approximation: its optimum, ~0.1 log-likelihood units
    from glmmTMB's, is matched to 1e-3 (lme4's PIRLS stops a little short of the modes, as for every glmer fit)."""
    ref = reference()[case]["glmer_nb"]
    fit = fit_fisher(case)
    assert fit.converged and fit.messages == ()
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-3)
    beta_ref = np.array([ref["fixef"][name] for name in fit.design.fixef_names])
    np.testing.assert_allclose(fit.beta, beta_ref, atol=1e-3)
    assert fit.dispersion == pytest.approx(ref["theta_nb"], rel=1e-2)
    np.testing.assert_allclose(fit.theta, np.atleast_1d(ref["theta"]), rtol=1e-2, atol=1e-3)
    assert "Fisher weights, as glmer.nb" in str(fit.summary())
    observed = fit_case(case)
    assert abs(observed.loglik - fit.loglik) > 1e-2  # two different approximations, each matched


def test_laplace_weights_is_a_negative_binomial_option():
    with pytest.raises(BayesmixedError, match="laplace_weights applies to the negative binomial"):
        bm.glmer("count ~ mined + (1 | site)", dataset("salamanders"), "poisson", laplace_weights="fisher")
    with pytest.raises(BayesmixedError, match="observed, fisher"):
        bm.glmer("count ~ mined + (1 | site)", dataset("salamanders"), "negbin", laplace_weights="expected")


def test_correlation_of_the_random_slope_matches_glmmtmb():
    fit = fit_case("slopes")
    correlation = fit.varcorr.loc[fit.varcorr["var2"].notna(), "sdcor"].iloc[0]
    assert correlation == pytest.approx(reference()["slopes"]["glmmTMB"]["ranef_sdcor"]["g"]["cor"], abs=2e-3)


def test_summary_counts_and_shows_the_dispersion():
    fit = fit_case("salamanders")
    assert fit.npar == fit.design.p + fit.design.n_theta + 1  # θ_NB counts, as in glmmTMB's df
    assert fit.aic == pytest.approx(-2 * reference()["salamanders"]["glmmTMB"]["loglik"] + 2 * fit.npar, abs=2e-3)
    text = str(fit.summary())
    assert "negbin" in text and f"{fit.dispersion:.4g}" in text
    assert fit.overdispersion is None  # the Poisson check does not apply: NB models the extra variance


def test_simulate_and_refit_recover_the_dispersion():
    """Draws from the fitted NB model have its variance; refitting one of them warm-starts and converges."""
    fit = fit_case("salamanders")
    draws = fit.simulate(2, seed=11)
    assert draws.shape == (2, fit.nobs) and np.all(draws == np.round(draws)) and draws.min() >= 0
    refit = fit.refit(draws[0])
    assert refit.converged and refit.dispersion == pytest.approx(fit.dispersion, rel=0.5)
    assert refit.family.dispersion != fit.dispersion  # estimated again, not carried over


def test_negbin_needs_counts():
    data = dataset("slopes")
    data["y"] = data["y"] + 0.5
    with pytest.raises(BayesmixedError, match="negative binomial response 'y' must hold non-negative whole-number counts"):
        bm.glmer("y ~ x + (1 | g)", data, "negbin")


def test_poisson_counts_give_a_large_size_and_a_pointer_to_the_poisson_model():
    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(30), 20)
    x = rng.normal(size=groups.size)
    y = rng.poisson(np.exp(0.5 + 0.3 * x + rng.normal(0, 0.5, 30)[groups]))
    data = pd.DataFrame({"y": y, "x": x, "g": [f"g{k}" for k in groups]})
    with pytest.warns(bm.engines.glmm.GlmmWarning, match="family='poisson'"):
        fit = bm.glmer("y ~ x + (1 | g)", data, "negbin")
    poisson = bm.glmer("y ~ x + (1 | g)", data, "poisson")
    assert fit.dispersion > 1e4
    assert fit.loglik == pytest.approx(poisson.loglik, abs=1e-2)  # NB → Poisson as θ → ∞
    np.testing.assert_allclose(fit.beta, poisson.beta, atol=1e-3)


def test_bootstrap_lrt_refits_negative_binomial_fits_reproducibly():
    """Simulate from the NB null fit (its θ), refit both models (θ estimated again each time)."""
    from bayesmixed.inference import bootstrap_lrt

    data = dataset("salamanders")
    big = bm.glmer("count ~ mined + (1 | site)", data, "negbin")
    small = bm.glmer("count ~ 1 + (1 | site)", data, "negbin")
    first = bootstrap_lrt(small, big, n=3, seed=4, progress=False)
    again = bootstrap_lrt(small, big, n=3, seed=4, progress=False)
    assert first.n_ok == 3 and first.df == 1
    np.testing.assert_array_equal(first.simulated, again.simulated)
    assert np.all(first.simulated >= 0) and np.all(first.simulated < first.stat)

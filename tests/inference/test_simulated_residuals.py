"""DHARMa-style scaled residuals: the PIT arithmetic, and the known answers on simulated Poisson GLMMs
(uniform residuals for a correct model, a rejected dispersion test for overdispersed data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.errors import BayesmixedError
from bayesmixed.inference.simulated_residuals import ScaledResiduals, scaled_residuals, simulate_residuals


def poisson_data(extra_sd: float, seed: int = 5) -> pd.DataFrame:
    """y ~ Poisson(exp(0.5 + 0.4x + u_g + e)), 30 groups of 15, u ~ N(0, 0.5²), e ~ N(0, extra_sd²) per row."""
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(30), 15)
    x = rng.normal(size=group.size)
    eta = 0.5 + 0.4 * x + rng.normal(0.0, 0.5, 30)[group] + rng.normal(0.0, extra_sd, group.size)
    return pd.DataFrame({"g": [f"G{i}" for i in group], "x": x, "y": rng.poisson(np.exp(eta))})


@pytest.fixture(scope="module")
def correct_fit():
    return bm.Model("y ~ x + (1 | g)", poisson_data(0.0), family="poisson").fit("ml")


@pytest.fixture(scope="module")
def overdispersed_fit():
    return bm.Model("y ~ x + (1 | g)", poisson_data(0.8), family="poisson").fit("ml")


def test_discrete_residual_is_uniform_between_the_ties():
    observed = np.array([2.0] * 2000)
    simulated = np.tile(np.array([0.0, 1.0, 2.0, 2.0, 3.0]), (2000, 1)).T  # 5 simulations per observation
    u = scaled_residuals(observed, simulated, True, np.random.default_rng(0))
    # 2 of 5 simulations below, 4 of 5 at or below: u ~ U(0.4, 0.8)
    assert u.min() >= 0.4 and u.max() <= 0.8
    assert abs(u.mean() - 0.6) < 0.01


def test_continuous_residual_is_the_empirical_cdf():
    simulated = np.arange(10.0)[:, None] * np.ones((1, 3))
    u = scaled_residuals(np.array([-1.0, 4.5, 20.0]), simulated, False, np.random.default_rng(0))
    np.testing.assert_allclose(u, [0.0, 0.5, 1.0])


def test_outlier_test_counts_residuals_outside_every_simulation():
    residuals = np.array([0.0, 1.0, 0.5, 0.2] + [0.5] * 96)
    result = ScaledResiduals(residuals, np.zeros(100), np.zeros((99, 100)), np.zeros(100), True, True, "ML")
    outliers = result.outliers()
    assert outliers.statistic == 2
    assert "expected 2.0" in outliers.description  # 100 · 2 / (99 + 1)


def test_correct_poisson_glmm_gives_uniform_residuals(correct_fit):
    conditional = simulate_residuals(correct_fit, n=250, seed=1)
    assert conditional.residuals.shape == (correct_fit.design.n,)
    assert conditional.uniformity().p_value > 0.05
    unconditional = simulate_residuals(correct_fit, n=250, seed=1, conditional=False)
    assert unconditional.uniformity().p_value > 0.05
    assert 0.7 < unconditional.dispersion().statistic < 1.3
    assert unconditional.dispersion().p_value > 0.05


def test_overdispersed_poisson_is_rejected(overdispersed_fit):
    for conditional in (True, False):
        result = simulate_residuals(overdispersed_fit, n=250, seed=1, conditional=conditional)
        dispersion = result.dispersion()
        assert dispersion.statistic > 1.5, conditional
        assert dispersion.p_value < 0.05, conditional
        assert result.uniformity().p_value < 0.01, conditional


def test_same_seed_same_residuals(correct_fit):
    first = simulate_residuals(correct_fit, n=50, seed=3).residuals
    np.testing.assert_array_equal(first, simulate_residuals(correct_fit, n=50, seed=3).residuals)
    assert not np.array_equal(first, simulate_residuals(correct_fit, n=50, seed=4).residuals)


def test_bayesian_fit_uses_posterior_predictive_draws():
    fit = bm.Model("y ~ x + (1 | g)", poisson_data(0.0), family="poisson").fit(
        "bayes", draws=150, tune=150, chains=2, seed=1, progressbar=False, warn=False)
    result = simulate_residuals(fit, n=200, seed=1)
    assert result.n_simulations == 200 and result.label == "Bayes"
    assert result.uniformity().p_value > 0.05
    with pytest.raises(BayesmixedError, match="conditional=False is for ML/REML"):
        simulate_residuals(fit, conditional=False)


def test_too_few_simulations_is_refused(correct_fit):
    with pytest.raises(BayesmixedError, match="n >= 10"):
        simulate_residuals(correct_fit, n=5)


def test_dispersion_statistic_agrees_with_lme4_simulations():
    """DHARMa's statistic computed in R from lme4's simulate() (tests/reference/make_dispersion_reference.R):
    both sides are Monte Carlo estimates (4000 simulations each), so they agree to ~1-2%."""
    import json
    from pathlib import Path

    reference = json.loads((Path(__file__).parent.parent / "reference" / "dispersion_reference.json").read_text())
    fit = bm.Model("cbind(incidence, size - incidence) ~ period + (1 | herd)", bm.datasets.load("cbpp"),
                   family="binomial").fit("ml")
    for conditional in (False, True):
        expected = reference["conditional" if conditional else "unconditional"]
        dispersion = simulate_residuals(fit, n=reference["nsim"], seed=1, conditional=conditional).dispersion()
        assert dispersion.statistic == pytest.approx(expected["ratio"], rel=0.03), conditional
        assert dispersion.p_value == pytest.approx(expected["p"], abs=0.06), conditional


def test_public_names_and_the_figure(correct_fit):
    import matplotlib

    matplotlib.use("Agg")
    assert bm.simulate_residuals is simulate_residuals
    figure = bm.plots.scaled_residuals(simulate_residuals(correct_fit, n=50, seed=1))
    assert [axes.get_title() for axes in figure.axes] == ["Uniform QQ", "Residuals vs predicted", "Dispersion test"]


def test_negative_binomial_fit_is_judged_against_its_own_distribution():
    # NB2 counts (θ = 2) fitted by an NB2 GLMM: conditional simulations must come from the NB, not a Poisson
    # (Poisson draws made this correct model look overdispersed: dispersion ratio ~2.7, p = 0)
    rng = np.random.default_rng(11)
    group = np.repeat(np.arange(30), 15)
    x = rng.normal(size=group.size)
    mu = np.exp(1.0 + 0.4 * x + rng.normal(0.0, 0.5, 30)[group])
    data = pd.DataFrame({"g": [f"G{i}" for i in group], "x": x, "y": rng.negative_binomial(2.0, 2.0 / (2.0 + mu))})
    fit = bm.Model("y ~ x + (1 | g)", data, family="negbin").fit("ml")
    result = simulate_residuals(fit, n=250, seed=1)
    assert 0.6 < result.dispersion().statistic < 1.4
    assert result.uniformity().p_value > 0.01

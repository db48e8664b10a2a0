"""Optimiser, boundary handling, convergence checks and the finite-difference derivatives.

The boundary cases carry lme4 1.1-31's own results (computed with the R script in the comments).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.engines.lmm.convergence import check_convergence, singular_components
from bayesmixed.engines.lmm.derivatives import central_gradient_hessian, richardson_hessian, richardson_jacobian
from bayesmixed.engines.lmm.optimize import (
    OptimizerSettings,
    Optimum,
    minimize_criterion,
    newton_polish,
    path_is_reproducible,
)

# lme4's Dyestuff2 (Box & Tiao): the classic boundary fit, the batch variance is estimated as 0.
DYESTUFF2 = pd.DataFrame({
    "Batch": np.repeat(list("ABCDEF"), 5),
    "Yield": [7.298, 3.846, 2.434, 9.566, 7.99, 5.22, 6.556, 0.608, 11.788, -0.892, 0.11, 10.386, 13.434, 5.51,
              8.166, 2.212, 4.852, 7.092, 9.288, 4.98, 0.282, 9.014, 4.458, 9.446, 7.198, 1.722, 4.782, 8.106,
              0.758, 3.758],
})


def test_zero_variance_boundary_fit_is_found_and_flagged():
    # R: lmer(Yield ~ 1 + (1|Batch), Dyestuff2) -> theta 0, sigma 3.71568427447573, REMLcrit 161.828277812288
    fit = bm.lmer("Yield ~ 1 + (1 | Batch)", DYESTUFF2)
    assert fit.theta[0] == 0.0
    assert fit.is_singular and fit.converged
    assert fit.sigma == pytest.approx(3.71568427447573, rel=1e-8)
    assert fit.objective == pytest.approx(161.828277812288, rel=1e-10)
    assert fit.fixef["(Intercept)"] == pytest.approx(5.6656, rel=1e-12)
    (message,) = fit.messages
    assert "singular" in message and "Batch: the variance of (Intercept) is estimated as 0" in message
    assert "||" in message and "bayes" in message
    assert np.all(fit.ranef["Batch"].to_numpy() == 0.0)
    assert "WARNINGS" in str(fit.summary()) and "singular" in str(fit.summary())
    ml = bm.lmer("Yield ~ 1 + (1 | Batch)", DYESTUFF2, REML=False)
    # R: deviance 162.873036653826, sigma 3.65323135137465
    assert ml.objective == pytest.approx(162.873036653826, rel=1e-10)
    assert ml.sigma == pytest.approx(3.65323135137465, rel=1e-8)


def test_perfect_correlation_boundary_fit_matches_lme4():
    # R: sleepstudy restricted to subjects 308, 309, 310, lmer(Reaction ~ Days + (Days|Subject))
    data = bm.datasets.load("sleepstudy")
    data = data[data["Subject"].astype(str).isin(["308", "309", "310"])].assign(Subject=lambda d: d["Subject"].astype(str))
    fit = bm.lmer("Reaction ~ Days + (Days | Subject)", data)
    np.testing.assert_allclose(fit.theta, [0.811524268581454, 0.367424860827611, 0.0], rtol=1e-4, atol=1e-6)
    assert fit.sigma == pytest.approx(27.864756593484362, rel=1e-4)
    assert fit.objective <= 283.283562602644963 * (1 + 1e-6)
    assert fit.is_singular
    assert fit.varcorr["sdcor"].iloc[2] == pytest.approx(1.0, abs=1e-9)
    assert "perfectly correlated" in fit.messages[0]


def test_restart_when_a_bound_parameter_wants_to_move_inward():
    """BOBYQA stopped on a bound with the criterion falling inward: lme4 restarts from there."""
    calls = []

    def criterion(theta):
        calls.append(theta.copy())
        return float((theta[0] - 0.5) ** 2 + (theta[1] - 1.0) ** 2)

    # A start on the bound whose first run is cut short (1 evaluation) so that it ends on the bound.
    optimum = minimize_criterion(criterion, np.array([0.0, 1.0]), np.zeros(2), OptimizerSettings(max_evals=1))
    assert optimum.restarted
    assert optimum.reached_limit


def test_parameters_within_boundary_tol_are_snapped_to_the_bound():
    def criterion(theta):
        return float(theta[0] ** 2 + (theta[1] - 1.0) ** 2)

    optimum = minimize_criterion(criterion, np.array([1.0, 0.5]), np.zeros(2), OptimizerSettings())
    assert optimum.theta[0] == 0.0
    assert optimum.theta[1] == pytest.approx(1.0, abs=1e-4)


def test_singular_components_use_lme4s_tolerance():
    lower = np.array([0.0, -np.inf, 0.0])
    assert list(singular_components(np.array([1.0, 0.0, 5e-5]), lower)) == [2]
    assert list(singular_components(np.array([1.0, 0.0, 2e-4]), lower)) == []


def test_convergence_check_flags_a_point_that_is_not_an_optimum():
    def criterion(theta):
        return float(100 * (theta[0] - 1.0) ** 2 + 100 * (theta[1] - 2.0) ** 2)

    theta = np.array([1.1, 2.0])
    report = check_convergence(criterion, theta, criterion(theta), np.zeros(2), reached_limit=False)
    assert not report.converged
    assert report.max_scaled_gradient > 1.0
    assert "failed to converge" in report.failures[0]
    at_optimum = np.array([1.0, 2.0])
    good = check_convergence(criterion, at_optimum, criterion(at_optimum), np.zeros(2), reached_limit=False)
    assert good.converged and not good.failures and not good.weak


def test_convergence_check_flags_a_saddle():
    def criterion(theta):
        return float(theta[0] ** 2 - theta[1] ** 2)

    report = check_convergence(criterion, np.array([0.5, 0.5]) * 0, 0.0, np.full(2, -np.inf), reached_limit=False)
    assert not report.converged
    assert any("negative eigenvalue" in p for p in report.failures)


def test_newton_polish_reaches_the_minimum_of_a_quadratic():
    def criterion(theta):
        return float(3 * (theta[0] - 0.4) ** 2 + (theta[0] - 0.4) * (theta[1] - 0.2) + 2 * (theta[1] - 0.2) ** 2)

    start = np.array([0.41, 0.19])
    value = criterion(start)
    optimum = Optimum(start, value, 10, "xtol reached", False, False)
    free = np.arange(2)
    gradient, hessian = central_gradient_hessian(criterion, start, value)
    polished = newton_polish(criterion, optimum, free, gradient, hessian, np.zeros(2))
    assert polished.polished
    np.testing.assert_allclose(polished.theta, [0.4, 0.2], atol=1e-10)
    # A step that would leave the feasible region is refused.
    refused = newton_polish(criterion, optimum, free, gradient, hessian, np.array([0.405, 0.0]))
    assert not refused.polished and refused.theta is start


def test_small_criteria_skip_the_reproducibility_rerun():
    calls = []

    def criterion(theta):
        calls.append(1)
        return float(np.sum((theta - 0.3) ** 2)) + 10.0

    optimum = minimize_criterion(criterion, np.ones(2), np.zeros(2), OptimizerSettings())
    calls.clear()
    assert path_is_reproducible(criterion, np.ones(2), np.zeros(2), OptimizerSettings(), optimum)
    assert not calls


def test_richardson_derivatives_of_a_known_function():
    def f(x):
        return x[0] ** 2 * x[1] + np.exp(x[1]) + np.sin(x[0] * x[2])

    x = np.array([0.7, 0.3, 1.2])
    exact = np.array([
        [2 * x[1] - x[2] ** 2 * np.sin(x[0] * x[2]), 2 * x[0], np.cos(x[0] * x[2]) - x[0] * x[2] * np.sin(x[0] * x[2])],
        [2 * x[0], np.exp(x[1]), 0.0],
        [np.cos(x[0] * x[2]) - x[0] * x[2] * np.sin(x[0] * x[2]), 0.0, -x[0] ** 2 * np.sin(x[0] * x[2])],
    ])
    np.testing.assert_allclose(richardson_hessian(f, x), exact, rtol=1e-6, atol=1e-8)
    gradient, hessian = central_gradient_hessian(f, x, f(x))
    np.testing.assert_allclose(hessian, exact, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gradient, [2 * x[0] * x[1] + x[2] * np.cos(x[0] * x[2]), x[0] ** 2 + np.exp(x[1]),
                                          x[0] * np.cos(x[0] * x[2])], rtol=1e-7)
    jacobian = richardson_jacobian(lambda v: np.array([v[0] * v[1], v[2] ** 3]), x)
    np.testing.assert_allclose(jacobian, [[x[1], x[0], 0.0], [0.0, 0.0, 3 * x[2] ** 2]], rtol=1e-10, atol=1e-12)


def test_nonconvergence_is_reported_loudly_with_advice():
    fit = bm.lmer("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"),
                  settings=OptimizerSettings(max_evals=8))
    assert not fit.converged
    (message,) = fit.messages
    assert "may not have converged" in message and "evaluation limit" in message and "scale" in message
    assert "may not have converged" in str(fit.summary())


def test_a_flat_direction_is_reported_as_weakly_identified():
    def criterion(theta):
        return float(1e-8 * (theta[0] - 1.0) ** 2 + 10.0 * (theta[1] - 2.0) ** 2)

    at_optimum = np.array([1.0, 2.0])
    report = check_convergence(criterion, at_optimum, criterion(at_optimum), np.full(2, -np.inf), False)
    assert report.converged
    assert report.weak

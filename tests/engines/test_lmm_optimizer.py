"""Optimiser, boundary handling, convergence checks and the finite-difference derivatives.

The boundary cases carry lme4 1.1-31's own results (computed with the R script in the comments).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.engines.checks import singular_components
from bayesmixed.engines.lmm.convergence import check_convergence
from bayesmixed.engines.derivatives import central_gradient_hessian, richardson_hessian, richardson_jacobian
from bayesmixed.engines.lmm.optimize import (
    INITIAL_STEP_FLOOR,
    OptimizerSettings,
    Optimum,
    bobyqa,
    minimize_criterion,
    newton_polish,
    path_is_reproducible,
)
from bayesmixed.results.advice import SingularFitWarning

# lme4's Dyestuff2 (Box & Tiao): the classic boundary fit, the batch variance is estimated as 0.
DYESTUFF2 = pd.DataFrame({
    "Batch": np.repeat(list("ABCDEF"), 5),
    "Yield": [7.298, 3.846, 2.434, 9.566, 7.99, 5.22, 6.556, 0.608, 11.788, -0.892, 0.11, 10.386, 13.434, 5.51,
              8.166, 2.212, 4.852, 7.092, 9.288, 4.98, 0.282, 9.014, 4.458, 9.446, 7.198, 1.722, 4.782, 8.106,
              0.758, 3.758],
})


def test_zero_variance_boundary_fit_is_found_and_flagged():
    # R: lmer(Yield ~ 1 + (1|Batch), Dyestuff2) -> theta 0, sigma 3.71568427447573, REMLcrit 161.828277812288
    with pytest.warns(SingularFitWarning, match=r"^boundary \(singular\) fit: \(1 \| Batch\)"):
        fit = bm.lmer("Yield ~ 1 + (1 | Batch)", DYESTUFF2)
    assert fit.theta[0] == 0.0
    assert fit.is_singular and fit.converged
    assert fit.sigma == pytest.approx(3.71568427447573, rel=1e-8)
    assert fit.objective == pytest.approx(161.828277812288, rel=1e-10)
    assert fit.fixef["(Intercept)"] == pytest.approx(5.6656, rel=1e-12)
    (message,) = fit.messages
    assert "(1 | Batch): the variance of (Intercept) is estimated as 0 (theta Batch.(Intercept) = 0" in message
    # a scalar term: drop it; `||` would change nothing
    assert "consider dropping (1 | Batch)" in message and "||" not in message and "bayes" in message
    assert np.all(fit.ranef["Batch"].to_numpy() == 0.0)
    assert "WARNINGS" in str(fit.summary()) and "singular" in str(fit.summary())
    # lmerTest on the boundary fit: df 29 (the Moore-Penrose inverse drops the flat θ direction)
    assert fit.coefficients["df"].iloc[0] == pytest.approx(29.0, rel=1e-6)
    assert fit.coefficients["Pr(>|t|)"].iloc[0] == pytest.approx(3.318292749e-09, rel=1e-6)
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


def test_snapping_to_the_bound_needs_a_strictly_lower_criterion_as_lme4s_check_boundary():
    from bayesmixed.engines import optimize as shared
    from bayesmixed.engines.glmm import optimize as glmm_optimize

    def flat_near_zero(theta):
        return float(max(theta[0], 5e-6) ** 2)

    theta, value, evaluations = shared.snap_to_boundary(flat_near_zero, np.array([5e-6]), 2.5e-11, np.zeros(1))
    assert theta[0] == 5e-6 and value == 2.5e-11 and evaluations == 1  # equal there: not moved (R: <, not <=)
    theta, value, _ = shared.snap_to_boundary(lambda t: float(t[0]), np.array([5e-6]), 5e-6, np.zeros(1))
    assert theta[0] == 0.0 and value == 0.0
    assert glmm_optimize.snap_to_boundary is shared.snap_to_boundary  # one rule for both engines


def test_relative_initial_step_scales_bobyqas_first_points_by_theta():
    """BOBYQA's first model is built from start ± step per coordinate: c·max(|θ_i|, floor) when asked."""
    points = []

    def criterion(theta):
        points.append(theta.copy())
        return float(np.sum((theta - np.array([2.0, 0.03, 0.5])) ** 2))

    start, lower = np.array([2.0, 0.0, 0.4]), np.array([0.0, -np.inf, 0.0])
    theta, *_ = bobyqa(criterion, start, lower, OptimizerSettings(relative_initial_step=0.1))
    first_moves = np.abs(np.array(points[1:2 * start.size + 1]) - start).max(axis=0)
    np.testing.assert_allclose(first_moves, 0.1 * np.maximum(np.abs(start), INITIAL_STEP_FLOOR), rtol=1e-12)
    np.testing.assert_allclose(theta, [2.0, 0.03, 0.5], atol=1e-6)


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


def test_convergence_check_reuses_a_nearby_hessian():
    calls = []

    def criterion(theta):
        calls.append(1)
        return float(100 * (theta[0] - 1.0) ** 2 + 30 * (theta[1] - 2.0) ** 2)

    first = check_convergence(criterion, np.array([1.1, 2.0]), criterion(np.array([1.1, 2.0])), np.zeros(2), False)
    calls.clear()
    at_optimum = np.array([1.0, 2.0])
    again = check_convergence(criterion, at_optimum, criterion(at_optimum), np.zeros(2), False, previous=first)
    assert len(calls) == 1 + 4  # the value, then 2 x 2 gradient evaluations; no Hessian
    assert again.converged and again.hessian is first.hessian


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


# nlme's Orthodont: (age | Subject) with age uncentred is ill-conditioned, so BOBYQA's end point is
# set by rounding noise (lme4's own differs ~1e-4 between runs). R, lme4 1.1-31:
#   lmer(distance ~ age + Sex + (age | Subject), Orthodont)
ORTHODONT_DISTANCE = [
    26.0, 25.0, 29.0, 31.0, 21.5, 22.5, 23.0, 26.5, 23.0, 22.5, 24.0, 27.5, 25.5, 27.5, 26.5, 27.0, 20.0, 23.5,
    22.5, 26.0, 24.5, 25.5, 27.0, 28.5, 22.0, 22.0, 24.5, 26.5, 24.0, 21.5, 24.5, 25.5, 23.0, 20.5, 31.0, 26.0,
    27.5, 28.0, 31.0, 31.5, 23.0, 23.0, 23.5, 25.0, 21.5, 23.5, 24.0, 28.0, 17.0, 24.5, 26.0, 29.5, 22.5, 25.5,
    25.5, 26.0, 23.0, 24.5, 26.0, 30.0, 22.0, 21.5, 23.5, 25.0, 21.0, 20.0, 21.5, 23.0, 21.0, 21.5, 24.0, 25.5,
    20.5, 24.0, 24.5, 26.0, 23.5, 24.5, 25.0, 26.5, 21.5, 23.0, 22.5, 23.5, 20.0, 21.0, 21.0, 22.5, 21.5, 22.5,
    23.0, 25.0, 23.0, 23.0, 23.5, 24.0, 20.0, 21.0, 22.0, 21.5, 16.5, 19.0, 19.0, 19.5, 24.5, 25.0, 28.0, 28.0,
]
ORTHODONT_LME4 = {"objective": 435.233857464973, "theta": [2.13511765638152, -0.132368754093569, 0.111139586112938],
                  "sigma": 1.31003550026465, "se": [0.886251406185545, 0.0712528968556335, 0.757462854200366]}


def orthodont() -> pd.DataFrame:
    subjects = [f"M{i:02d}" for i in range(1, 17)] + [f"F{i:02d}" for i in range(1, 12)]
    return pd.DataFrame({
        "distance": ORTHODONT_DISTANCE,
        "age": np.tile([8.0, 10.0, 12.0, 14.0], len(subjects)),
        "Subject": np.repeat(subjects, 4),
        "Sex": pd.Categorical(np.repeat(["Male"] * 16 + ["Female"] * 11, 4), categories=["Male", "Female"]),
    })


def test_a_noise_driven_end_point_is_polished_to_the_optimum():
    fit = bm.lmer("distance ~ age + Sex + (age | Subject)", orthodont())
    np.testing.assert_allclose(fit.theta, ORTHODONT_LME4["theta"], rtol=1e-4)
    assert fit.sigma == pytest.approx(ORTHODONT_LME4["sigma"], rel=1e-4)
    np.testing.assert_allclose(fit.se, ORTHODONT_LME4["se"], rtol=1e-4)
    assert fit.objective <= ORTHODONT_LME4["objective"]
    # the gradient is checked again where the Newton step landed
    assert fit.converged and fit.convergence.max_scaled_gradient < 1e-4


def test_reproducibility_rerun_tells_stable_paths_from_noise_driven_ones():
    from bayesmixed.engines.lmm.objective import ProfiledCriterion
    from bayesmixed.engines.lmm.system import build_system

    settings = OptimizerSettings()
    for data, formula, expected in ((orthodont(), "distance ~ age + Sex + (age | Subject)", False),
                                    (bm.datasets.load("sleepstudy"), "Reaction ~ Days + (Days | Subject)", True)):
        design = bm.build_design(formula, data)
        criterion = ProfiledCriterion(build_system(design), True)
        optimum = minimize_criterion(criterion, design.theta_start, design.theta_lower, settings)
        assert path_is_reproducible(criterion, design.theta_start, design.theta_lower, settings, optimum) is expected


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

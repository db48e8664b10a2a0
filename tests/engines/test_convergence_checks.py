"""lme4's gradient check: max(pmin(|solve(chol(H), g)|, |g|)), with R's chol the UPPER factor R (H = R'R).

The lower factor L = R' gives another vector (L⁻¹g ≠ R⁻¹g), which warns where lme4 does not.
"""

from __future__ import annotations

import numpy as np

from bayesmixed.engines.checks import GRADIENT_TOL, scaled_gradient
from bayesmixed.engines.glmm.vcov import convergence_problems
from bayesmixed.engines.lmm.convergence import check_convergence

HESSIAN = 100.0 * np.array([[1.0, 0.9], [0.9, 1.0]])
# g = R s with s = R⁻¹g = (0.001, 0.0015) below the tolerance, while L⁻¹g = (0.00235, -0.00335) is above it
GRADIENT = np.linalg.cholesky(HESSIAN).T @ np.array([0.001, 0.0015])


def quadratic(x: np.ndarray) -> float:
    """f with gradient GRADIENT and Hessian HESSIAN at x = 0 (exact for central differences)."""
    return float(GRADIENT @ x + 0.5 * x @ HESSIAN @ x)


def lme4_scaled_gradient() -> float:
    upper = np.linalg.cholesky(HESSIAN).T
    return float(np.max(np.minimum(np.abs(np.linalg.solve(upper, GRADIENT)), np.abs(GRADIENT))))


def test_the_example_separates_the_two_factors():
    lower = np.linalg.cholesky(HESSIAN)
    wrong = float(np.max(np.minimum(np.abs(np.linalg.solve(lower, GRADIENT)), np.abs(GRADIENT))))
    assert lme4_scaled_gradient() < GRADIENT_TOL < wrong


def test_the_shared_scaled_gradient_is_lme4s():
    assert scaled_gradient(GRADIENT, HESSIAN) == lme4_scaled_gradient()


def test_lmm_check_uses_lme4s_upper_factor():
    report = check_convergence(quadratic, np.zeros(2), quadratic(np.zeros(2)), np.full(2, -np.inf), False)
    assert abs(report.max_scaled_gradient - lme4_scaled_gradient()) < 1e-6
    assert not report.failures


def test_glmm_check_uses_lme4s_upper_factor():
    assert convergence_problems(np.ones(2), np.full(2, -np.inf), GRADIENT, HESSIAN) == []
    assert convergence_problems(np.ones(2), np.full(2, -np.inf), 3 * GRADIENT, HESSIAN)

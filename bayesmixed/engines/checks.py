"""lme4's checks at an optimum, shared by the linear (lmm) and generalised (glmm) engines.

- The scaled gradient (lme4's checkConv): max(pmin(|solve(chol(H), g)|, |g|)) must stay below
  check.conv.grad's tolerance.  R's chol is the UPPER factor R with H = R'R; the lower factor L = R'
  gives another vector (L⁻¹g ≠ R⁻¹g) and warns where lme4 does not (tests/engines/test_convergence_checks.py).
- A singular fit (lme4's isSingular): a θ bounded below by 0 (a diagonal element of Λ) within
  SINGULAR_TOL of its bound.
"""

from __future__ import annotations

import numpy as np

# lme4's defaults: check.conv.grad's tol, isSingular's tol.
GRADIENT_TOL = 2e-3
SINGULAR_TOL = 1e-4


def scaled_gradient(gradient: np.ndarray, hessian: np.ndarray) -> float:
    """lme4's max(pmin(|solve(chol(H), g)|, |g|)) with R's upper factor; raises np.linalg.LinAlgError when
    H is not positive definite (the callers decide what that means)."""
    chol = np.linalg.cholesky(hessian)  # lower L; R's chol(H) is L'
    scaled = np.linalg.solve(chol.T, gradient)
    return float(np.max(np.minimum(np.abs(scaled), np.abs(gradient)), initial=0.0))


def singular_components(theta: np.ndarray, lower: np.ndarray, tol: float = SINGULAR_TOL) -> np.ndarray:
    """Indices of bounded θ (diagonals of Λ) within `tol` of zero: lme4's isSingular."""
    return np.flatnonzero((lower == 0) & (theta < tol))

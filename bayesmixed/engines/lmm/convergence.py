"""lme4's convergence checks at the optimum: scaled gradient, Hessian eigenvalues, singular fit.

Checks run on the free parameters only: a θ held at its bound of 0 is a boundary (singular) fit,
reported as such, and the criterion's slope there says nothing about convergence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .derivatives import central_gradient_hessian

# lme4's defaults: check.conv.grad tol, check.conv.hess tol, isSingular tol.
GRADIENT_TOL = 2e-3
HESSIAN_TOL = 1e-6
SINGULAR_TOL = 1e-4


@dataclass(frozen=True)
class ConvergenceReport:
    """What the checks found. `problems` are lme4-style one-liners; `converged` is False when the
    gradient is not ~0, the Hessian has negative eigenvalues, or the evaluation limit was hit."""

    gradient: np.ndarray
    hessian: np.ndarray
    free: np.ndarray
    max_scaled_gradient: float
    hessian_eigenvalues: np.ndarray
    converged: bool
    problems: tuple[str, ...]


def singular_components(theta: np.ndarray, lower: np.ndarray, tol: float = SINGULAR_TOL) -> np.ndarray:
    """Indices of bounded θ (diagonals of Λ) within `tol` of zero: lme4's isSingular."""
    return np.flatnonzero((lower == 0) & (theta < tol))


def check_convergence(
    fun: Callable[[np.ndarray], float], theta: np.ndarray, value: float, lower: np.ndarray, reached_limit: bool
) -> ConvergenceReport:
    """Gradient and Hessian at θ by central differences, and lme4's tests on them."""
    free = np.setdiff1d(np.arange(theta.size), singular_components(theta, lower))
    problems: list[str] = []
    converged = not reached_limit
    if reached_limit:
        problems.append("the optimiser hit its evaluation limit before converging")
    if free.size == 0:
        empty = np.zeros(0)
        return ConvergenceReport(empty, np.zeros((0, 0)), free, 0.0, empty, converged, tuple(problems))

    def restricted(sub: np.ndarray) -> float:
        full = theta.copy()
        full[free] = sub
        return fun(full)

    gradient, hessian = central_gradient_hessian(restricted, theta[free], value)
    eigenvalues = np.linalg.eigvalsh(hessian)
    try:
        chol = np.linalg.cholesky(hessian)
        scaled = np.linalg.solve(chol, gradient)
        max_scaled = float(np.max(np.minimum(np.abs(scaled), np.abs(gradient))))
    except np.linalg.LinAlgError:
        max_scaled = float(np.max(np.abs(gradient)))
    if max_scaled > GRADIENT_TOL:
        converged = False
        problems.append(f"failed to converge with max|grad| = {max_scaled:.3g} (tol = {GRADIENT_TOL:g})")
    negative = int(np.sum(eigenvalues < -HESSIAN_TOL))
    if negative:
        converged = False
        problems.append(f"degenerate Hessian with {negative} negative eigenvalue{'s' if negative > 1 else ''}")
    elif np.any(np.abs(eigenvalues) < HESSIAN_TOL):
        problems.append("Hessian is numerically singular: parameters are not uniquely determined")
    else:
        if eigenvalues.max() * HESSIAN_TOL > 1:
            problems.append("nearly unidentifiable: very large eigenvalue of the Hessian (rescale variables?)")
        if eigenvalues.min() / eigenvalues.max() < HESSIAN_TOL:
            problems.append("nearly unidentifiable: large eigenvalue ratio of the Hessian (rescale variables?)")
    return ConvergenceReport(gradient, hessian, free, max_scaled, eigenvalues, converged, tuple(problems))

"""lme4's convergence checks at the optimum: scaled gradient, Hessian eigenvalues, singular fit.

Checks run on the free parameters only: a θ held at its bound of 0 is a boundary (singular) fit,
reported as such, and the criterion's slope there says nothing about convergence.  Derivatives are
central differences of step 1e-4 (lme4's deriv12); the tolerances are lme4's defaults, the scaled
gradient and the singularity test are the ones the GLMM engine uses too (engines/checks.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..checks import GRADIENT_TOL, scaled_gradient, singular_components
from ..derivatives import central_gradient, central_gradient_hessian

# lme4's check.conv.hess tolerance.
HESSIAN_TOL = 1e-6


@dataclass(frozen=True)
class ConvergenceReport:
    """What the checks found, as lme4-style one-liners: `failures` (the gradient is not ~0, the
    Hessian has negative eigenvalues, the evaluation limit was hit: not converged) and `weak` (a
    nearly singular Hessian: converged, but some parameters are poorly determined)."""

    gradient: np.ndarray
    hessian: np.ndarray
    free: np.ndarray
    max_scaled_gradient: float
    failures: tuple[str, ...]
    weak: tuple[str, ...] = ()

    @property
    def converged(self) -> bool:
        return not self.failures

    @classmethod
    def unchecked(cls, reached_limit: bool) -> "ConvergenceReport":
        """No derivative checks were run; only the optimiser's own stop is known."""
        return cls(np.zeros(0), np.zeros((0, 0)), np.zeros(0, dtype=int), float("nan"), _limit_failure(reached_limit))


def _limit_failure(reached_limit: bool) -> tuple[str, ...]:
    return ("the optimiser hit its evaluation limit before converging",) if reached_limit else ()


def check_convergence(
    fun: Callable[[np.ndarray], float], theta: np.ndarray, value: float, lower: np.ndarray, reached_limit: bool,
    previous: ConvergenceReport | None = None,
) -> ConvergenceReport:
    """Gradient and Hessian at θ by central differences, and lme4's tests on them.

    `previous`, a report from a point a small step away, lends its Hessian (only the gradient is
    recomputed) when its free parameters are the same.
    """
    free = np.setdiff1d(np.arange(theta.size), singular_components(theta, lower))
    failures, weak = list(_limit_failure(reached_limit)), []
    if free.size == 0:
        return ConvergenceReport(np.zeros(0), np.zeros((0, 0)), free, 0.0, tuple(failures))

    def restricted(sub: np.ndarray) -> float:
        full = theta.copy()
        full[free] = sub
        return fun(full)

    if previous is not None and np.array_equal(previous.free, free):
        gradient, hessian = central_gradient(restricted, theta[free]), previous.hessian
    else:
        gradient, hessian = central_gradient_hessian(restricted, theta[free], value)
    eigenvalues = np.linalg.eigvalsh(hessian)
    try:
        max_scaled = scaled_gradient(gradient, hessian)
    except np.linalg.LinAlgError:
        max_scaled = float(np.max(np.abs(gradient)))
    if max_scaled > GRADIENT_TOL:
        failures.append(f"failed to converge with max|grad| = {max_scaled:.3g} (tol = {GRADIENT_TOL:g})")
    negative = int(np.sum(eigenvalues < -HESSIAN_TOL))
    if negative:
        failures.append(f"degenerate Hessian with {negative} negative eigenvalue{'s' if negative > 1 else ''}")
    elif np.any(np.abs(eigenvalues) < HESSIAN_TOL):
        weak.append("the Hessian is numerically singular: parameters are not uniquely determined")
    else:
        if eigenvalues.max() * HESSIAN_TOL > 1:
            weak.append("nearly unidentifiable: very large eigenvalue of the Hessian (rescale variables?)")
        if eigenvalues.min() / eigenvalues.max() < HESSIAN_TOL:
            weak.append("nearly unidentifiable: large eigenvalue ratio of the Hessian (rescale variables?)")
    return ConvergenceReport(gradient, hessian, free, max_scaled, tuple(failures), tuple(weak))

"""Standard errors of β̂ as glmer computes them, and lme4's convergence checks.

glmer's vcov (use.hessian = TRUE) is 2 H⁻¹ restricted to β, H the central-difference Hessian
(step 1e-4, lme4's deriv12) of its stage-2 deviance function over (θ, β).  That function is not the
converged deviance: each call runs PIRLS in u from one fixed linear predictor η₀ (the first stage's),
with full steps until |Δpdev|/pdev < 1e-7, and takes the factor L - the log-determinant, and for AGQ
the nodes' scales 1/L_jj - from the last step's weights, one step behind the modes.  That lag is
smooth in (θ, β) and moves H by up to ~1% (cbpp, Laplace; AGQ with few nodes is sensitive to it
too), so to give glmer's standard errors the Hessian is taken of that same function
(`Lme4Deviance`).  The estimates themselves minimise the converged deviance, which is never higher.
A family with a dispersion parameter (the negative binomial) follows glmmTMB instead: the Hessian of
the converged deviance over (θ, β, log φ).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..checks import GRADIENT_TOL, scaled_gradient
from ..derivatives import central_gradient, central_gradient_hessian
from ..threads import engine_threads
from .deviance import DevianceFunction, saturated_constant
from .pirls import Modes, Problem
from .system import ThetaRows, factorize, theta_rows

# lme4's glmerControl(tolPwrss) and its PIRLS iteration and step-halving limits.
LME4_PIRLS_TOL = 1e-7
LME4_MAX_ITERATIONS = 30
LME4_MAX_HALVINGS = 10


@dataclass(eq=False)
class Lme4Deviance:
    """(θ, β) -> glmer's stage-2 deviance (Laplace or AGQ): PIRLS from the fixed η₀, lme4's stopping
    rule, the factor from the last step's weights."""

    deviance: DevianceFunction
    eta0: np.ndarray
    constant: float = field(init=False)

    def __post_init__(self) -> None:
        # lme4 tests convergence on the deviance-residual scale: -2 log p(y | μ) minus this constant.
        self.constant = saturated_constant(self.deviance.problem)

    def __call__(self, params: np.ndarray) -> float:
        problem: Problem = self.deviance.problem
        n_theta = self.deviance.n_theta
        rows: ThetaRows = self.deviance.rows(params[:n_theta])
        fixed = problem.offset + problem.X @ params[n_theta:]
        eta = self.eta0
        previous_u = np.zeros(rows.q)
        old = np.finfo(float).max
        for _ in range(LME4_MAX_ITERATIONS):
            weights, score = problem.working(eta)
            factor = factorize(rows, None, weights)
            # The working response's PLS solution: u = A⁻¹Λ'Z'W(η - offset - Xβ + (y - μ)/μ').
            u = factor.solve(rows.transpose_times(weights * (eta - fixed) + score))
            eta = fixed + rows.times(u)
            pdev = problem.conditional_deviance(eta) - self.constant + u @ u
            if abs((old - pdev) / pdev) < LME4_PIRLS_TOL:
                modes = Modes(u, params[n_theta:], eta, factor, problem.conditional_deviance(eta), None)
                return self.deviance.value(modes, rows)
            for _ in range(LME4_MAX_HALVINGS):
                if np.isfinite(pdev) and pdev <= old:
                    break
                u = 0.5 * (previous_u + u)
                eta = fixed + rows.times(u)
                pdev = problem.conditional_deviance(eta) - self.constant + u @ u
            old, previous_u = pdev, u
        return np.nan


def vcov_from_hessian(hessian: np.ndarray, n_theta: int, p: int) -> np.ndarray | None:
    """2 H⁻¹ restricted to β (symmetrised; H over (θ, β[, log φ])), or None when H is singular or the block
    not positive definite."""
    try:
        inverse = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        return None
    block = inverse[n_theta:n_theta + p, n_theta:n_theta + p]
    vcov = block + block.T
    if not np.all(np.isfinite(vcov)) or np.any(np.linalg.eigvalsh(vcov) <= 0):
        return None
    return vcov


def convergence_problems(params: np.ndarray, lower: np.ndarray, gradient: np.ndarray, hessian: np.ndarray) -> list[str]:
    """lme4's checks at the optimum: the scaled gradient (engines/checks.py) is small, and H is positive definite.

    Parameters on their bound are left out, as the gradient need not vanish there.
    """
    if not (np.all(np.isfinite(hessian)) and np.all(np.isfinite(gradient))):
        return ["the deviance could not be evaluated around the optimum"]
    free = params > lower
    h = hessian[np.ix_(free, free)]
    try:
        worst = scaled_gradient(gradient[free], h)
    except np.linalg.LinAlgError:
        smallest = np.linalg.eigvalsh(h).min()
        return [f"the Hessian of the deviance is not positive definite (smallest eigenvalue {smallest:.3g}): "
                "the optimum is not well defined"]
    if worst > GRADIENT_TOL:
        return [f"the scaled gradient at the end point is {worst:.3g} (tolerance {GRADIENT_TOL})"]
    return []


@dataclass(frozen=True)
class Derivatives:
    """At the optimum: the gradient of the deviance being minimised, glmer's Hessian, and vcov(β̂)
    (None when that Hessian gives no positive-definite covariance)."""

    gradient: np.ndarray
    hessian: np.ndarray
    vcov: np.ndarray | None


def derivatives_at(deviance: DevianceFunction, theta: np.ndarray, beta: np.ndarray) -> Derivatives:
    """glmer's Hessian and vcov at (θ, β), and the gradient of the converged deviance there (fixed PIRLS
    start, so that it is a deterministic function for the differences); η₀ is the linear predictor of
    PIRLS with β free at θ, where lme4's first stage ends.  With a dispersion parameter the arguments
    are (θ, β, log φ) at the deviance function's current φ, and the Hessian is the converged deviance's."""
    params = np.concatenate([theta, beta, deviance.log_dispersion])
    at_optimum, _ = deviance.modes(theta, beta)
    deviance.fixed_start = at_optimum.u
    try:
        if deviance.n_dispersion:
            gradient, hessian = central_gradient_hessian(deviance.stage2, params, deviance.stage2(params))
        else:
            lme4_deviance = Lme4Deviance(deviance, deviance.modes(theta, None)[0].eta)
            _, hessian = central_gradient_hessian(lme4_deviance, params, lme4_deviance(params))
            gradient = central_gradient(deviance.stage2, params)
    finally:
        deviance.fixed_start = None
    return Derivatives(gradient, hessian, vcov_from_hessian(hessian, theta.size, beta.size))


def derivatives_for(problem: Problem, nagq: int, theta: np.ndarray, beta: np.ndarray, u: np.ndarray) -> Derivatives:
    """glmer's Hessian and vcov at a fit made without them (refits)."""
    deviance = DevianceFunction(problem, nagq, u, beta)
    with engine_threads(), np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # as in fit_problem
        return derivatives_at(deviance, theta, beta)


def pirls_vcov(problem: Problem, theta: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """vcov(β̂) from the joint (u, β) PIRLS factor at the estimates: (R_X'R_X)⁻¹ (glmer's use.hessian = FALSE)."""
    design = problem.design
    weights, _ = problem.working(eta)
    return factorize(theta_rows(design, theta), problem.X, weights).unscaled_vcov()

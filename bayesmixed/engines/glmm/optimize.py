"""Minimising the GLMM deviance over (θ, β): β profiled out for Laplace, lme4's two stages otherwise.

lme4 minimises a θ-only criterion (β from PIRLS), then the Laplace or AGQ deviance over (θ, β).  For
the Laplace deviance this module instead profiles β out (pirls.profiled_modes) and runs BOBYQA over θ
alone: the same optimum with a fraction of the evaluations.  AGQ, and any problem where profiling
does not settle, take lme4's route (both stages by BOBYQA; lme4 uses bobyqa then Nelder-Mead).
Stage 2's initial steps are 0.1 for θ and one approximate standard error for each β, so that
BOBYQA, which rescales by them, sees well-scaled coordinates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from ..optimize import bobyqa_run, snap_to_boundary
from .deviance import DevianceFunction
from .pirls import Modes, Problem, ProfileFailure

# The profiled criterion is smooth to ~1e-10 (PIRLS's step tolerance); lme4's BOBYQA stops at 1e-8.
PROFILE_TOLERANCES = {"ftol_abs": 1e-9, "xtol_rel": 1e-7}
# Stage 1 of the fallback only has to land near the optimum; stage 2 goes as far as the profiled route.
STAGE1_TOLERANCES = {"ftol_abs": 1e-6, "xtol_rel": 1e-5}
STAGE2_TOLERANCES = {"ftol_abs": 1e-9, "xtol_rel": 1e-7}
MAX_EVALS = 20_000
THETA_START_STEP = 0.2
THETA_STEP = 0.1
GLM_ITERATIONS = 50


@dataclass(frozen=True)
class StageResult:
    """Where one BOBYQA run stopped."""

    params: np.ndarray
    value: float
    n_evals: int
    status: str


def glm_start(problem: Problem) -> np.ndarray:
    """β of the GLM without random effects (IRLS from R's mustart): PIRLS's first starting point."""
    family, X = problem.family, problem.X
    if family.name == "binomial":
        mu = (problem.weights * problem.y + 0.5) / (problem.weights + 1.0)
        eta = {"logit": np.log(mu / (1 - mu)), "probit": ndtri(mu), "cloglog": np.log(-np.log1p(-mu))}[family.link.name]
    else:
        eta = np.log(problem.y + 0.1)
    beta = np.zeros(X.shape[1])
    for _ in range(GLM_ITERATIONS):
        mu, mu_eta = family.link.evaluate(eta)
        weights = problem.weights * mu_eta**2 / family.variance(mu)
        working = eta - problem.offset + (problem.y - mu) / mu_eta
        sqrt_w = np.sqrt(weights)
        new_beta = np.linalg.lstsq(X * sqrt_w[:, None], working * sqrt_w, rcond=None)[0]
        eta = problem.offset + X @ new_beta
        if np.max(np.abs(new_beta - beta)) < 1e-10:
            return new_beta
        beta = new_beta
    return beta if np.all(np.isfinite(beta)) else np.zeros(X.shape[1])


def bobyqa(
    fun: Callable[[np.ndarray], float],
    start: np.ndarray,
    lower: np.ndarray,
    steps: np.ndarray,
    tolerances: dict[str, float],
) -> StageResult:
    """One BOBYQA run; returns the best point seen even when NLopt stops on round-off."""
    run = bobyqa_run(fun, start, lower, max_evals=MAX_EVALS, initial_step=steps, **tolerances)
    if run.code is None:
        status = "converged (stopped by round-off)"
    else:
        status = "maximum number of evaluations reached" if run.reached_limit else "converged"
    return StageResult(run.x, run.value, run.n_evals, status)


@dataclass(frozen=True)
class Optimum:
    """The minimum found: θ, β, the deviance there, evaluations used, NLopt's word, and the route
    ("profiled": BOBYQA over θ with β profiled; "two-stage": lme4's stages over θ, then (θ, β))."""

    theta: np.ndarray
    beta: np.ndarray
    value: float
    n_evals: int
    status: str
    route: str


def _beta_scales(joint: Modes, p: int) -> np.ndarray:
    """Approximate standard errors of β from a joint (u, β) PIRLS factor: BOBYQA's initial β-steps."""
    if joint.factor is None or joint.failure is not None:
        return np.full(p, THETA_STEP)
    rest_inverse = joint.factor.inverse_parts()[2]
    return np.sqrt(np.clip(np.diag(rest_inverse)[rest_inverse.shape[0] - p:], 1e-12, None))


def optimize_deviance(deviance: DevianceFunction, theta_start: np.ndarray) -> Optimum:
    """Minimise the Laplace (nagq = 1) or AGQ deviance over (θ, β), from θ = theta_start and the
    deviance function's β.

    Laplace: BOBYQA over θ alone, β profiled out at each θ.  AGQ: from the Laplace optimum, BOBYQA
    over (θ, β).  If profiling β fails, lme4's two stages are run instead.
    """
    design = deviance.design
    lower = design.theta_lower
    try:
        found = bobyqa(deviance.profiled, theta_start, lower, np.full(design.n_theta, THETA_START_STEP), PROFILE_TOLERANCES)
        theta, _, _ = snap_to_boundary(deviance.profiled, found.params, found.value, lower)
        modes, _ = deviance.profiled_modes(theta)
        if deviance.nagq == 1:
            return Optimum(theta, modes.beta, modes.laplace, found.n_evals + 1, found.status, "profiled")
        beta, route = modes.beta, "profiled"
    except ProfileFailure:
        found = bobyqa(deviance.stage1, theta_start, lower, np.full(design.n_theta, THETA_START_STEP), STAGE1_TOLERANCES)
        theta, beta, route = found.params, None, "two-stage"
    joint, _ = deviance.modes(theta, None)
    return _stage2(deviance, theta, joint.beta if beta is None else beta, _beta_scales(joint, design.p), found.n_evals, route)


def _stage2(deviance: DevianceFunction, theta: np.ndarray, beta: np.ndarray, beta_steps: np.ndarray, n_evals: int, route: str) -> Optimum:
    """BOBYQA over (θ, β) from (θ, β), with initial steps THETA_STEP for θ and `beta_steps` for β."""
    design = deviance.design
    start = np.concatenate([theta, beta])
    lower = np.concatenate([design.theta_lower, np.full(design.p, -np.inf)])
    steps = np.concatenate([np.full(theta.size, THETA_STEP), beta_steps])
    found = bobyqa(deviance.stage2, start, lower, steps, STAGE2_TOLERANCES)
    params, value, _ = snap_to_boundary(deviance.stage2, found.params, found.value, lower)
    return Optimum(params[: design.n_theta], params[design.n_theta:], value, n_evals + found.n_evals, found.status, route)

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
    X = problem.X
    eta = problem.family.start_eta(problem.y, problem.weights)
    beta = np.zeros(X.shape[1])
    for _ in range(GLM_ITERATIONS):
        weights, score = problem.working(eta)
        working = eta - problem.offset + score / weights
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
    """The minimum found: θ, β, log φ (the dispersion's, empty without one), the deviance there,
    evaluations used, NLopt's word, and the route ("profiled": BOBYQA over θ with β profiled;
    "two-stage": lme4's stages over θ, then (θ, β); "+polished" when a profiled optimum was
    finished over (θ, β))."""

    theta: np.ndarray
    beta: np.ndarray
    log_dispersion: np.ndarray
    value: float
    n_evals: int
    status: str
    route: str


def _beta_scales(joint: Modes, p: int) -> np.ndarray:
    """Approximate standard errors of β from a joint (u, β) PIRLS factor: BOBYQA's initial β-steps."""
    if joint.factor is None or joint.failure is not None:
        return np.full(p, THETA_STEP)
    return np.sqrt(np.clip(np.diag(joint.factor.unscaled_vcov()), 1e-12, None))


def optimize_deviance(deviance: DevianceFunction, theta_start: np.ndarray) -> Optimum:
    """Minimise the Laplace (nagq = 1) or AGQ deviance over (θ, β[, log φ]), from θ = theta_start and
    the deviance function's β and dispersion.

    Laplace: BOBYQA over θ (and log φ) alone, β profiled out at each θ; where PIRLS's weights are not
    the Hessian of the log-density (a non-canonical link under Fisher scoring, e.g. the probit), the
    profiled β is a close approximation only, so BOBYQA then finishes over (θ, β) from there.  AGQ:
    from the Laplace optimum, BOBYQA over (θ, β).  If profiling β fails, lme4's two stages are run instead.
    """
    design = deviance.design
    n_outer = design.n_theta + deviance.n_dispersion
    start = np.concatenate([theta_start, deviance.log_dispersion])
    lower = np.concatenate([design.theta_lower, np.full(deviance.n_dispersion, -np.inf)])
    try:
        found = bobyqa(deviance.profiled, start, lower, np.full(n_outer, THETA_START_STEP), PROFILE_TOLERANCES)
        outer, _, _ = snap_to_boundary(deviance.profiled, found.params, found.value, lower)
        modes, _ = deviance.profiled_modes(deviance.apply_dispersion(outer))
        theta, log_dispersion = outer[: design.n_theta], outer[design.n_theta:]
        if deviance.nagq == 1 and deviance.problem.family.newton_weights:
            return Optimum(theta, modes.beta, log_dispersion, modes.laplace, found.n_evals + 1, found.status, "profiled")
        beta, route = modes.beta, "profiled" if deviance.nagq > 1 else "profiled+polished"
    except ProfileFailure:
        found = bobyqa(deviance.stage1, start, lower, np.full(n_outer, THETA_START_STEP), STAGE1_TOLERANCES)
        deviance.apply_dispersion(found.params)
        theta, log_dispersion, beta, route = found.params[: design.n_theta], found.params[design.n_theta:], None, "two-stage"
    joint, _ = deviance.modes(theta, None)
    beta = joint.beta if beta is None else beta
    return _stage2(deviance, theta, beta, log_dispersion, _beta_scales(joint, design.p), found.n_evals, route)


def _stage2(deviance: DevianceFunction, theta: np.ndarray, beta: np.ndarray, log_dispersion: np.ndarray,
            beta_steps: np.ndarray, n_evals: int, route: str) -> Optimum:
    """BOBYQA over (θ, β[, log φ]) from there, with initial steps THETA_STEP for θ and log φ, `beta_steps` for β."""
    design = deviance.design
    start = np.concatenate([theta, beta, log_dispersion])
    lower = np.concatenate([design.theta_lower, np.full(design.p + log_dispersion.size, -np.inf)])
    steps = np.concatenate([np.full(theta.size, THETA_STEP), beta_steps, np.full(log_dispersion.size, THETA_STEP)])
    found = bobyqa(deviance.stage2, start, lower, steps, STAGE2_TOLERANCES)
    params, value, _ = snap_to_boundary(deviance.stage2, found.params, found.value, lower)
    k = design.n_theta
    return Optimum(params[:k], params[k:k + design.p], params[k + design.p:], value, n_evals + found.n_evals,
                   found.status, route)

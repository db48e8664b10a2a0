"""Minimising the profiled criterion over θ: BOBYQA with lme4's settings, then lme4's boundary checks.

lme4 (nloptwrap) runs NLopt's BOBYQA with xtol_abs = ftol_abs = 1e-8 and nloptr's default
xtol_rel = 1e-4, from Λ = I.  Those rules stop ~1e-4 (relative) short of the optimum in flat
directions, so the same algorithm, start and rules are used: BOBYQA then retraces lme4's path and
stops where lme4 stops (to ~1e-8), which matters more for agreeing with lme4 than the last digits.

That only works while the path is reproducible.  Where the criterion is flat or ill-conditioned,
its rounding noise (~1e-15 relative here; it differs between implementations, BLAS builds and level
orderings) steers BOBYQA's later steps: lme4's own end point is then an arbitrary point of the
stopping region (InstEval's, Orthodont's (age | Subject): 1e-4 .. 1e-3 apart between runs), and the
best estimate of it is the optimum itself, reached by a Newton step (`newton_polish`).
`path_is_reproducible` tells the two cases apart by re-running BOBYQA on a perturbed criterion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import nlopt
import numpy as np
from scipy.linalg import cho_factor, cho_solve

from ..optimize import bobyqa_run, snap_to_boundary

# lme4's restart_edge step.
EDGE_STEP = 1e-5
# Relative perturbation of the criterion in the reproducibility re-run: ~30x the difference between
# lme4's values and this engine's.  An end point that then moves more than REPRODUCIBLE_TOL
# (relative) was chosen by noise, not by the data.  Measured displacements: 1e-9 .. 6e-7 on the
# reference fits, whose paths this engine retraces; 3e-5 .. 8e-5 on fits whose paths it cannot.
PERTURBATION = 1e-13
REPRODUCIBLE_TOL = 5e-6
# With a relative first step, θ_i's step is scaled by max(|θ_i|, INITIAL_STEP_FLOOR): a θ near 0 (a
# Cholesky factor's off-diagonal, a variance on its bound) still moves on the scale of the others.
INITIAL_STEP_FLOOR = 0.2

NLOPT_CODES = {
    nlopt.SUCCESS: "success",
    nlopt.STOPVAL_REACHED: "stopval reached",
    nlopt.FTOL_REACHED: "ftol reached",
    nlopt.XTOL_REACHED: "xtol reached",
    nlopt.MAXEVAL_REACHED: "maximum number of evaluations reached",
    nlopt.MAXTIME_REACHED: "maximum time reached",
}


@dataclass(frozen=True)
class OptimizerSettings:
    """BOBYQA's stopping rules (lme4's defaults) and its first step.

    relative_initial_step: None for NLopt's default first step (lme4's); c for a start near the
    optimum, where θ_i's first step is c · max(|θ_i|, INITIAL_STEP_FLOOR).  NLopt stops BOBYQA's trust
    region at xtol_rel times the first step, so a smaller first step also stops closer to the optimum.
    """

    xtol_abs: float = 1e-8
    ftol_abs: float = 1e-8
    xtol_rel: float = 1e-4
    max_evals: int = 100_000
    relative_initial_step: float | None = None


@dataclass(frozen=True)
class Optimum:
    """Where the optimiser stopped: θ, the criterion there, evaluations used, NLopt's status."""

    theta: np.ndarray
    value: float
    n_evals: int
    status: str
    reached_limit: bool
    restarted: bool
    polished: bool = False


def bobyqa(
    fun: Callable[[np.ndarray], float], start: np.ndarray, lower: np.ndarray, settings: OptimizerSettings
) -> tuple[np.ndarray, float, int, str, bool]:
    """One BOBYQA run from `start`: (θ, f(θ), evaluations, status, hit the evaluation limit)."""
    start = np.clip(start, lower, None)
    initial_step = None
    if settings.relative_initial_step is not None:
        initial_step = settings.relative_initial_step * np.maximum(np.abs(start), INITIAL_STEP_FLOOR)
    run = bobyqa_run(fun, start, lower, max_evals=settings.max_evals, initial_step=initial_step,
                     xtol_abs=settings.xtol_abs, ftol_abs=settings.ftol_abs, xtol_rel=settings.xtol_rel)
    if run.code is None:
        status = "stopped by round-off (the criterion is flat to machine precision)"
    else:
        status = NLOPT_CODES.get(run.code, f"NLopt code {run.code}")
    return run.x, run.value, run.n_evals, status, run.reached_limit


def minimize_criterion(
    fun: Callable[[np.ndarray], float], start: np.ndarray, lower: np.ndarray, settings: OptimizerSettings
) -> Optimum:
    """lme4's optimizeLmer: BOBYQA, a restart if a parameter on its bound wants to move inward,
    then parameters within 1e-5 of their bound set onto it when that lowers the criterion."""
    start = np.asarray(start, dtype=float)
    theta, value, n_evals, status, at_limit = bobyqa(fun, start, lower, settings)
    restarted = False
    on_bound = np.flatnonzero(theta == lower)
    if on_bound.size:
        inward_slopes = []
        for i in on_bound:
            moved = theta.copy()
            moved[i] += EDGE_STEP
            inward_slopes.append((fun(moved) - value) / EDGE_STEP)
        n_evals += on_bound.size
        if min(inward_slopes) < 0:
            restarted = True
            theta, value, more, status, at_limit = bobyqa(fun, theta, lower, settings)
            n_evals += more
    theta, value, more = snap_to_boundary(fun, theta, value, lower)
    return Optimum(theta, value, n_evals + more, status, at_limit, restarted)


def path_is_reproducible(
    fun: Callable[[np.ndarray], float], start: np.ndarray, lower: np.ndarray, settings: OptimizerSettings,
    optimum: Optimum,
) -> bool:
    """Whether BOBYQA ends at the same θ when the criterion carries noise a little above its rounding.

    The noise is a fixed sequence of relative perturbations of size PERTURBATION, so the answer is
    deterministic.
    """
    calls = iter(range(1, settings.max_evals + 1))

    def noisy(theta: np.ndarray) -> float:
        return fun(theta) * (1.0 + PERTURBATION * np.sin(12.9898 * next(calls, 0)))

    shadow, *_ = bobyqa(noisy, np.asarray(start, dtype=float), lower, settings)
    scale = np.maximum(np.abs(optimum.theta), 1e-2)
    return bool(np.max(np.abs(shadow - optimum.theta) / scale) <= REPRODUCIBLE_TOL)


def newton_polish(
    fun: Callable[[np.ndarray], float], optimum: Optimum, free: np.ndarray, gradient: np.ndarray,
    hessian: np.ndarray, lower: np.ndarray,
) -> Optimum:
    """One Newton step θ - H⁻¹g on the free parameters, kept if it stays feasible and lowers f."""
    if free.size == 0:
        return optimum
    try:
        step = -cho_solve(cho_factor(hessian), gradient)
    except np.linalg.LinAlgError:
        return optimum
    theta = optimum.theta.copy()
    theta[free] += step
    if np.any(theta < lower):
        return optimum
    value = fun(theta)
    if not value < optimum.value:
        return Optimum(optimum.theta, optimum.value, optimum.n_evals + 1, optimum.status, optimum.reached_limit,
                       optimum.restarted)
    return Optimum(theta, value, optimum.n_evals + 1, optimum.status, optimum.reached_limit, optimum.restarted,
                   polished=True)

"""NLopt's BOBYQA as the frequentist engines run it, and lme4's check.boundary.

`bobyqa_run` is one NLopt run with the caller's stopping rules (the LMM engine passes lme4's, so that
BOBYQA retraces lme4's path; the GLMM engine and the profiles their own).  It keeps the best point
evaluated: NLopt's round-off stop (RoundoffLimited, the criterion flat to machine precision) raises
instead of returning one, and the best point seen is then the answer.  The objective sees exactly
the points NLopt proposes, so the evaluation sequence is NLopt's alone.

`snap_to_boundary` is lme4's check.boundary (optimizeLmer and optimizeGlmer alike): a parameter
within BOUNDARY_TOL above its lower bound is tried exactly on the bound and kept there only when the
criterion is then strictly lower (lme4: `if (devfun(par) < opt$fval)`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import nlopt
import numpy as np

# lme4's check.boundary tolerance (boundary.tol).
BOUNDARY_TOL = 1e-5


@dataclass(frozen=True)
class BobyqaRun:
    """Where one BOBYQA run stopped: the best point evaluated, f there, evaluations, and NLopt's result
    code (None when NLopt stopped on round-off)."""

    x: np.ndarray
    value: float
    n_evals: int
    code: int | None

    @property
    def reached_limit(self) -> bool:
        return self.code == nlopt.MAXEVAL_REACHED


def bobyqa_run(
    fun: Callable[[np.ndarray], float],
    start: np.ndarray,
    lower: np.ndarray,
    *,
    max_evals: int,
    upper: np.ndarray | None = None,
    initial_step: np.ndarray | float | None = None,
    xtol_abs: float | None = None,
    ftol_abs: float | None = None,
    xtol_rel: float | None = None,
) -> BobyqaRun:
    """min fun over lower <= x (<= upper) by BOBYQA from `start` (moved into the box first).

    Rules left as None keep NLopt's defaults (no xtol_abs test, NLopt's own first step, ...).
    """
    start = np.clip(start, lower, upper)
    best = {"x": np.array(start, dtype=float), "value": np.inf, "n_evals": 0}

    def objective(x: np.ndarray, _gradient: np.ndarray) -> float:
        value = fun(x)
        best["n_evals"] += 1
        if value < best["value"]:
            best["value"], best["x"] = value, np.array(x, dtype=float)
        return value

    opt = nlopt.opt(nlopt.LN_BOBYQA, start.size)
    opt.set_lower_bounds(lower)
    if upper is not None:
        opt.set_upper_bounds(upper)
    if initial_step is not None:
        opt.set_initial_step(initial_step)
    for setter, rule in ((opt.set_xtol_abs, xtol_abs), (opt.set_ftol_abs, ftol_abs), (opt.set_xtol_rel, xtol_rel)):
        if rule is not None:
            setter(rule)
    opt.set_maxeval(max_evals)
    opt.set_min_objective(objective)
    try:
        opt.optimize(start)
        code: int | None = opt.last_optimize_result()
    except nlopt.RoundoffLimited:
        code = None
    return BobyqaRun(best["x"], best["value"], best["n_evals"], code)


def snap_to_boundary(
    fun: Callable[[np.ndarray], float], x: np.ndarray, value: float, lower: np.ndarray
) -> tuple[np.ndarray, float, int]:
    """lme4's check.boundary: each parameter within BOUNDARY_TOL above its bound, tried on the bound and
    kept there when f is strictly lower.  Returns (x, f(x), evaluations made)."""
    gap = x - lower
    near = np.flatnonzero((gap > 0) & (gap < BOUNDARY_TOL))
    for i in near:
        candidate = x.copy()
        candidate[i] = lower[i]
        candidate_value = fun(candidate)
        if candidate_value < value:
            x, value = candidate, candidate_value
    return x, value, near.size

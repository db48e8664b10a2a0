"""Penalised iteratively reweighted least squares: the conditional modes ũ of the spherical random effects.

At fixed θ (and β, or with β estimated alongside as in lme4's first stage) PIRLS minimises the
penalised deviance -2 log p(y | u, β) + ||u||² by Fisher scoring, which is Newton's method for the
canonical links.  Each step is a weighted least-squares solve (system.factorize), halved while it
fails to lower the penalised deviance.  It stops when the step is below STEP_TOL, so that the
factor it returns is the one at the mode (the Laplace log-determinant then carries no lag).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ...design.types import Design
from ...families import Family
from ..blocked_factor import BlockedFactor
from .system import ThetaRows, factorize, leverages

# Largest Newton step (in u's standard-normal units and β's units) at which the modes count as found:
# quadratic convergence puts the remaining error near STEP_TOL², far below what the optimiser sees.
STEP_TOL = 1e-10
# Below this Newton decrement δ'(gradient) a full step cannot raise the penalised deviance by more
# than round-off, so it is taken without the step-halving check (which round-off would confuse).
SMALL_DECREMENT = 1e-8
# Relative to the penalised deviance, a decrement this small also means converged: it is ~STEP_TOL²
# in regular problems, and it is what stops a coefficient that runs off to ±∞ under separation
# (its steps stay near 1 while the deviance they gain vanishes).
DECREMENT_TOL = 1e-20
# Where fitted means are clamped at the edge of their range (ε from 0 or 1), the decrement stalls above
# DECREMENT_TOL: a small decrement with a penalised deviance that no longer changes is convergence too.
STALL_TOL = 1e-13
MAX_ITERATIONS = 100
MAX_HALVINGS = 20
# Profiling β converges linearly (the log-determinant's curvature is left out of the Hessian);
# a β off its optimum by PROFILE_TOL changes the deviance by O(PROFILE_TOL²).
PROFILE_TOL = 1e-8
PROFILE_ITERATIONS = 50


@dataclass(frozen=True, eq=False)
class Problem:
    """One GLMM fitting problem: the design, the family, X (C-ordered, for fast products), and the
    response in lme4's form - y as a proportion with prior weights = trials (binomial) or a count
    with weight 1 (Poisson, negative binomial) - with the offset and each row's log normalising constant."""

    design: Design
    family: Family
    X: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    offset: np.ndarray
    log_norm: np.ndarray

    def log_density(self, eta: np.ndarray) -> np.ndarray:
        """log p(y_i | η_i) per row."""
        return self.family.log_density(self.y, eta, self.weights, self.log_norm)

    def conditional_deviance(self, eta: np.ndarray) -> float:
        """-2 log p(y | η) (with normalising constants)."""
        return float(-2.0 * self.log_density(eta).sum())

    def linear_predictor(self, rows: ThetaRows, u: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """η = offset + Xβ + ZΛu."""
        return self.offset + self.X @ beta + rows.times(u)

    def working(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """PIRLS weights (Fisher's, or the observed information where the family says so) and the score of log p in η."""
        return self.family.working(self.y, eta, self.weights)

    def with_family(self, family: Family) -> Problem:
        """The same problem under `family` (e.g. another dispersion): the normalising constants follow it."""
        return dataclasses.replace(self, family=family, log_norm=family.normalising_constant(self.y, self.weights))


def make_problem(design: Design, family: Family, y: np.ndarray | None = None) -> Problem:
    """The problem for `design`; `y` (same form as design.y: successes or counts) replaces its response."""
    counts = np.asarray(design.y if y is None else y, dtype=float)
    proportion, weights = family.response_form(counts, design.trials)
    return Problem(
        design, family, np.ascontiguousarray(design.X, dtype=float), proportion, weights,
        np.asarray(design.offset, dtype=float), family.normalising_constant(proportion, weights),
    )


@dataclass(frozen=True, eq=False)
class Modes:
    """PIRLS's answer at one (θ, β): the modes u, β (updated when estimated), the linear predictor,
    the factor of Λ'Z'WZΛ + I (with X'WX when β was free) at the mode, and -2 log p(y | u, β).

    failure: None when converged, else what went wrong and the random term whose modes moved most.
    """

    u: np.ndarray
    beta: np.ndarray
    eta: np.ndarray
    factor: BlockedFactor | None
    conditional_deviance: float
    failure: str | None

    @property
    def penalised_deviance(self) -> float:
        return self.conditional_deviance + float(self.u @ self.u)

    @property
    def laplace(self) -> float:
        """-2 log L ≈ -2 log p(y | ũ, β) + ||ũ||² + log|Λ'Z'WZΛ + I| (lme4's Laplace deviance)."""
        if self.factor is None:
            return np.inf
        return self.penalised_deviance + self.factor.logdet_random


def _moving_term(design: Design, step: np.ndarray) -> str:
    """Label of the random term whose modes take the largest step (for failure messages)."""
    best, start, label = -1.0, 0, ""
    for term in design.terms:
        size = np.max(np.abs(step[start:start + term.size])) if term.size else 0.0
        if size > best:
            best, label = size, term.label
        start += term.size
    return label


def _converged(step: np.ndarray, decrement: float, change: float, penalised: float) -> bool:
    """The step is below STEP_TOL, or the decrement negligible, or small and the deviance stalled."""
    scale = 1.0 + abs(penalised)
    return bool(
        np.max(np.abs(step), initial=0.0) <= STEP_TOL
        or decrement <= DECREMENT_TOL * scale
        or (decrement <= SMALL_DECREMENT and change <= STALL_TOL * scale)
    )


def pirls(problem: Problem, rows: ThetaRows, u: np.ndarray, beta: np.ndarray, estimate_beta: bool) -> Modes:
    """Conditional modes at θ (given through `rows` = ZΛ(θ)), starting from (u, β).

    With estimate_beta, β is updated jointly with u (lme4's nAGQ = 0 stage); otherwise β is fixed.
    """
    X, q = problem.X, rows.q
    eta = problem.linear_predictor(rows, u, beta)
    deviance = problem.conditional_deviance(eta)
    failure, factor, step, change = None, None, np.zeros(0), np.inf
    for _ in range(MAX_ITERATIONS):
        weights, score = problem.working(eta)
        gradient = rows.transpose_times(score) - u
        if estimate_beta:
            gradient = np.concatenate([gradient, X.T @ score])
        try:
            factor = factorize(rows, X if estimate_beta else None, weights)
        except np.linalg.LinAlgError:
            factor, failure = None, "the weighted cross-product matrix is not positive definite"
            break
        step = factor.solve(gradient)
        penalised = deviance + u @ u
        decrement = step @ gradient
        if _converged(step, decrement, change, penalised):
            return Modes(u, beta, eta, factor, deviance, None)
        fraction = 1.0
        for _ in range(MAX_HALVINGS):
            new_u = u + fraction * step[:q]
            new_beta = beta + fraction * step[q:] if estimate_beta else beta
            new_eta = problem.linear_predictor(rows, new_u, new_beta)
            new_deviance = problem.conditional_deviance(new_eta)
            if np.isfinite(new_deviance) and (decrement < SMALL_DECREMENT or new_deviance + new_u @ new_u <= penalised):
                break
            fraction /= 2.0
        else:
            failure = (
                f"step halving failed to lower the penalised deviance (the modes of {_moving_term(problem.design, step)} "
                "kept moving)"
            )
            break
        change = abs(penalised - new_deviance - new_u @ new_u)
        u, beta, eta, deviance = new_u, new_beta, new_eta, new_deviance
    else:
        failure = f"no convergence in {MAX_ITERATIONS} iterations (the modes of {_moving_term(problem.design, step)} kept moving)"
    return Modes(u, beta, eta, factor, deviance, failure)


class ProfileFailure(RuntimeError):
    """The β-profiling iteration did not settle; the caller falls back to optimising (θ, β) jointly."""


def laplace_beta_gradient(problem: Problem, rows: ThetaRows, eta: np.ndarray, weights: np.ndarray, factor: BlockedFactor) -> np.ndarray:
    """d log|Λ'Z'WZΛ + I| / dβ along the modes ũ(β): X'g - X'WZΛ A⁻¹Λ'Z'g with g_i = h_i dw_i/dη_i.

    h_i = r_i'A⁻¹r_i is row i's leverage; the second term carries dũ/dβ = -A⁻¹Λ'Z'WX.  `factor` may be
    the joint (u, β) one: β comes last in it, so its leading blocks are those of A alone.
    """
    g = leverages(factor, rows) * problem.family.weight_derivative(problem.y, eta, problem.weights)
    through_modes = factor.solve(rows.transpose_times(g))  # a right-hand side over u only: A⁻¹ alone
    return problem.X.T @ (g - weights * rows.times(through_modes))


def profiled_modes(problem: Problem, rows: ThetaRows, u: np.ndarray, beta: np.ndarray) -> Modes:
    """Modes ũ and the β that minimises the Laplace deviance at this θ (β profiled out).

    Gauss-Newton steps on (u, β) whose β-gradient adds ½ d log|L|²/dβ move u to the modes and β to
    the Laplace optimum (the penalised deviance's Hessian stands in for the Laplace deviance's; the
    log-determinant's curvature is small beside it); PIRLS at that β then leaves the modes and factor
    exactly consistent.  From a poor start the steps can overshoot: then the iteration restarts from
    the modes at the starting β, and failing that from the joint mode of the penalised deviance,
    both of which PIRLS (with step halving) reaches from anywhere.
    """
    try:
        return _profile_from(problem, rows, u, beta)
    except ProfileFailure:
        pass
    start = pirls(problem, rows, u, beta, estimate_beta=False)
    if start.failure is not None:
        return start
    try:
        return _profile_from(problem, rows, start.u, start.beta)
    except ProfileFailure:
        joint = pirls(problem, rows, start.u, start.beta, estimate_beta=True)
        if joint.failure is not None:
            return joint
        return _profile_from(problem, rows, joint.u, joint.beta)


def _profile_from(problem: Problem, rows: ThetaRows, u: np.ndarray, beta: np.ndarray) -> Modes:
    """The Gauss-Newton iteration of `profiled_modes` from (u, β)."""
    X, q = problem.X, rows.q
    eta = problem.linear_predictor(rows, u, beta)
    previous, change, penalised = np.inf, np.inf, problem.conditional_deviance(eta) + u @ u
    for _ in range(PROFILE_ITERATIONS):
        weights, score = problem.working(eta)
        factor = factorize(rows, X, weights)
        logdet_gradient = laplace_beta_gradient(problem, rows, eta, weights, factor)
        gradient = np.concatenate([rows.transpose_times(score) - u, X.T @ score - 0.5 * logdet_gradient])
        step = factor.solve(gradient)
        size = np.max(np.abs(step), initial=0.0)
        if size <= PROFILE_TOL or _converged(step, step @ gradient, change, penalised):
            break
        if not np.isfinite(size) or size > previous:
            raise ProfileFailure(f"the β-profiling steps stopped shrinking (step {size:.3g})")
        previous = size
        u, beta = u + step[:q], beta + step[q:]
        eta = problem.linear_predictor(rows, u, beta)
        new_penalised = problem.conditional_deviance(eta) + u @ u
        change, penalised = abs(penalised - new_penalised), new_penalised
    else:
        raise ProfileFailure(f"the β-profiling steps did not settle in {PROFILE_ITERATIONS} iterations")
    return pirls(problem, rows, u, beta, estimate_beta=False)

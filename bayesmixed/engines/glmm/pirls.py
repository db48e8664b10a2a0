"""Penalised iteratively reweighted least squares: the conditional modes ũ of the spherical random effects.

At fixed θ (and β, or with β estimated alongside as in lme4's first stage) PIRLS minimises the
penalised deviance -2 log p(y | u, β) + ||u||² by Fisher scoring, which is Newton's method for the
canonical links.  Each step is a weighted least-squares solve (system.factorize), halved while it
fails to lower the penalised deviance.  It stops when the step is below STEP_TOL, so that the
factor it returns is the one at the mode (the Laplace log-determinant then carries no lag).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...design.types import Design
from .families import Family
from .system import ThetaRows, WeightedFactor, factorize

# Largest Newton step (in u's standard-normal units and β's units) at which the modes count as found:
# quadratic convergence puts the remaining error near STEP_TOL², far below what the optimiser sees.
STEP_TOL = 1e-10
# A full step that cannot lower the penalised deviance while this small is round-off, not failure.
ROUNDOFF_STEP = 1e-6
MAX_ITERATIONS = 100
MAX_HALVINGS = 20


@dataclass(frozen=True, eq=False)
class Response:
    """The response as the engine uses it: y as a proportion (binomial) or count, prior weights, the
    offset, and the log normalising constants of each row's density."""

    family: Family
    y: np.ndarray
    weights: np.ndarray
    offset: np.ndarray
    log_norm: np.ndarray

    def log_density(self, eta: np.ndarray) -> np.ndarray:
        return self.family.log_density(self.y, eta, self.weights, self.log_norm)


def make_response(design: Design, family: Family, y: np.ndarray | None = None) -> Response:
    """Response in lme4's form from the design's (successes, trials) or counts; `y` replaces the
    design's response (same form as design.y) for refits on simulated data."""
    counts = np.asarray(design.y if y is None else y, dtype=float)
    if family.name == "binomial":
        trials = np.asarray(design.trials, dtype=float)
        proportion = np.divide(counts, trials, out=np.zeros_like(counts), where=trials > 0)
        weights = trials
    else:
        proportion, weights = counts, np.ones_like(counts)
    log_norm = family.normalising_constant(proportion, weights)
    return Response(family, proportion, weights, np.asarray(design.offset, dtype=float), log_norm)


@dataclass(frozen=True, eq=False)
class Modes:
    """PIRLS's answer at one (θ, β): the modes u, β (updated when estimated), the linear predictor,
    the factor of Λ'Z'WZΛ + I (with X'WX when β was free) at the mode, and -2 log p(y | u, β).

    failure: None when converged, else what went wrong and the random term whose modes moved most.
    """

    u: np.ndarray
    beta: np.ndarray
    eta: np.ndarray
    factor: WeightedFactor | None
    conditional_deviance: float
    iterations: int
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


def _linear_predictor(response: Response, rows: ThetaRows, X: np.ndarray, u: np.ndarray, beta: np.ndarray) -> np.ndarray:
    return response.offset + X @ beta + rows.times(u)


def _moving_term(design: Design, step: np.ndarray) -> str:
    """Label of the random term whose modes take the largest step (for failure messages)."""
    best, start, label = -1.0, 0, ""
    for term in design.terms:
        size = np.max(np.abs(step[start:start + term.size])) if term.size else 0.0
        if size > best:
            best, label = size, term.label
        start += term.size
    return label


def pirls(
    design: Design,
    response: Response,
    rows: ThetaRows,
    u: np.ndarray,
    beta: np.ndarray,
    estimate_beta: bool,
) -> Modes:
    """Conditional modes at θ (given through `rows` = ZΛ(θ)), starting from (u, β).

    With estimate_beta, β is updated jointly with u (lme4's nAGQ = 0 stage); otherwise β is fixed.
    """
    family, X, q = response.family, design.X, rows.q
    u, beta = u.copy(), beta.copy()
    eta = _linear_predictor(response, rows, X, u, beta)
    deviance = -2.0 * response.log_density(eta).sum()
    failure, factor = None, None
    for iteration in range(1, MAX_ITERATIONS + 1):
        mu = family.link.inverse(eta)
        mu_eta = family.link.mu_eta(eta)
        weights = response.weights * mu_eta**2 / family.variance(mu)
        # The score of the log-likelihood in η is w · (y - μ) / (dμ/dη).
        score = weights * (response.y - mu) / mu_eta
        gradient = rows.transpose_times(score) - u
        if estimate_beta:
            gradient = np.concatenate([gradient, X.T @ score])
        try:
            factor = factorize(rows, X if estimate_beta else None, weights)
        except np.linalg.LinAlgError:
            failure = "the weighted cross-product matrix is not positive definite"
            break
        step = factor.solve(gradient)
        if np.max(np.abs(step)) <= STEP_TOL:
            return Modes(u, beta, eta, factor, deviance, iteration, None)
        penalised = deviance + u @ u
        fraction = 1.0
        for _ in range(MAX_HALVINGS):
            new_u = u + fraction * step[:q]
            new_beta = beta + fraction * step[q:] if estimate_beta else beta
            new_eta = _linear_predictor(response, rows, X, new_u, new_beta)
            new_deviance = -2.0 * response.log_density(new_eta).sum()
            if np.isfinite(new_deviance) and new_deviance + new_u @ new_u <= penalised:
                break
            fraction /= 2.0
        else:
            if np.max(np.abs(step)) <= ROUNDOFF_STEP:
                return Modes(u, beta, eta, factor, deviance, iteration, None)
            failure = (
                f"step halving failed to lower the penalised deviance (the modes of {_moving_term(design, step)} "
                "kept moving)"
            )
            break
        u, beta, eta, deviance = new_u, new_beta, new_eta, new_deviance
    else:
        failure = f"no convergence in {MAX_ITERATIONS} iterations (the modes of {_moving_term(design, step)} kept moving)"
    return Modes(u, beta, eta, factor, deviance, iteration, failure)

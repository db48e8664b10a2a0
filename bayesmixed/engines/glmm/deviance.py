"""The GLMM deviance as a function of the parameters: Laplace, or adaptive Gauss-Hermite for one scalar term.

Three criteria: `profiled` maps θ to the Laplace deviance minimised over β (what nagq = 1 optimises);
lme4's two, `stage1` (θ -> Laplace deviance with β estimated inside PIRLS, lme4's nAGQ = 0) and
`stage2` ((θ, β) -> Laplace or AGQ deviance with β fixed), serve AGQ and the fallback.  All keep the
previous modes as the next PIRLS start (a warm start changes how fast PIRLS converges, never where
it converges to).  A family with a dispersion parameter φ (the negative binomial's θ) adds log φ as
the last coordinate of every criterion's argument: it is optimised jointly with the others.

The AGQ deviance (lme4's glmerAGQ) with per-level sd_j = 1/L_jj at the modes ũ_j:
    -2 log L ≈ Σ_j devc_j(ũ_j) + log|L|² - 2 Σ_j log Σ_k w_k exp(z_k²/2 - (devc_j(ũ_j + z_k sd_j) - devc_j(ũ_j))/2)
with devc_j(u_j) = -2 Σ_{i in j} log p(y_i | u_j) + u_j² and (z_k, w_k) the Gauss-Hermite rule for N(0, 1).
Here devc uses the full log-density, so the result is a log-likelihood on the same scale as the
Laplace value (and equal to it for nagq = 1); lme4 uses deviance residuals for nagq > 1, which drops
the constant -2 Σ log p(y_i | μ_i = y_i) (`saturated_constant`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from ...design.types import Design
from ...errors import BayesmixedError
from .pirls import Modes, Problem, pirls, profiled_modes
from .system import ThetaRows, theta_rows

# lme4's GHrule tables stop at 100 nodes (glmer itself allows up to 25).
MAX_NAGQ = 100
# What the optimiser sees where PIRLS fails at a trial point: worse than any real deviance.
FAILED_VALUE = 1e100


def gauss_hermite_rule(nagq: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z_k and weights w_k with Σ w_k f(z_k) ≈ E f(Z), Z ~ N(0, 1) (lme4's GHrule)."""
    nodes, weights = hermegauss(nagq)
    return nodes, weights / np.sqrt(2.0 * np.pi)


def check_nagq(design: Design, nagq: int) -> int:
    """nagq as an int in 1..100; nagq > 1 needs exactly one scalar random term (error names the terms)."""
    if int(nagq) != nagq or not 1 <= nagq <= MAX_NAGQ:
        raise BayesmixedError(f"nagq must be a whole number from 1 (Laplace) to {MAX_NAGQ}, got {nagq!r}")
    nagq = int(nagq)
    if nagq > 1 and (len(design.terms) != 1 or design.terms[0].n_columns != 1):
        labels = ", ".join(t.label for t in design.terms)
        raise BayesmixedError(
            f"adaptive Gauss-Hermite quadrature (nagq = {nagq}) needs a single scalar random-effects term such as "
            f"(1 | g), but this model has {labels}; use nagq=1 (Laplace) for it"
        )
    return nagq


def agq_deviance(problem: Problem, rows: ThetaRows, modes: Modes, nodes: np.ndarray, weights: np.ndarray) -> float:
    """AGQ approximation to -2 log L for a single scalar term (formula in the module docstring)."""
    term = rows.terms[0]
    codes, z_values = term.codes, term.values[:, 0]
    sd = np.sqrt(modes.factor.block_inverse[:, 0, 0])  # 1/L_jj: L_jj² = A_j, the level's 1 x 1 block

    def group_deviance(eta: np.ndarray, u: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=-2.0 * problem.log_density(eta), minlength=term.n_levels) + u**2

    at_mode = group_deviance(modes.eta, modes.u)
    total = np.zeros(term.n_levels)
    for node, weight in zip(nodes, weights):
        shift = node * sd
        moved = group_deviance(modes.eta + z_values * shift[codes], modes.u + shift)
        total += weight * np.exp(0.5 * node**2 - 0.5 * (moved - at_mode))
    return float(at_mode.sum() + modes.factor.logdet_random - 2.0 * np.log(total).sum())


def saturated_constant(problem: Problem) -> float:
    """-2 Σ log p(y_i | μ_i = y_i): the gap between -2 log L and lme4's deviance-residual scale."""
    return float(-2.0 * problem.family.saturated_log_density(problem.y, problem.weights, problem.log_norm).sum())


@dataclass(eq=False)
class DevianceFunction:
    """The criteria minimised over θ (and β) for one problem, with PIRLS warm starts.

    `u`, `beta` hold the latest converged modes (the next start) unless `fixed_start` is set: then
    every PIRLS run starts there, which makes the criterion a deterministic function of its arguments
    (for finite differences).  `failures` collects the PIRLS failures seen.
    """

    problem: Problem
    nagq: int
    u: np.ndarray
    beta: np.ndarray
    template: ThetaRows = field(init=False)
    nodes: np.ndarray = field(init=False)
    weights: np.ndarray = field(init=False)
    failures: list[str] = field(default_factory=list)
    n_evals: int = 0
    fixed_start: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.template = theta_rows(self.design, self.design.theta_start)
        self.nodes, self.weights = gauss_hermite_rule(self.nagq)

    @property
    def design(self) -> Design:
        return self.problem.design

    @property
    def n_theta(self) -> int:
        return self.design.n_theta

    @property
    def n_dispersion(self) -> int:
        """1 when the family has a dispersion parameter (the criteria's last coordinate is its log), else 0."""
        return int(self.problem.family.has_dispersion)

    @property
    def log_dispersion(self) -> np.ndarray:
        """log φ of the current family as a (n_dispersion,) array (empty without a dispersion parameter)."""
        return np.log([self.problem.family.dispersion]) if self.n_dispersion else np.zeros(0)

    def set_log_dispersion(self, log_dispersion: np.ndarray) -> None:
        """Move the problem to dispersion exp(log φ) (nothing to do for families without one)."""
        if self.n_dispersion and float(log_dispersion[0]) != float(self.log_dispersion[0]):
            self.problem = self.problem.with_family(self.problem.family.with_dispersion(float(np.exp(log_dispersion[0]))))

    def apply_dispersion(self, params: np.ndarray) -> np.ndarray:
        """Set the dispersion from the argument's last coordinate; return the rest."""
        params = np.asarray(params, dtype=float)
        if self.n_dispersion:
            self.set_log_dispersion(params[-1:])
            return params[:-1]
        return params

    def rows(self, theta: np.ndarray) -> ThetaRows:
        return theta_rows(self.design, np.asarray(theta, dtype=float), self.template)

    def _record(self, found: Modes) -> Modes:
        self.n_evals += 1
        if found.failure is None:
            self.u, self.beta = found.u, found.beta
        else:
            self.failures.append(found.failure)
        return found

    def modes(self, theta: np.ndarray, beta: np.ndarray | None) -> tuple[Modes, ThetaRows]:
        """PIRLS at θ (at the current dispersion): β estimated alongside u when `beta` is None, fixed otherwise."""
        rows = self.rows(theta)
        start_u = self.u if self.fixed_start is None else self.fixed_start
        start_beta = self.beta if beta is None else np.asarray(beta, dtype=float)
        return self._record(pirls(self.problem, rows, start_u, start_beta, estimate_beta=beta is None)), rows

    def profiled_modes(self, theta: np.ndarray) -> tuple[Modes, ThetaRows]:
        """Modes and Laplace-optimal β at θ (raises ProfileFailure when profiling does not settle)."""
        rows = self.rows(theta)
        return self._record(profiled_modes(self.problem, rows, self.u, self.beta)), rows

    def value(self, modes: Modes, rows: ThetaRows) -> float:
        """Laplace (nagq = 1) or AGQ deviance at converged modes; FAILED_VALUE when PIRLS failed."""
        if modes.failure is not None or modes.factor is None:
            return FAILED_VALUE
        if self.nagq == 1:
            return modes.laplace
        return agq_deviance(self.problem, rows, modes, self.nodes, self.weights)

    def profiled(self, params: np.ndarray) -> float:
        """(θ[, log φ]) -> Laplace deviance minimised over β (the criterion for nagq = 1)."""
        found, _ = self.profiled_modes(self.apply_dispersion(params))
        return FAILED_VALUE if found.failure is not None or found.factor is None else found.laplace

    def stage1(self, params: np.ndarray) -> float:
        """(θ[, log φ]) -> Laplace deviance with β from PIRLS (lme4's nAGQ = 0 criterion)."""
        found, _ = self.modes(self.apply_dispersion(params), None)
        return FAILED_VALUE if found.failure is not None or found.factor is None else found.laplace

    def stage2(self, params: np.ndarray) -> float:
        """(θ, β[, log φ]) -> Laplace or AGQ deviance (lme4's nAGQ >= 1 criterion)."""
        params = self.apply_dispersion(params)
        theta, beta = params[: self.n_theta], params[self.n_theta:]
        return self.value(*self.modes(theta, beta))

"""fit_glmm: Design -> GlmmFit, by the Laplace approximation or adaptive Gauss-Hermite quadrature."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...design.types import Design
from ...errors import BayesmixedError, warn_user
from ...results.advice import convergence_message, singular_fit_message
from ..checks import SINGULAR_TOL, singular_components
from ..threads import engine_threads
from .checks import GlmmWarning, pirls_message, pirls_trouble_message, separation_messages
from .deviance import DevianceFunction, check_nagq
from .families import Family, make_family
from .optimize import glm_start, optimize_deviance
from .pirls import make_problem
from .result import GlmmFit
from .system import factorize, theta_rows
from .vcov import Derivatives, convergence_problems, derivatives_at

def fit_glmm(
    design: Design,
    nagq: int = 1,
    *,
    link: str | None = None,
    start: dict[str, Any] | None = None,
    check_derivatives: bool = True,
) -> GlmmFit:
    """Fit g(E[y | b]) = Xβ + offset + Zb, b ~ N(0, Λ(θ)Λ(θ)') by maximising the Laplace (nagq = 1) or
    adaptive Gauss-Hermite (nagq > 1, one scalar random term) approximation to the likelihood.

    link: "logit" (default), "probit" or "cloglog" for the binomial, "log" for the Poisson;
    start: {"theta": ..., "fixef": ...} (either may be left out; lme4's names);
    check_derivatives: compute glmer's Hessian now (standard errors, convergence checks) rather than
    when the standard errors are first asked for.
    Numerical trouble (separation, PIRLS failure, non-convergence, singular fit) goes into `messages`
    and is warned with a GlmmWarning.
    """
    if design.family not in ("binomial", "poisson"):
        raise BayesmixedError(f"the GLMM engine fits binomial and Poisson models; this design is {design.family}")
    if not design.terms:
        raise BayesmixedError("the formula has no random-effects term; a generalised linear mixed model needs at least one")
    nagq = check_nagq(design, nagq)
    return fit_problem(design, make_family(design.family, link), None, nagq, start, check_derivatives, None, True)


def _start_values(design: Design, start: dict[str, Any] | None, default_beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    start = dict(start or {})
    unknown = set(start) - {"theta", "fixef"}
    if unknown:
        raise BayesmixedError(f"start takes 'theta' and 'fixef'; got {', '.join(sorted(unknown))}")
    theta = np.asarray(start.get("theta", design.theta_start), dtype=float).ravel()
    beta = np.asarray(start.get("fixef", default_beta), dtype=float).ravel()
    if theta.size != design.n_theta:
        raise BayesmixedError(f"start['theta'] needs {design.n_theta} values ({', '.join(design.theta_names)})")
    if beta.size != design.p:
        raise BayesmixedError(f"start['fixef'] needs {design.p} values ({', '.join(design.fixef_names)})")
    return np.maximum(theta, design.theta_lower), beta


def fit_problem(
    design: Design,
    family: Family,
    y: np.ndarray | None,
    nagq: int,
    start: dict[str, Any] | None,
    check_derivatives: bool,
    warm_u: np.ndarray | None,
    warn: bool,
) -> GlmmFit:
    """Fit `design` with response `y` (None: the design's own); `warm_u` starts PIRLS (refits)."""
    with engine_threads():
        problem = make_problem(design, family, y)
        theta0, beta0 = _start_values(design, start, glm_start(problem))
        deviance = DevianceFunction(problem, nagq, np.zeros(design.q) if warm_u is None else warm_u, beta0)
        optimum = optimize_deviance(deviance, theta0)
        modes, rows = deviance.modes(optimum.theta, optimum.beta)
        messages = []
        if modes.failure is not None:
            messages.append(pirls_message(modes.failure))
        elif deviance.failures:
            messages.append(pirls_trouble_message(len(deviance.failures), deviance.n_evals, deviance.failures[0]))
        if optimum.status.startswith("maximum"):
            messages.append(convergence_message(["the optimiser hit its evaluation limit"]))
        derivatives, problems = None, []
        if check_derivatives and modes.failure is None:
            derivatives = derivatives_at(deviance, optimum.theta, optimum.beta)
            lower = np.concatenate([design.theta_lower, np.full(design.p, -np.inf)])
            params = np.concatenate([optimum.theta, optimum.beta])
            problems = convergence_problems(params, lower, derivatives.gradient, derivatives.hessian)
            if problems:
                messages.append(convergence_message(problems))
            if derivatives.vcov is None:
                messages.append(
                    "the Hessian of the deviance gives no positive-definite covariance for the fixed effects, so their "
                    "standard errors come from the PIRLS factor instead (glmer's use.hessian = FALSE); treat them "
                    "with caution."
                )
        singular = singular_components(optimum.theta, design.theta_lower).size > 0
        if singular:
            messages.append(singular_fit_message(design.terms, design.lambda_blocks(optimum.theta), SINGULAR_TOL))
        if modes.failure is None:
            messages += separation_messages(problem, optimum.beta, optimum.theta, modes.eta)
        if warn:
            for message in messages:
                warn_user(message, GlmmWarning)
        value = deviance.value(modes, rows)
        converged = modes.failure is None and not optimum.status.startswith("maximum") and not problems
        return GlmmFit(
            design=design, problem=problem, nagq=nagq, theta=optimum.theta, beta=optimum.beta, u=modes.u,
            effects=design.random_effects_from_spherical(optimum.theta, modes.u), objective=value, modes=modes,
            derivatives=derivatives, n_evals=deviance.n_evals, optimizer_status=optimum.status, route=optimum.route,
            converged=converged, is_singular=singular, messages=tuple(messages),
        )


def derivatives_for(fit: GlmmFit) -> Derivatives:
    """glmer's Hessian and vcov for a fit made without them (refits)."""
    deviance = DevianceFunction(fit.problem, fit.nagq, fit.u, fit.beta)
    with engine_threads():
        return derivatives_at(deviance, fit.theta, fit.beta)


def pirls_vcov(fit: GlmmFit) -> np.ndarray:
    """vcov(β̂) from the joint (u, β) PIRLS factor at the estimates: (R_X'R_X)⁻¹ (glmer's use.hessian = FALSE)."""
    rows = theta_rows(fit.design, fit.theta)
    weights, _ = fit.problem.working(fit.modes.eta)
    rest_inverse = factorize(rows, fit.problem.X, weights).inverse_parts()[2]
    p = fit.design.p
    return rest_inverse[-p:, -p:] if p else np.zeros((0, 0))

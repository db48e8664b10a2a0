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
from ...families import Family, get_family
from .optimize import glm_start, optimize_deviance
from .pirls import make_problem
from .result import GlmmFit
from .vcov import convergence_problems, derivatives_at


def fit_glmm(
    design: Design,
    nagq: int = 1,
    *,
    link: str | None = None,
    start: dict[str, Any] | None = None,
    check_derivatives: bool = True,
    laplace_weights: str | None = None,
) -> GlmmFit:
    """Fit g(E[y | b]) = Xβ + offset + Zb, b ~ N(0, Λ(θ)Λ(θ)') by maximising the Laplace (nagq = 1) or
    adaptive Gauss-Hermite (nagq > 1, one scalar random term) approximation to the likelihood.

    link: "logit" (default), "probit" or "cloglog" for the binomial, "log" for the Poisson and the
    negative binomial (NB2, Var(y) = μ + μ²/φ, φ estimated with the other parameters: `fit.dispersion`);
    start: {"theta": ..., "fixef": ..., "dispersion": ...} (any may be left out; lme4's names);
    laplace_weights: negative binomial only, the PIRLS weights of the Laplace approximation: "observed"
    information (default; glmmTMB's nbinom2) or "fisher" (lme4's glmer.nb);
    check_derivatives: compute glmer's Hessian now (standard errors, convergence checks) rather than
    when the standard errors are first asked for.
    Numerical trouble (separation, PIRLS failure, non-convergence, singular fit) goes into `messages`
    and is warned with a GlmmWarning.
    """
    family = get_family(design.family, link)
    if laplace_weights is not None:
        family = family.with_laplace_weights(laplace_weights)
    if family.profiled_scale:
        raise BayesmixedError(f"the GLMM engine fits non-Gaussian families; fit this {design.family} model with fit_lmm")
    if not design.terms:
        raise BayesmixedError("the formula has no random-effects term; a generalised linear mixed model needs at least one")
    nagq = check_nagq(design, nagq)
    return fit_problem(design, family, None, nagq, start, check_derivatives, None, True)


def _start_values(design: Design, start: dict[str, Any] | None, default_beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    start = dict(start or {})
    unknown = set(start) - {"theta", "fixef", "dispersion"}
    if unknown:
        raise BayesmixedError(f"start takes 'theta', 'fixef' and 'dispersion'; got {', '.join(sorted(unknown))}")
    theta = np.asarray(start.get("theta", design.theta_start), dtype=float).ravel()
    beta = np.asarray(start.get("fixef", default_beta), dtype=float).ravel()
    if theta.size != design.n_theta:
        raise BayesmixedError(f"start['theta'] needs {design.n_theta} values ({', '.join(design.theta_names)})")
    if beta.size != design.p:
        raise BayesmixedError(f"start['fixef'] needs {design.p} values ({', '.join(design.fixef_names)})")
    return np.maximum(theta, design.theta_lower), beta


def _starting_family(design: Design, family: Family, y: np.ndarray | None, start: dict[str, Any] | None) -> Family:
    """The family with its dispersion set where it has one: start['dispersion'], the family's own, or the
    moment estimate from a Poisson GLM's means."""
    if not family.has_dispersion:
        return family
    given = (start or {}).get("dispersion")
    if given is not None:
        value = float(np.asarray(given, dtype=float).ravel()[0])
        if not value > 0:
            raise BayesmixedError(f"start['dispersion'] must be positive; got {given!r}")
        return family.with_dispersion(value)
    if family.dispersion is not None:
        return family
    poisson = make_problem(design, get_family("poisson"), y)
    mu = np.exp(poisson.offset + poisson.X @ glm_start(poisson))
    return family.with_dispersion(family.initial_dispersion(poisson.y, mu))


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
    # Under separation η runs off to ±∞ and PIRLS's arithmetic overflows on the way; what that means is
    # said once, in the separation message, not as a screenful of numpy warnings.
    with engine_threads(), np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        problem = make_problem(design, _starting_family(design, family, y, start), y)
        theta0, beta0 = _start_values(design, start, glm_start(problem))
        deviance = DevianceFunction(problem, nagq, np.zeros(design.q) if warm_u is None else warm_u, beta0)
        optimum = optimize_deviance(deviance, theta0)
        deviance.set_log_dispersion(optimum.log_dispersion)
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
            lower = np.concatenate([design.theta_lower, np.full(design.p + optimum.log_dispersion.size, -np.inf)])
            params = np.concatenate([optimum.theta, optimum.beta, optimum.log_dispersion])
            problems = convergence_problems(params, lower, derivatives.gradient, derivatives.hessian)
            if problems:
                messages.append(convergence_message(problems))
            if derivatives.vcov is None:
                messages.append(
                    "the Hessian of the deviance gives no positive-definite covariance for the fixed effects, so their "
                    "standard errors come from the PIRLS factor instead (glmer's use.hessian = FALSE); treat them "
                    "with caution."
                )
        dispersion_note = deviance.problem.family.estimate_note()
        if dispersion_note is not None:
            messages.append(dispersion_note)
        singular = singular_components(optimum.theta, design.theta_lower).size > 0
        if singular:
            messages.append(singular_fit_message(design.terms, design.lambda_blocks(optimum.theta), SINGULAR_TOL))
        if modes.failure is None:
            messages += separation_messages(deviance.problem, optimum.beta, optimum.theta, modes.eta)
        if warn:
            for message in messages:
                warn_user(message, GlmmWarning)
        value = deviance.value(modes, rows)
        converged = modes.failure is None and not optimum.status.startswith("maximum") and not problems
        return GlmmFit(
            design=design, problem=deviance.problem, nagq=nagq, theta=optimum.theta, beta=optimum.beta, u=modes.u,
            effects=design.random_effects_from_spherical(optimum.theta, modes.u), objective=value, modes=modes,
            derivatives=derivatives, n_evals=deviance.n_evals, optimizer_status=optimum.status, route=optimum.route,
            converged=converged, is_singular=singular, messages=tuple(messages), refit_problem=fit_problem,
        )

"""fit_lmm: Design -> LmmFit, by lme4's profiled REML/ML criterion and BOBYQA."""

from __future__ import annotations

import numpy as np

from ...design.types import Design
from ...errors import BayesmixedError, warn_user
from ...families import get_family
from ...results.advice import (
    SINGULAR_PREFIX, SingularFitWarning, convergence_message, identifiability_message, singular_fit_message,
)
from ...results.lmm import LmmFit
from .conditional import conditional_covariances, conditional_modes
from ..blocked_factor import BlockedFactor, factorize
from ..checks import SINGULAR_TOL, singular_components
from ..threads import engine_threads
from .convergence import ConvergenceReport, check_convergence
from .objective import ProfiledCriterion, residual_sd
from .optimize import OptimizerSettings, Optimum, minimize_criterion, newton_polish, path_is_reproducible
from .satterthwaite import Satterthwaite, satterthwaite
from .system import PlsSystem, build_system

# Dense blocks at least this large make a second BOBYQA run (the reproducibility check) cost as much
# as the fit, and their long sums are where rounding noise steers lme4's path: polish directly.
LARGE_DENSE_BLOCK = 200


def fit_lmm(
    design: Design,
    reml: bool = True,
    *,
    start: np.ndarray | None = None,
    settings: OptimizerSettings | None = None,
    check_derivatives: bool = True,
) -> LmmFit:
    """Fit y ~ N(Xβ + Zγ, σ²I), γ ~ N(0, σ²Λ(θ)Λ(θ)') by minimising the profiled REML criterion
    (reml=True) or ML deviance over θ >= lower bounds; β̂, σ̂ and the modes of γ follow from θ̂.

    start: θ to start from (default Λ = I); settings: BOBYQA's stopping rules (lme4's by default);
    check_derivatives: run lme4's gradient/Hessian checks at the optimum (a few extra evaluations).
    """
    if not get_family(design.family).profiled_scale:
        raise BayesmixedError(f"fit_lmm fits Gaussian models; this design is {design.family} (use the GLMM engine)")
    if not design.terms:
        raise BayesmixedError("the formula has no random-effects term; a linear mixed model needs at least one")
    if reml and design.n <= design.p:
        raise BayesmixedError(f"REML needs more observations ({design.n}) than fixed effects ({design.p})")
    theta0 = design.theta_start if start is None else np.asarray(start, dtype=float)
    if theta0.shape != design.theta_start.shape:
        raise BayesmixedError(f"start must hold {design.n_theta} values of θ ({', '.join(design.theta_names)})")
    system = build_system(design)
    criterion = ProfiledCriterion(system, reml)
    with engine_threads():
        optimum, report = _optimize(system, criterion, theta0, design.theta_lower,
                                    settings or OptimizerSettings(), check_derivatives)
        theta = optimum.theta
        factor = factorize(system, theta)
        sigma = residual_sd(factor, reml)
        beta, effects = conditional_modes(factor, design)
    singular = singular_components(theta, design.theta_lower).size > 0
    messages = _messages(design, theta, singular, report)
    for message in messages:
        warn_user(message, SingularFitWarning if message.startswith(SINGULAR_PREFIX) else LmmWarning)
    return LmmFit(
        design=design,
        reml=reml,
        theta=theta,
        sigma=sigma,
        beta=beta,
        effects=tuple(effects),
        objective=optimum.value,
        factor=factor,
        n_evals=optimum.n_evals,
        optimizer_status=optimum.status,
        convergence=report,
        is_singular=singular,
        messages=messages,
        engine=LMM_ENGINE,
    )


def _optimize(
    system: PlsSystem, criterion: ProfiledCriterion, start: np.ndarray, lower: np.ndarray,
    settings: OptimizerSettings, check_derivatives: bool,
) -> tuple[Optimum, ConvergenceReport]:
    """lme4's optimisation and convergence checks; then, where lme4's own end point would be set by
    rounding noise, a Newton step to the optimum (its gradient and Hessian are the checks'), after
    which the gradient is checked again where the fit now is."""
    optimum = minimize_criterion(criterion, start, lower, settings)
    if not check_derivatives:
        return optimum, ConvergenceReport.unchecked(optimum.reached_limit)
    report = check_convergence(criterion, optimum.theta, optimum.value, lower, optimum.reached_limit)
    if system.d >= LARGE_DENSE_BLOCK or not path_is_reproducible(criterion, start, lower, settings, optimum):
        optimum = newton_polish(criterion, optimum, report.free, report.gradient, report.hessian, lower)
        if optimum.polished:
            report = check_convergence(criterion, optimum.theta, optimum.value, lower, optimum.reached_limit, report)
    return optimum, report


class LmmWarning(UserWarning):
    """lme4's convergence and identifiability warnings of a REML/ML fit (also kept in fit.messages)."""


def _messages(design: Design, theta: np.ndarray, singular: bool, report: ConvergenceReport) -> tuple[str, ...]:
    messages = []
    if singular:
        messages.append(singular_fit_message(design.terms, design.lambda_blocks(theta), SINGULAR_TOL))
    if report.failures:
        messages.append(convergence_message(report.failures))
    if report.weak:
        messages.append(identifiability_message(report.weak))
    return tuple(messages)


class LmmEngine:
    """What an LmmFit calls back into, handed over by fit_lmm (so results/ never imports the engine): refits,
    the profiled criterion (its devfun), lme4's conditional variances and lmerTest's Satterthwaite pieces."""

    def fit(self, design: Design, reml: bool, start: np.ndarray | None, check_derivatives: bool) -> LmmFit:
        return fit_lmm(design, reml, start=start, check_derivatives=check_derivatives)

    def criterion(self, system: PlsSystem, reml: bool) -> ProfiledCriterion:
        return ProfiledCriterion(system, reml)

    def conditional_covariances(self, factor: BlockedFactor, design: Design, sigma: float) -> list[np.ndarray]:
        with engine_threads():
            return conditional_covariances(factor, design, sigma)

    def satterthwaite(self, system: PlsSystem, theta: np.ndarray, sigma: float, reml: bool) -> Satterthwaite:
        with engine_threads():
            return satterthwaite(system, theta, sigma, reml)


LMM_ENGINE = LmmEngine()

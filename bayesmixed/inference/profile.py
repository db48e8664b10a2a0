"""Profile-likelihood intervals of linear and generalised linear mixed models, as lme4's profile() and
confint(method = "profile").

For a parameter φ with the others maximised out, ζ(φ) = sign(φ − φ̂) √(d(φ) − d(φ̂)), d the ML deviance;
the level-α interval is where |ζ| <= z_{(1+α)/2}.  Like lme4 the deviance is the ML one (REML fits are
refitted by ML), the variance parameters are the sds, correlations and σ, and β_j is profiled by moving
X_j β_j into the offset and refitting θ.  lme4 interpolates a spline through the profile; here the
crossing is found by root-finding on ζ itself.  For a GLMM (glmer's profile) d is the Laplace deviance,
the variance parameters are the random effects' sds and correlations (no σ), the NB dispersion is a
nuisance parameter like the others, and β_j's profile moves X_j β_j into the offset likewise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from ..design.types import Design
from ..engines.blocked_factor import factorize
from ..engines.lmm.objective import ProfiledCriterion, unprofiled_deviance
from ..engines.lmm.optimize import OptimizerSettings, minimize_criterion
from ..engines.lmm.system import PlsSystem, build_system
from ..engines.glmm.pirls import ProfileFailure
from ..engines.optimize import bobyqa_run
from ..errors import BayesmixedError
from .parameters import sdcor_bounds, sdcor_from_theta, theta_from_sdcor

# A deviance for impossible correlation matrices: finite, so that BOBYQA's quadratic model survives it.
INFEASIBLE = 1e12
# Relative accuracy of the crossing points, and the most outward steps taken while bracketing one.
ROOT_XTOL = 1e-7
MAX_BRACKET_STEPS = 40
# A lower deviance than the fit's by more than this means the fit was not at its optimum.
DEVIANCE_TOL = 1e-6


@dataclass(frozen=True, eq=False)
class VarianceDeviance:
    """d(sd/cor, σ): the ML deviance with β at its optimum (lme4's devfun2); INFEASIBLE off the parameter space."""

    design: Design
    system: PlsSystem

    def __call__(self, sdcor: np.ndarray) -> float:
        if sdcor[-1] <= 0:
            return INFEASIBLE
        try:
            theta = theta_from_sdcor(self.design, sdcor)
        except ValueError:
            return INFEASIBLE
        return unprofiled_deviance(factorize(self.system, theta), sdcor[-1], reml=False)


def without_fixed_column(design: Design, index: int, **changes) -> Design:
    """The design with column `index` of X (and its name) removed: the reduced model of a β_j profile."""
    return dataclasses.replace(design, X=np.delete(design.X, index, axis=1),
                               fixef_names=tuple(name for j, name in enumerate(design.fixef_names) if j != index),
                               **changes)


def _bobyqa_bounded(fun: Callable[[np.ndarray], float], start: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                    scale: np.ndarray) -> tuple[np.ndarray, float]:
    """min fun over the box [lower, upper] by BOBYQA on coordinates divided by `scale` (so steps compare);
    the best point seen is the answer also when the criterion is flat to machine precision."""
    run = bobyqa_run(lambda z: fun(z * scale), np.clip(start, lower, upper) / scale, lower / scale,
                     upper=upper / scale, initial_step=0.05, xtol_abs=1e-10, ftol_abs=1e-10, xtol_rel=1e-8,
                     max_evals=20_000)
    return run.x * scale, run.value


@dataclass
class Profile:
    """ζ of one parameter, evaluated on demand and cached: `zeta(value)`.

    `optimum(value)` maximises the likelihood over the other parameters with this one fixed, warm-started
    from the nearest value already profiled.
    """

    estimate: float
    base: float
    optimum: Callable[[float, np.ndarray], tuple[float, np.ndarray]]
    start: np.ndarray
    visited: dict[float, np.ndarray] = field(default_factory=dict)
    lower_deviance: float = np.inf

    def zeta(self, value: float) -> float:
        nearest = min(self.visited, key=lambda v: abs(v - value)) if self.visited else None
        start = self.start if nearest is None else self.visited[nearest]
        deviance, others = self.optimum(value, start)
        self.visited[value] = others
        self.lower_deviance = min(self.lower_deviance, deviance)
        return float(np.sign(value - self.estimate) * np.sqrt(max(deviance - self.base, 0.0)))

    def crossing(self, target: float, first_step: float, bound: float) -> float:
        """The value where ζ = target (target's sign picks the side), `bound` when ζ stays short of it
        there, NaN when ζ is still short of it after MAX_BRACKET_STEPS ever longer steps (a flat profile).

        Steps outward by secant extrapolation of ζ until the target is bracketed, then solves by Brent.
        """
        direction = np.sign(target)
        if (bound - self.estimate) * direction <= 0:
            return bound
        previous_x, previous_z = self.estimate, 0.0
        x = self._towards(bound, self.estimate + direction * abs(first_step))
        for _ in range(MAX_BRACKET_STEPS):
            z = self.zeta(x)
            if (z - target) * direction >= 0:
                tolerance = ROOT_XTOL * max(abs(x), abs(previous_x), 1e-8)
                return float(optimize.brentq(lambda v: self.zeta(v) - target, previous_x, x, xtol=tolerance))
            if x == bound:
                return bound
            step = x - previous_x
            slope = (z - previous_z) / step
            # Extrapolate the secant 10% past the target (to bracket it), growing at most fourfold a step.
            wanted = 1.1 * (target - z) / slope if slope * direction > 0 else 4 * step
            step = np.clip(wanted, -4 * abs(step), 4 * abs(step))
            previous_x, previous_z = x, z
            x = self._towards(bound, x + step)
        return float("nan")

    def _towards(self, bound: float, x: float) -> float:
        """x, or the bound when x is past it."""
        return float(min(x, bound) if bound >= self.estimate else max(x, bound))


def variance_profile(fit, index: int) -> Profile:
    """Profile of the index-th sd/cor/σ parameter of an ML fit (REML fits must be refitted first)."""
    design = fit.design
    deviance = VarianceDeviance(design, fit.devfun().system)  # the fit's own cross-products
    estimates = sdcor_from_theta(design, fit.theta, fit.sigma)
    lower, upper = sdcor_bounds(design)
    scale = np.where(np.isinf(upper), np.maximum(np.abs(estimates), 1e-3 * fit.sigma), 1.0)
    others = np.arange(estimates.size) != index

    def optimum(value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        def restricted(sub: np.ndarray) -> float:
            full = estimates.copy()
            full[index], full[others] = value, sub
            return deviance(full)

        if not others.any():
            return restricted(np.zeros(0)), np.zeros(0)
        return _swap(_bobyqa_bounded(restricted, start, lower[others], upper[others], scale[others]))

    return Profile(estimate=float(estimates[index]), base=fit.objective, optimum=optimum, start=estimates[others])


def _swap(pair: tuple[np.ndarray, float]) -> tuple[float, np.ndarray]:
    return pair[1], pair[0]


def fixed_effect_profile(fit, index: int) -> Profile:
    """Profile of β_j: X_j β_j moves into the offset and θ is refitted by ML for each value (lme4's way).

    The cross-products without X_j are built once; each value only re-aims them at the response
    y - (offset + X_j β_j) (`PlsSystem.with_response`, whose system here has a zero offset, so the
    shifted response is formed exactly as a system built with that offset would form it).
    """
    design = fit.design
    column = design.X[:, index]
    reduced = without_fixed_column(design, index, offset=np.zeros(design.n))
    system = build_system(reduced)
    settings = OptimizerSettings(ftol_abs=1e-10, xtol_rel=1e-8)

    def optimum(value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        criterion = ProfiledCriterion(system.with_response(design.y - (design.offset + column * value)), reml=False)
        result = minimize_criterion(criterion, start, design.theta_lower, settings)
        return result.value, result.theta

    return Profile(estimate=float(fit.beta[index]), base=fit.objective, optimum=optimum,
                   start=np.asarray(fit.theta, dtype=float))


def profile_interval(profile: Profile, z: float, first_step: float, lower: float, upper: float) -> tuple[float, float]:
    """(lower, upper) where ζ crosses −z and +z, clipped to the parameter's bounds."""
    low = profile.crossing(-z, first_step, lower)
    high = profile.crossing(z, first_step, upper)
    if profile.lower_deviance < profile.base - DEVIANCE_TOL:
        raise BayesmixedError(
            f"profiling found a deviance {profile.base - profile.lower_deviance:.3g} below the fit's: the fit had "
            "not reached its optimum; refit (e.g. from a different start) before computing intervals"
        )
    return low, high


# BOBYQA's rules for the GLMM profiles' inner optimisations: the engine's own for the profiled criterion.
GLMM_PROFILE_TOLERANCES = {"ftol_abs": 1e-9, "xtol_rel": 1e-7}
GLMM_PROFILE_STEP = 0.1


def profiles_beta_out(fit) -> bool:
    """Laplace fits whose PIRLS is Newton's method (canonical link, or NB's observed information) profile
    over the Laplace deviance with β profiled out; the others (AGQ, probit, cloglog) over (θ, β) jointly,
    as lme4 does for every glmer fit."""
    return fit.nagq == 1 and fit.family.newton_weights


def _glmm_deviance(deviance, theta: np.ndarray, rest: np.ndarray, beta_free: bool) -> float:
    """The fit's criterion at θ and `rest` = (β, log φ) (beta_free) or (log φ) (β profiled out);
    INFEASIBLE where the modes cannot be found."""
    params = np.concatenate([theta, rest])
    try:
        return min(deviance.stage2(params) if beta_free else deviance.profiled(params), INFEASIBLE)
    except ProfileFailure:
        return INFEASIBLE


def _minimise_nuisance(criterion: Callable[[np.ndarray], float], start: np.ndarray, lower: np.ndarray) -> tuple[float, np.ndarray]:
    """min over the nuisance parameters (θ and log φ, or what is left of them) by BOBYQA."""
    if start.size == 0:
        return criterion(start), start
    run = bobyqa_run(criterion, start, lower, initial_step=GLMM_PROFILE_STEP, max_evals=20_000,
                     **GLMM_PROFILE_TOLERANCES)
    return run.value, run.x


def glmm_variance_profile(fit, index: int) -> Profile:
    """Profile of the index-th random-effect sd/cor of a GLMM: the criterion (profiles_beta_out) minimised
    over the other sds/cors, β where it is not profiled out, and the NB dispersion's log, by BOBYQA."""
    design = fit.design
    deviance = fit.devfun()
    beta_free = not profiles_beta_out(fit)
    estimates = sdcor_from_theta(design, fit.theta, 1.0)[:-1]
    lower, upper = (bound[:-1] for bound in sdcor_bounds(design))
    others = np.arange(estimates.size) != index
    n_others = int(others.sum())
    n_free = (design.p if beta_free else 0) + deviance.n_dispersion
    sd_scale = np.where(np.isinf(upper), np.maximum(np.abs(estimates), 1e-3), 1.0)[others]
    beta_scale = np.asarray(fit.se, dtype=float) if beta_free else np.zeros(0)
    scale = np.concatenate([sd_scale, beta_scale, np.ones(deviance.n_dispersion)])
    nuisance_lower = np.concatenate([lower[others], np.full(n_free, -np.inf)])
    nuisance_upper = np.concatenate([upper[others], np.full(n_free, np.inf)])

    def criterion(value: float, nuisance: np.ndarray) -> float:
        sdcor = estimates.copy()
        sdcor[index], sdcor[others] = value, nuisance[:n_others]
        try:
            theta = theta_from_sdcor(design, np.append(sdcor, 1.0))
        except ValueError:
            return INFEASIBLE
        return _glmm_deviance(deviance, theta, nuisance[n_others:], beta_free)

    def optimum(value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        if start.size == 0:
            return criterion(value, start), start
        return _swap(_bobyqa_bounded(lambda nuisance: criterion(value, nuisance), start, nuisance_lower,
                                     nuisance_upper, scale))

    start = np.concatenate([estimates[others], fit.beta if beta_free else np.zeros(0), deviance.log_dispersion])
    return Profile(estimate=float(estimates[index]), base=fit.objective, optimum=optimum, start=start)


def glmm_fixed_effect_profile(fit, index: int) -> Profile:
    """Profile of β_j of a GLMM.  β profiled out (profiles_beta_out): X_j β_j moves into the offset and the
    reduced model's Laplace deviance is minimised over θ (and the NB dispersion's log) for each value;
    otherwise the criterion over (θ, β) is minimised over θ and the other β's with β_j fixed."""
    if not profiles_beta_out(fit):
        return _joint_fixed_effect_profile(fit, index)
    design = fit.design
    column = design.X[:, index]
    reduced = without_fixed_column(design, index)
    deviance = fit.devfun()
    deviance.beta = np.delete(deviance.beta, index)
    base_problem = dataclasses.replace(deviance.problem, design=reduced, X=np.ascontiguousarray(reduced.X))
    lower = np.concatenate([design.theta_lower, np.full(deviance.n_dispersion, -np.inf)])
    deviance.problem = base_problem

    def optimum(value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        # every value shares one problem but its own offset; the dispersion is carried in the arguments
        deviance.problem = dataclasses.replace(deviance.problem, offset=base_problem.offset + column * value)
        return _minimise_nuisance(lambda nuisance: _glmm_deviance(deviance, nuisance, np.zeros(0), False), start, lower)

    start = np.concatenate([fit.theta, deviance.log_dispersion])
    return Profile(estimate=float(fit.beta[index]), base=fit.objective, optimum=optimum, start=start)


def _joint_fixed_effect_profile(fit, index: int) -> Profile:
    """β_j's profile over the (θ, β[, log φ]) criterion: θ, the other β's and log φ minimised by BOBYQA."""
    design = fit.design
    deviance = fit.devfun()
    n_theta, n_dispersion = design.n_theta, deviance.n_dispersion
    others = np.arange(design.p) != index
    se = np.asarray(fit.se, dtype=float)
    scale = np.concatenate([np.maximum(np.abs(fit.theta), 0.1), se[others], np.ones(n_dispersion)])
    lower = np.concatenate([design.theta_lower, np.full(design.p - 1 + n_dispersion, -np.inf)])
    upper = np.full(lower.size, np.inf)

    def criterion(value: float, nuisance: np.ndarray) -> float:
        beta = np.empty(design.p)
        beta[index], beta[others] = value, nuisance[n_theta:n_theta + design.p - 1]
        return _glmm_deviance(deviance, nuisance[:n_theta], np.concatenate([beta, nuisance[n_theta + design.p - 1:]]),
                              True)

    def optimum(value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        return _swap(_bobyqa_bounded(lambda nuisance: criterion(value, nuisance), start, lower, upper, scale))

    start = np.concatenate([fit.theta, fit.beta[others], deviance.log_dispersion])
    return Profile(estimate=float(fit.beta[index]), base=fit.objective, optimum=optimum, start=start)

"""The profiled ML deviance and REML criterion as functions of θ alone (β and σ profiled out)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..blocked_factor import BlockedFactor, criterion_terms
from .system import PlsSystem

LOG_2PI = math.log(2.0 * math.pi)


def profiled_objective(factor: BlockedFactor, reml: bool) -> float:
    """ML: log|L_θ|² + n(1 + log(2πr²/n)); REML: log|L_θ|² + log|R_X|² + (n-p)(1 + log(2πr²/(n-p)))."""
    system = factor.system
    return objective_from_terms(factor.logdet_random, factor.logdet_fixed, factor.pwrss, system.n, system.p, reml)


def objective_from_terms(logdet_random: float, logdet_fixed: float, pwrss: float, n: int, p: int, reml: bool) -> float:
    """profiled_objective from the factor's scalars."""
    if reml:
        dof = n - p
        return logdet_random + logdet_fixed + dof * (1.0 + LOG_2PI + math.log(pwrss / dof))
    return logdet_random + n * (1.0 + LOG_2PI + math.log(pwrss / n))


def residual_sd(factor: BlockedFactor, reml: bool) -> float:
    """σ̂ = sqrt(r² / (n - p)) under REML, sqrt(r² / n) under ML."""
    n, p = factor.system.n, factor.system.p
    return math.sqrt(factor.pwrss / (n - p if reml else n))


def unprofiled_deviance(factor: BlockedFactor, sigma: float, reml: bool) -> float:
    """-2 log L at (θ, σ) with β at its optimum (lmerTest's devfun_vp).

    ML: log|L_θ|² + r²/σ² + n log(2πσ²); REML adds log|R_X|² - p log(2πσ²).
    """
    system = factor.system
    return deviance_from_terms(
        factor.logdet_random, factor.logdet_fixed, factor.pwrss, system.n, system.p, sigma, reml
    )


def deviance_from_terms(
    logdet_random: float, logdet_fixed: float, pwrss: float, n: int, p: int, sigma: float, reml: bool
) -> float:
    """unprofiled_deviance from the factor's scalars (so callers can keep those and drop the factor)."""
    log_var = LOG_2PI + 2.0 * math.log(sigma)
    deviance = logdet_random + pwrss / sigma**2 + n * log_var
    if reml:
        deviance += logdet_fixed - p * log_var
    return deviance


@dataclass(frozen=True, eq=False)
class ProfiledCriterion:
    """θ -> the profiled ML deviance or REML criterion of one design (the function BOBYQA minimises)."""

    system: PlsSystem
    reml: bool

    def __call__(self, theta: np.ndarray) -> float:
        system = self.system
        return objective_from_terms(*criterion_terms(system, theta), system.n, system.p, self.reml)

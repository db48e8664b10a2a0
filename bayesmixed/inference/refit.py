"""Refitting a fitted model to a new response: the step the parametric bootstrap repeats thousands of times.

A refit keeps the design's X and Z, replaces y, and minimises the same profiled criterion with BOBYQA
from a warm start (the observed θ̂, or a better point the caller knows), skipping the derivative
checks and the fit object a user-facing fit builds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..design.types import Design
from ..engines.lmm.conditional import conditional_modes
from ..engines.lmm.factor import factorize
from ..engines.lmm.objective import ProfiledCriterion, residual_sd
from ..engines.lmm.optimize import OptimizerSettings, minimize_criterion
from ..engines.lmm.system import PlsSystem, build_system
from ..errors import BayesmixedError


class RefitFailure(RuntimeError):
    """A bootstrap refit that did not reach an optimum; it is counted, not fatal."""


@dataclass(frozen=True, eq=False)
class Refit:
    """The optimum of one refit: the criterion's value there (−2ℓ for ML, REML's criterion for REML) and θ."""

    design: Design
    system: PlsSystem
    objective: float
    theta: np.ndarray


@dataclass(frozen=True, eq=False)
class LmmResponseModel:
    """A linear mixed model's design and criterion, ready to be refitted to simulated responses."""

    design: Design
    reml: bool
    settings: OptimizerSettings = OptimizerSettings()

    @classmethod
    def of(cls, fit: Any) -> "LmmResponseModel":
        if not hasattr(fit, "theta") or getattr(fit.design, "family", None) != "gaussian":
            raise BayesmixedError(
                "parametric bootstrap refits are implemented for linear mixed models (REML/ML fits of a Gaussian "
                f"response); got {type(fit).__name__} of family {getattr(fit.design, 'family', '?')}"
            )
        return cls(fit.design, bool(fit.reml))

    def refit(self, y: np.ndarray, starts: Sequence[np.ndarray]) -> Refit:
        """Minimise the criterion for response y, starting BOBYQA from the best of `starts`."""
        design = dataclasses.replace(self.design, y=np.asarray(y, dtype=float))
        system = build_system(design)
        criterion = ProfiledCriterion(system, self.reml)
        lower = design.theta_lower
        candidates = [np.clip(np.asarray(start, dtype=float), lower, None) for start in starts]
        start = min(candidates, key=criterion)
        optimum = minimize_criterion(criterion, start, lower, self.settings)
        if optimum.reached_limit or not np.isfinite(optimum.value):
            raise RefitFailure(f"refit stopped without converging ({optimum.status})")
        return Refit(design, system, optimum.value, optimum.theta)

    def estimates(self, refit: Refit) -> tuple[float, np.ndarray]:
        """σ̂ and β̂ at a refit's θ."""
        factor = factorize(refit.system, refit.theta)
        beta, _ = conditional_modes(factor, refit.design)
        return residual_sd(factor, self.reml), beta

"""Refitting a fitted model to a new response: the step the parametric bootstrap repeats thousands of times.

A refit keeps the design's X and Z, replaces y, and minimises the same criterion from a warm start (the
observed estimates, or a better point the caller knows).  Linear mixed models are refitted here by
BOBYQA on the profiled criterion, with the fit's cross-products re-aimed at the new y
(`PlsSystem.with_response`) and without the derivative checks and the fit object a user-facing fit
builds; GLMMs through their fit's own `refit(y, start)`.
A start is {"theta": θ, "fixef": β} (lme4's names; β is profiled out for linear mixed models).
Inference sees both through one interface, `ResponseModel`: refit(y, starts), the refit's fixed effects,
and its parameters on lme4's profiling scale (sds and correlations, σ where the family has one, β).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..design.types import Design
from ..engines.lmm.conditional import conditional_modes
from ..engines.blocked_factor import factorize
from ..engines.lmm.objective import ProfiledCriterion, residual_sd
from ..engines.lmm.optimize import OptimizerSettings, minimize_criterion
from ..engines.lmm.system import PlsSystem
from ..errors import BayesmixedError
from ..families import get_family
from .parameters import sdcor_from_theta


# BOBYQA's first step for a warm start, relative to θ (see OptimizerSettings): the refit starts near
# its optimum, and NLopt's default first step (of the order of θ itself) spends evaluations far from
# it.  On sleepstudy's bootstrap this cuts evaluations per refit from ~44 to ~30 and stops closer to
# the optimum (within ~1e-10 relative of a full fit's criterion, was ~1e-8).
WARM_START_STEP = 0.1


class ResponseModel(Protocol):
    """A fitted model ready to be refitted to simulated responses (the bootstrap's and profiles' one view of a fit)."""

    design: Design
    uses_fixef_start: bool

    def refit(self, y: np.ndarray, starts: Sequence[dict[str, np.ndarray]]) -> Any:
        """The optimum for response y from the best of `starts` (RefitFailure when it is not reached)."""

    def fixef(self, refit: Any) -> np.ndarray:
        """β̂ of a refit."""

    @property
    def n_parameters(self) -> int:
        """Length of `parameters`."""

    def parameters(self, refit: Any) -> np.ndarray:
        """A refit's sds and correlations, σ (Gaussian only) and β, in confint's row order."""


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
    """A linear mixed model's design and cross-products, ready to be refitted to simulated responses."""

    design: Design
    reml: bool
    system: PlsSystem
    settings: OptimizerSettings = OptimizerSettings(relative_initial_step=WARM_START_STEP)
    uses_fixef_start = False  # β is profiled out of the criterion

    def refit(self, y: np.ndarray, starts: Sequence[dict[str, np.ndarray]]) -> Refit:
        """Minimise the criterion for response y, starting BOBYQA from the best of `starts`."""
        design = dataclasses.replace(self.design, y=np.asarray(y, dtype=float))
        system = self.system.with_response(design.y)
        criterion = ProfiledCriterion(system, self.reml)
        lower = design.theta_lower
        candidates = [np.clip(np.asarray(start["theta"], dtype=float), lower, None) for start in starts]
        start = min(candidates, key=criterion)
        optimum = minimize_criterion(criterion, start, lower, self.settings)
        if optimum.reached_limit or not np.isfinite(optimum.value):
            raise RefitFailure(f"refit stopped without converging ({optimum.status})")
        return Refit(design, system, optimum.value, optimum.theta)

    def fixef(self, refit: Refit) -> np.ndarray:
        return self.estimates(refit)[1]

    @property
    def n_parameters(self) -> int:
        return self.design.n_theta + 1 + self.design.p

    def parameters(self, refit: Refit) -> np.ndarray:
        sigma, beta = self.estimates(refit)
        return np.concatenate([sdcor_from_theta(refit.design, refit.theta, sigma), beta])

    def estimates(self, refit: Refit) -> tuple[float, np.ndarray]:
        """σ̂ and β̂ at a refit's θ."""
        factor = factorize(refit.system, refit.theta)
        beta, _ = conditional_modes(factor, refit.design)
        return residual_sd(factor, self.reml), beta


@dataclass(frozen=True, eq=False)
class GlmmResponseModel:
    """A GLMM refitted to simulated responses through its fit's `refit(y, start)` (PIRLS, Laplace/AGQ)."""

    fit: Any
    uses_fixef_start = True

    @property
    def design(self) -> Design:
        return self.fit.design

    def refit(self, y: np.ndarray, starts: Sequence[dict[str, np.ndarray]]) -> Any:
        """The best (lowest deviance) of the refits from each start; RefitFailure when none converged."""
        refits = [self.fit.refit(y, start=dict(start)) for start in starts]
        converged = [refit for refit in refits if refit.converged and np.isfinite(refit.objective)]
        if not converged:
            raise RefitFailure("GLMM refit did not converge: " + "; ".join(refits[0].messages))
        return min(converged, key=lambda refit: refit.objective)

    def fixef(self, refit: Any) -> np.ndarray:
        return np.asarray(refit.beta, dtype=float)

    @property
    def n_parameters(self) -> int:
        return self.design.n_theta + self.design.p

    def parameters(self, refit: Any) -> np.ndarray:
        """sds and correlations of the random effects (no σ) and β."""
        return np.concatenate([sdcor_from_theta(self.design, refit.theta, 1.0)[:-1], self.fixef(refit)])


def response_model(fit: Any) -> ResponseModel:
    """How to refit `fit` to a new response: the LMM fast path, or the GLMM fit's own refit."""
    if get_family(fit.design.family).profiled_scale and not fit.is_bayes:
        return LmmResponseModel(fit.design, bool(fit.reml), fit.devfun().system)
    if callable(getattr(fit, "refit", None)):
        return GlmmResponseModel(fit)
    raise BayesmixedError(f"cannot refit a {type(fit).__name__} to simulated responses (it has no refit method)")


def start_of(fit: Any) -> dict[str, np.ndarray]:
    """A fit's estimates as a refit's start."""
    return {"theta": np.asarray(fit.theta, dtype=float), "fixef": np.asarray(fit.fixef, dtype=float)}


def embed_fixef(small: Design, big: Design, beta_small: np.ndarray) -> np.ndarray:
    """β of `big` equal to `small`'s β on the columns they share (by name) and 0 on the others."""
    by_name = dict(zip(small.fixef_names, beta_small))
    return np.array([by_name.get(name, 0.0) for name in big.fixef_names])

"""Confidence intervals for a frequentist fit: profile likelihood, parametric bootstrap, Wald (lme4's confint).

Rows are lme4's: the random-effect sds and correlations (.sig01, .sig02, ...), σ (.sigma), then the
fixed effects; `old_names=False` gives lme4's descriptive names (sd_(Intercept)|Subject, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..engines.threads import engine_threads
from ..errors import BayesmixedError
from ..families import get_family
from .bootstrap import run_replicates
from .fits import is_reml, ml_version, require_frequentist
from .parameters import sdcor_bounds, sdcor_from_theta, sdcor_names
from .profile import (fixed_effect_profile, glmm_fixed_effect_profile, glmm_variance_profile, profile_interval,
                      variance_profile)
from .refit import LmmResponseModel, ResponseModel, response_model, start_of
from .table import NotedFrame

METHODS = ("profile", "boot", "wald")
# First step of the profile search, as a fraction of an sd's estimate, or in a correlation's units.
SD_FIRST_STEP = 0.25
CORRELATION_FIRST_STEP = 0.1
# A GLMM sd estimated at 0 takes its first profile step on this link-scale sd.
GLMM_SD_SCALE = 0.5


def _column_names(level: float) -> list[str]:
    tail = 100 * (1 - level) / 2
    return [f"{tail:.3g} %", f"{100 - tail:.3g} %"]


def _selected(names: list[str], old: list[str], parm: str | Sequence[str] | None, n_variance: int) -> list[int]:
    """Row positions asked for: all (None), lme4's "theta_" (variance parameters) or "beta_", or names."""
    if parm is None:
        return list(range(len(names)))
    if isinstance(parm, str):
        if parm == "theta_":
            return list(range(n_variance))
        if parm == "beta_":
            return list(range(n_variance, len(names)))
        parm = [parm]
    positions = []
    for name in parm:
        if name in old:
            positions.append(old.index(name))
        elif name in names:
            positions.append(names.index(name))
        else:
            raise BayesmixedError(f"unknown parameter {name!r}; the fit's are {', '.join(old)} (or {', '.join(names)})")
    return positions


def confint(fit: Any, parm: str | Sequence[str] | None = None, level: float = 0.95, method: str = "profile",
            n_boot: int = 500, seed: int | None = None, n_jobs: int | None = 1, progress: bool | None = None,
            old_names: bool = True) -> NotedFrame:
    """Confidence intervals of the sds, correlations, σ (Gaussian only) and β of a linear or generalised
    linear mixed model.

    method "profile": {φ : |ζ(φ)| <= z}, ζ the signed root of the ML (GLMM: Laplace) deviance's rise (lme4's profile);
    "boot": percentile intervals of n_boot parametric-bootstrap refits (the fit's own criterion);
    "wald": β̂ ± z·se(β̂) for the fixed effects (NaN for the variance parameters, as lme4).
    """
    require_frequentist([fit], "confint")
    key = method.lower()
    if key not in METHODS:
        raise BayesmixedError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not 0 < level < 1:
        raise BayesmixedError(f"level must be between 0 and 1; got {level}")
    design = fit.design
    n_variance = design.n_theta + int(get_family(design.family).profiled_scale)  # σ only where the family has one
    old = sdcor_names(design, old_names=True)[:n_variance] + list(design.fixef_names)
    new = sdcor_names(design, old_names=False)[:n_variance] + list(design.fixef_names)
    rows = _selected(new, old, parm, n_variance)
    z = float(stats.norm.ppf(0.5 + level / 2))
    notes: list[str] = []
    if key == "wald":
        bounds = _wald(fit, rows, n_variance, z)
        if any(row < n_variance for row in rows):
            notes.append("Wald intervals are given for fixed effects only: a variance's sampling distribution is "
                         "skewed and bounded at 0 (use method='profile' or 'boot')")
    elif key == "profile":
        if isinstance(response_model(fit), LmmResponseModel):
            if is_reml(fit):
                notes.append("profile intervals use the ML deviance, as lme4's do: the REML fit was refitted by ML")
            fit, builders, sd_scale = ml_version(fit), (variance_profile, fixed_effect_profile), None
        else:
            builders, sd_scale = (glmm_variance_profile, glmm_fixed_effect_profile), GLMM_SD_SCALE
        with engine_threads():  # the engines' rule: their factorizations on one BLAS thread
            bounds = _profile(fit, rows, n_variance, z, builders, sd_scale)
        if np.isnan(bounds).any():
            notes.append("NaN: the profile stayed below the cut-off however far it went (a flat likelihood, e.g. "
                         "a variance with very few groups); that side of the interval is unbounded in practice")
    else:
        bounds, boot_notes = _bootstrap(fit, rows, level, n_boot, seed, n_jobs, progress)
        notes.extend(boot_notes)
    labels = old if old_names else new
    table = pd.DataFrame(bounds, index=pd.Index([labels[row] for row in rows]), columns=_column_names(level))
    return NotedFrame.with_notes(table, notes)


def _wald(fit: Any, rows: list[int], n_variance: int, z: float) -> np.ndarray:
    beta = np.asarray(fit.fixef, dtype=float)
    se = np.asarray(fit.se, dtype=float)
    bounds = np.full((len(rows), 2), np.nan)
    for i, row in enumerate(rows):
        if row >= n_variance:
            j = row - n_variance
            bounds[i] = beta[j] - z * se[j], beta[j] + z * se[j]
    return bounds


def _profile(fit: Any, rows: list[int], n_variance: int, z: float, builders: tuple[Any, Any],
             sd_scale: float | None) -> np.ndarray:
    """Profile intervals of the rows asked for; `builders` make the variance and fixed-effect profiles,
    `sd_scale` is the first step's scale for an sd estimated at 0 (σ where the model has one)."""
    design = fit.design
    variance_builder, fixed_builder = builders
    lower, upper = sdcor_bounds(design)
    estimates = sdcor_from_theta(design, fit.theta, fit.sigma)
    sd_scale = fit.sigma if sd_scale is None else sd_scale
    correlation = np.isfinite(upper)
    se = np.asarray(fit.se, dtype=float)
    bounds = np.empty((len(rows), 2))
    for i, row in enumerate(rows):
        if row < n_variance:
            profile = variance_builder(fit, row)
            if correlation[row]:
                step = CORRELATION_FIRST_STEP
            else:
                step = SD_FIRST_STEP * (estimates[row] if estimates[row] > 0 else sd_scale)
            bounds[i] = profile_interval(profile, z, step, lower[row], upper[row])
        else:
            j = row - n_variance
            bounds[i] = profile_interval(fixed_builder(fit, j), z, z * se[j], -np.inf, np.inf)
    return bounds


@dataclass(frozen=True, eq=False)
class ParameterReplicate:
    """One parametric-bootstrap replicate: y simulated from the fit, refitted, (sd/cor, σ, β) returned."""

    fit: Any
    model: ResponseModel

    @cached_property
    def _start(self) -> dict[str, np.ndarray]:
        return start_of(self.fit)

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        y = self.fit.simulate(1, seed=rng)[0]
        return self.model.parameters(self.model.refit(y, [self._start]))


def bootstrap_parameters(fit: Any, n_boot: int, seed: int | None, n_jobs: int | None,
                         progress: bool | None) -> tuple[np.ndarray, list[str]]:
    """(successful replicates x [sd/cor..., σ, β...]) from parametric-bootstrap refits, and notes on them."""
    model = response_model(fit)
    size = model.n_parameters
    run = run_replicates(ParameterReplicate(fit, model), n_boot, size, seed, n_jobs, progress, "bootstrap intervals")
    ok = run.values[np.isfinite(run.values).all(axis=1)]
    if ok.shape[0] == 0:
        raise BayesmixedError(f"every bootstrap refit failed; first reason: {run.failures[0]}")
    notes = [f"percentile intervals from {ok.shape[0]} parametric-bootstrap {fit.method} refits"]
    if run.n_failed:
        notes.append(f"{run.n_failed} of {n_boot} refits failed and were left out (first: {run.failures[0]})")
    return ok, notes


def _bootstrap(fit: Any, rows: list[int], level: float, n_boot: int, seed: int | None, n_jobs: int | None,
               progress: bool | None) -> tuple[np.ndarray, list[str]]:
    draws, notes = bootstrap_parameters(fit, n_boot, seed, n_jobs, progress)
    tail = (1 - level) / 2
    return np.quantile(draws[:, rows], [tail, 1 - tail], axis=0).T, notes

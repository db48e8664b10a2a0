"""`LmmFit`: a linear mixed model fitted by REML or ML (the frequentist Gaussian engine's result)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from ..design.types import Design
from ..errors import BayesmixedError
from .base import MixedFit
from .summary import P_VALUE_CAUTION, FitSummary, criterion_lines, groups_line, weights_line

if TYPE_CHECKING:
    from ..engines.lmm.convergence import ConvergenceReport
    from ..engines.blocked_factor import BlockedFactor
    from ..engines.lmm.fit import LmmEngine
    from ..engines.lmm.objective import ProfiledCriterion
    from ..engines.lmm.satterthwaite import Satterthwaite


@dataclass(frozen=True, eq=False)
class LmmFit(MixedFit):
    """y ~ N(Xβ + Zγ, σ²I), γ ~ N(0, σ²ΛΛ'), fitted by REML (`reml=True`) or ML.

    objective is lme4's REMLcrit() (REML) or deviance() = -2 log L (ML); theta is in lme4's order;
    effects holds the conditional modes E(γ | y) per term as (levels, columns).
    """

    design: Design
    reml: bool
    theta: np.ndarray
    sigma: float
    beta: np.ndarray
    effects: tuple[np.ndarray, ...]
    objective: float
    factor: "BlockedFactor"
    n_evals: int
    optimizer_status: str
    convergence: "ConvergenceReport"
    is_singular: bool
    messages: tuple[str, ...]
    # the engine's refit, criterion, condVar and Satterthwaite routines, handed over by fit_lmm (results/ imports no engine)
    engine: "LmmEngine"

    # --- estimates -------------------------------------------------------------------------------
    @property
    def method(self) -> str:
        return "REML" if self.reml else "ML"

    @property
    def converged(self) -> bool:
        """False when lme4's gradient/Hessian checks fail or the optimiser ran out of evaluations."""
        return self.convergence.converged

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance of β̂: σ² (R_X R_X')⁻¹."""
        names = list(self.design.fixef_names)
        return pd.DataFrame(self.sigma**2 * self.factor.unscaled_vcov(), index=names, columns=names)

    @property
    def covariance_blocks(self) -> list[np.ndarray]:
        """Per term, σ² Λ_t Λ_t': the covariance of one level's random effects."""
        return self.design.covariance_blocks(self.theta, self.sigma)

    @property
    def residual_sd(self) -> float:
        return self.sigma

    def pearson_scale(self, fitted: np.ndarray) -> np.ndarray | float:
        """Standard deviation of y given the fit: σ/√wᵢ with prior weights, σ without."""
        weights = self.design.weights
        return self.sigma if weights is None else self.sigma / np.sqrt(weights)

    def devfun(self, reml: bool | None = None) -> "ProfiledCriterion":
        """The objective as a function of θ (lme4's mkLmerDevfun) on this fit's cross-products: the profiled REML
        criterion (reml=True) or ML deviance -2 log L (reml=False), β and σ profiled out; default: the fit's own.
        `.system` holds the cross-products, ready to be re-aimed at a new response (`with_response`)."""
        return self.engine.criterion(self.factor.system, self.reml if reml is None else bool(reml))

    def refit(self, y: np.ndarray | None = None, start: dict[str, np.ndarray] | None = None, *,
              reml: bool | None = None, check_derivatives: bool = False) -> "LmmFit":
        """The same model fitted to a new response `y` (None: the same data), by REML or ML (`reml`, default
        the fit's own), warm-started from this fit's θ (or start["theta"]); lme4's gradient checks run only when
        asked for (check_derivatives=True), as for GlmmFit.refit."""
        design = self.design
        if y is not None:
            y = np.asarray(y, dtype=float)
            if y.shape != (design.n,):
                raise BayesmixedError(f"refit needs one response value per row ({design.n}), got shape {y.shape}")
            design = dataclasses.replace(design, y=y)
        theta = self.theta if start is None else start["theta"]
        return self.engine.fit(design, self.reml if reml is None else bool(reml), np.asarray(theta, dtype=float),
                               check_derivatives)

    @cached_property
    def null_model_mean(self) -> float:
        """β₀ of the intercept-only model with the same random effects, fitted by ML (the contract's null model;
        a Gaussian's σ²_d needs none)."""
        return float(self.engine.fit(self.design.intercept_only(), False, self.theta, False).beta[0])

    @cached_property
    def conditional_covariances(self) -> list[np.ndarray]:
        """lme4's condVar per term, (levels, columns, columns): blocks of σ² Λ(Λ'Z'ZΛ + I)⁻¹Λ'."""
        return self.engine.conditional_covariances(self.factor, self.design, self.sigma)

    # --- likelihood-based numbers ----------------------------------------------------------------
    @property
    def npar(self) -> int:
        """Parameters counted by lme4: p fixed effects, the θ's, and σ."""
        return self.design.p + self.design.n_theta + 1

    # --- inference for β -------------------------------------------------------------------------
    @cached_property
    def satterthwaite(self) -> "Satterthwaite":
        """lmerTest's ingredients for Satterthwaite df: vcov of (θ, σ) and ∂vcov(β)/∂(θ, σ)."""
        return self.engine.satterthwaite(self.factor.system, self.theta, self.sigma, self.reml)

    @property
    def coefficients(self) -> pd.DataFrame:
        """Estimate, Std. Error, df (Satterthwaite), t value and Pr(>|t|) per fixed effect."""
        se = self.se.to_numpy()
        t = self.beta / se
        df = self.satterthwaite.coefficient_df()
        return pd.DataFrame(
            {"Estimate": self.beta, "Std. Error": se, "df": df, "t value": t, "Pr(>|t|)": 2 * stats.t.sf(np.abs(t), df)},
            index=list(self.design.fixef_names),
        )

    # --- simulation ------------------------------------------------------------------------------
    def simulate(self, n: int = 1, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """(n, nobs) responses drawn from the fitted model: Xβ + offset + Zγ + ε, γ ~ N(0, σ²ΛΛ'),
        ε ~ N(0, σ²W⁻¹) (W: the prior weights)."""
        rng = np.random.default_rng(seed)
        design = self.design
        mean = design.X @ self.beta + design.offset
        draws = mean[None, :] + self.pearson_scale(mean) * rng.standard_normal((n, design.n))
        # u drawn term by term (the order a seed's stream has always been used in), γ = σΛu
        spherical = np.concatenate([rng.standard_normal((n, term.size)) for term in design.terms], axis=1)
        effects = design.random_effects_from_spherical(self.theta, self.sigma * spherical)  # (n, levels, columns)
        for term, term_effects in zip(design.terms, effects):
            draws += np.einsum("ic,sic->si", term.matrix, term_effects[:, term.codes, :])
        return draws

    # --- printing --------------------------------------------------------------------------------
    def summary(self) -> FitSummary:
        """lme4's summary: criterion, scaled residuals, random effects, fixed effects with Satterthwaite
        df and p-values, fixed-effect correlations, and any warnings with advice."""
        title = (
            "Linear mixed model fit by REML ['LmmFit']" if self.reml
            else "Linear mixed model fit by maximum likelihood ['LmmFit']"
        )
        return FitSummary(
            title=title,
            formula=self.design.formula,
            criterion_lines=(
                *weights_line(self.design),
                *criterion_lines(self.reml, self.objective, self.aic, self.bic, self.loglik, self.df_resid),
            ),
            scaled_residuals=self.residuals(kind="pearson").to_numpy(),
            varcorr=self.varcorr,
            groups=groups_line(self.design),
            coefficients=self.coefficients,
            vcov=self.vcov,
            notes=(P_VALUE_CAUTION,),
            messages=self.messages,
        )

    def __repr__(self) -> str:
        lines = [
            f"LmmFit ({self.method}): {self.design.formula}",
            f"  {'REML criterion' if self.reml else 'deviance'}: {self.objective:.4f}   "
            f"logLik: {self.loglik:.4f}   sigma: {self.sigma:.4g}   nobs: {self.nobs}",
            "  fixed effects: " + ", ".join(f"{k} = {v:.4g}" for k, v in self.fixef.items()),
            "  theta: " + ", ".join(f"{k} = {v:.4g}" for k, v in zip(self.theta_names, self.theta)),
        ]
        lines += [f"  warning: {m}" for m in self.messages]
        return "\n".join(lines)

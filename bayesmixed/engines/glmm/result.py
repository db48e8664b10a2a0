"""`GlmmFit`: a binomial or Poisson mixed model fitted by maximum likelihood (Laplace or adaptive GHQ)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from ...design.types import Design
from ...errors import BayesmixedError
from ...results.base import MixedFit
from ...results.prediction import PredictionRows
from ...results.summary import FitSummary, criterion_lines, groups_line
from .checks import overdispersion, overdispersion_note
from .deviance import saturated_constant
from ...families import Family
from .pirls import Modes, Problem
from .deviance import DevianceFunction
from .vcov import Derivatives, derivatives_for, pirls_vcov

WALD_NOTE = (
    "Note: z tests (Wald) use the standard errors from the Hessian of the deviance, as glmer does; they are "
    "approximate, and a likelihood-ratio test (bm.anova) or parametric bootstrap (bm.bootstrap_lrt) is more reliable."
)


@dataclass(frozen=True, eq=False)
class GlmmFit(MixedFit):
    """g(E[y | b]) = Xβ + offset + Zb, b = Λ(θ)u, u ~ N(0, I), y | b binomial or Poisson, fitted by ML.

    objective is -2 log L with every normalising constant (glmer's -2 logLik for the Laplace
    approximation); theta is in lme4's order; u the spherical conditional modes, effects = Λu per term.
    """

    design: Design
    problem: Problem
    nagq: int
    theta: np.ndarray
    beta: np.ndarray
    u: np.ndarray
    effects: tuple[np.ndarray, ...]
    objective: float
    modes: Modes
    derivatives: Derivatives | None
    n_evals: int
    optimizer_status: str
    route: str
    converged: bool
    is_singular: bool
    messages: tuple[str, ...]
    refit_problem: Callable[..., GlmmFit]

    # --- description -----------------------------------------------------------------------------
    @property
    def family(self) -> Family:
        return self.problem.family

    @property
    def method(self) -> str:
        return "ML"

    @property
    def approximation(self) -> str:
        """"Laplace" or "adaptive Gauss-Hermite (nagq = k)"."""
        return "Laplace" if self.nagq == 1 else f"adaptive Gauss-Hermite (nagq = {self.nagq})"

    # --- estimates -------------------------------------------------------------------------------
    @property
    def covariance_blocks(self) -> list[np.ndarray]:
        """Per term, Λ_t Λ_t': the covariance of one level's random effects (no residual scale)."""
        return self.design.covariance_blocks(self.theta, 1.0)

    @property
    def residual_sd(self) -> None:
        return None

    @cached_property
    def vcov(self) -> pd.DataFrame:
        """Covariance of β̂ as glmer's vcov: 2 H⁻¹ over β, H the Hessian of the deviance over (θ, β);
        from the PIRLS factor (glmer's use.hessian = FALSE) when that Hessian is not positive definite."""
        names = list(self.design.fixef_names)
        derivatives = self.derivatives
        if derivatives is None:
            derivatives = derivatives_for(self.problem, self.nagq, self.theta, self.beta, self.u)
        matrix = derivatives.vcov
        if matrix is None:
            matrix = pirls_vcov(self.problem, self.theta, self.modes.eta)
        return pd.DataFrame(matrix, index=names, columns=names)

    @cached_property
    def conditional_covariances(self) -> list[np.ndarray]:
        """lme4's condVar per term, (levels, columns, columns): diagonal blocks of Λ(Λ'Z'WZΛ + I)⁻¹Λ' at the modes."""
        if self.modes.factor is None:
            raise BayesmixedError("PIRLS failed at the estimates, so the conditional variances are not available")
        return self.modes.factor.covariance_blocks()

    # --- likelihood-based numbers ----------------------------------------------------------------
    @property
    def npar(self) -> int:
        """Parameters counted by lme4: p fixed effects, the θ's, and the family's dispersion where it has one."""
        return self.design.p + self.design.n_theta + int(self.family.has_dispersion)

    @property
    def dispersion(self) -> float | None:
        """The family's estimated dispersion parameter (the negative binomial's θ, glmmTMB's sigma()); None without one."""
        return self.family.dispersion

    def devfun(self) -> DevianceFunction:
        """The objective as a function of the parameters (lme4's mkGlmerDevfun), warm-started at the estimates:
        `.stage2(θ, β[, log φ])` is the Laplace/AGQ deviance, `.profiled(θ[, log φ])` the Laplace deviance minimised over β."""
        return DevianceFunction(self.problem, self.nagq, self.u.copy(), self.beta.copy())

    @property
    def lme4_objective(self) -> float:
        """What glmer reports as -2 logLik: the objective for Laplace fits; for nagq > 1 lme4 leaves out
        the constant -2 Σ log p(y_i | μ_i = y_i), so its value is the objective minus that constant."""
        return self.objective if self.nagq == 1 else self.objective - saturated_constant(self.problem)

    @property
    def coefficients(self) -> pd.DataFrame:
        """Estimate, Std. Error, z value and Pr(>|z|) (Wald) per fixed effect."""
        se = self.se.to_numpy()
        z = self.beta / se
        return pd.DataFrame(
            {"Estimate": self.beta, "Std. Error": se, "z value": z, "Pr(>|z|)": 2 * special.ndtr(-np.abs(z))},
            index=list(self.design.fixef_names),
        )

    @property
    def overdispersion(self) -> dict[str, float] | None:
        """Poisson only: Pearson χ² of the conditional fit, its ratio to the residual df, and the p-value."""
        if not self.family.fixed_variance_counts:
            return None
        chi2, ratio, p = overdispersion(self.problem, self.modes.eta, self.df_resid)
        return {"chi2": chi2, "df": float(self.df_resid), "ratio": ratio, "p": p}

    # --- the family's pieces of the shared fitted values, residuals and predictions -------------
    @property
    def sigma(self) -> float:
        """1.0, as lme4's sigma() for binomial and Poisson fits (no residual scale)."""
        return 1.0

    @property
    def link_name(self) -> str:
        return self.family.link.name

    def inverse_link(self, eta: np.ndarray) -> np.ndarray:
        return self.family.link.inverse(eta)

    def pearson_scale(self, fitted: np.ndarray) -> np.ndarray:
        """sd of the response (as a proportion for the binomial) given its mean: sqrt(V(μ) / prior weight)."""
        return np.sqrt(self.family.variance(fitted) / self.problem.weights)

    def observed_response(self) -> np.ndarray:
        """The observed proportion (binomial) or count (Poisson)."""
        return self.problem.y

    def unit_deviance(self, y: np.ndarray, mu: np.ndarray) -> np.ndarray:
        return self.family.unit_deviance(y, mu, self.problem.weights)

    def draw_response(self, eta: np.ndarray, rows: PredictionRows, rng: np.random.Generator) -> np.ndarray:
        """Counts (Poisson) or observed proportions out of `trials` (binomial) given η (draws, rows)."""
        mu = self.inverse_link(eta)
        if not self.family.bounded_mean:
            return self.family.sample(mu, rows.trials, rng)
        return self.family.sample(mu, np.broadcast_to(rows.trials, mu.shape), rng) / rows.trials

    # --- simulation and refitting ----------------------------------------------------------------
    def simulate(self, n: int = 1, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """(n, nobs) responses drawn from the fitted model with new random effects u ~ N(0, I), in the
        design's form: successes out of the same trials (binomial) or counts (Poisson)."""
        rng = np.random.default_rng(seed)
        design = self.design
        draws = np.empty((n, design.n))
        fixed = design.X @ self.beta + design.offset
        for s in range(n):
            spherical = np.concatenate([rng.standard_normal(term.size) for term in design.terms])  # term by term
            eta = fixed.copy()
            for term, effects in zip(design.terms, design.random_effects_from_spherical(self.theta, spherical)):
                eta += np.einsum("ic,ic->i", term.matrix, effects[term.codes])
            draws[s] = self.family.sample(self.inverse_link(eta), self.problem.weights, rng)
        return draws

    def refit(self, y: np.ndarray, start: dict[str, Any] | None = None, check_derivatives: bool = False) -> "GlmmFit":
        """The same model fitted to a new response `y` (the design's form: successes or counts), warm-started
        from this fit's θ and β (or `start`): the parametric bootstrap's refit.  Standard errors are computed
        only when asked for (or with check_derivatives=True); messages are recorded, not warned."""
        y = np.asarray(y, dtype=float)
        if y.shape != (self.design.n,):
            raise BayesmixedError(f"refit needs one response value per row ({self.design.n}), got shape {y.shape}")
        start = start or {"theta": self.theta, "fixef": self.beta}
        # the engine's fit_problem, handed over by fit_glmm (results do not import the engine's driver)
        return self.refit_problem(self.design, self.family, y, self.nagq, start, check_derivatives, self.u, False)

    @cached_property
    def null_model_mean(self) -> float:
        """λ = g⁻¹(β₀) of the intercept-only model with the same random effects, refitted by ML (Laplace; insight's
        null_model): the mean in the distribution-specific variance of R² and the ICC for count families."""
        null = self.refit_problem(self.design.intercept_only(), self.family, None, 1, None, False, None, False)
        return float(self.inverse_link(null.beta[0]))

    # --- printing --------------------------------------------------------------------------------
    def summary(self) -> FitSummary:
        """glmer's summary: family and link, AIC/BIC/logLik/deviance, Pearson residuals, random effects,
        Wald z tests, fixed-effect correlations, the Poisson overdispersion check, and any warnings."""
        notes = [WALD_NOTE]
        dispersion = self.overdispersion
        if dispersion is not None:
            notes.append(overdispersion_note(dispersion["chi2"], dispersion["ratio"], dispersion["p"], self.df_resid))
        approximation = "Laplace Approximation" if self.nagq == 1 else f"Adaptive Gauss-Hermite Quadrature, nAGQ = {self.nagq}"
        return FitSummary(
            title=(f"Generalized linear mixed model fit by maximum likelihood ({approximation}) ['GlmmFit']\n"
                   f" Family: {self.family.describe()}"),
            formula=self.design.formula,
            criterion_lines=criterion_lines(False, self.objective, self.aic, self.bic, self.loglik, self.df_resid),
            scaled_residuals=self.residuals("pearson").to_numpy(),
            varcorr=self.varcorr,
            groups=groups_line(self.design),
            coefficients=self.coefficients,
            vcov=self.vcov,
            notes=tuple(notes),
            messages=self.messages,
        )

    def __repr__(self) -> str:
        lines = [
            f"GlmmFit (ML, {self.approximation}, {self.family.name} {self.family.link.name}): {self.design.formula}",
            f"  -2 logLik: {self.objective:.4f}   logLik: {self.loglik:.4f}   AIC: {self.aic:.4f}   nobs: {self.nobs}",
            "  fixed effects: " + ", ".join(f"{k} = {v:.4g}" for k, v in self.fixef.items()),
            "  theta: " + ", ".join(f"{k} = {v:.4g}" for k, v in zip(self.theta_names, self.theta)),
        ]
        lines += [f"  warning: {m}" for m in self.messages]
        return "\n".join(lines)


"""The frequentist fits' implementation of the shared fit contract (results.contract), REML/ML and GLMM.

A subclass provides the estimates - `objective`, `npar`, `beta`, `effects` (the random effects' modes per
term, levels x columns), `vcov` (of β̂, a DataFrame), `conditional_covariances` (per term, levels x k x k),
`covariance_blocks` (per term, the k x k covariance of γ for one level), `residual_sd` (None for
families without one), `method` and `messages` - and inherits se, varcorr, ranef and ranef_sd, fitted
values, residuals, predictions with intervals, the ICC and confint.  GLMMs override the family's pieces:
`link_name`, `inverse_link`, `pearson_scale`, `observed_response`, `unit_deviance` and `draw_response`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..design.types import Design
from ..errors import BayesmixedError
from ..families import Family, get_family
from .contract import check_residual_kind
from .icc import icc_frame, icc_scale, intercept_variances
from .prediction import (PredictionRows, check_prediction_options, interval_frame, interval_note, linear_predictor, prediction_rows,
                         rows_linear_predictor, simulated_effects, simulated_linear_predictors)
from .ranef import conditional_sds, ranef_frames
from .varcorr import varcorr_frame

if TYPE_CHECKING:
    from ..inference.fixed_anova import TermTests
    from .r2 import R2


class MixedFit:
    """Shared behaviour of fitted mixed models; see the module docstring for what subclasses supply."""

    design: Design

    beta: np.ndarray
    effects: tuple[np.ndarray, ...]

    @property
    def fixef(self) -> pd.Series:
        """β̂ named by the columns of X."""
        return pd.Series(self.beta, index=list(self.design.fixef_names), name="fixef")

    @property
    def theta_names(self) -> tuple[str, ...]:
        """lme4's names of θ's entries."""
        return self.design.theta_names

    @property
    def random_effects(self) -> Sequence[np.ndarray]:
        """The random effects' conditional modes per term, (levels, columns) each."""
        return self.effects

    @property
    def vcov(self) -> pd.DataFrame:
        raise NotImplementedError

    @property
    def se(self) -> pd.Series:
        """Standard errors of β̂: square roots of vcov's diagonal."""
        return pd.Series(np.sqrt(np.diag(self.vcov.to_numpy())), index=list(self.design.fixef_names), name="se")

    @property
    def conditional_covariances(self) -> list[np.ndarray]:
        raise NotImplementedError

    @property
    def ranef_sd(self) -> dict[str, pd.DataFrame]:
        """Conditional standard deviations of the random effects, laid out as `ranef`."""
        return ranef_frames(self.design.terms, conditional_sds(self.conditional_covariances))

    @property
    def covariance_blocks(self) -> list[np.ndarray]:
        raise NotImplementedError

    @property
    def residual_sd(self) -> float | None:
        raise NotImplementedError

    @property
    def nobs(self) -> int:
        return self.design.n

    @property
    def loglik(self) -> float:
        """-objective / 2 (the REML log-likelihood for REML fits, as lme4's logLik)."""
        return -0.5 * self.objective

    @property
    def aic(self) -> float:
        """objective + 2 npar."""
        return self.objective + 2 * self.npar

    @property
    def bic(self) -> float:
        """objective + npar log n."""
        return self.objective + self.npar * np.log(self.nobs)

    @property
    def df_resid(self) -> int:
        return self.nobs - self.npar

    @property
    def varcorr(self) -> pd.DataFrame:
        """lme4's as.data.frame(VarCorr(fit)): grp, var1, var2, vcov, sdcor; Residual last."""
        return varcorr_frame(self.design.terms, self.covariance_blocks, self.residual_sd)

    @property
    def ranef(self) -> dict[str, pd.DataFrame]:
        """{grouping factor: DataFrame levels x columns} of the random effects' estimates."""
        return ranef_frames(self.design.terms, self.random_effects)

    @property
    def is_bayes(self) -> bool:
        return False

    @property
    def kind(self) -> str:
        """"reml" or "ml"."""
        return self.method.lower()

    @property
    def family(self) -> Family:
        """The response distribution and link as a family object (bayesmixed.families)."""
        return get_family(self.design.family, self.link_name)

    @property
    def family_name(self) -> str:
        return self.design.family

    @property
    def link_name(self) -> str:
        return "identity"

    def inverse_link(self, eta: np.ndarray) -> np.ndarray:
        """Mean of the response given the linear predictor (identity for Gaussian models)."""
        return eta

    def pearson_scale(self, fitted: np.ndarray) -> np.ndarray | float:
        """Standard deviation of y given the fitted mean (σ for Gaussian models)."""
        return self.residual_sd

    def observed_response(self) -> np.ndarray:
        """y as the fitted means see it (the binomial's observed proportion)."""
        return self.design.y

    def unit_deviance(self, y: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """Squared deviance residual per row: (y − μ)² for Gaussian models."""
        return (y - mu) ** 2

    def draw_response(self, eta: np.ndarray, rows: PredictionRows, rng: np.random.Generator) -> np.ndarray:
        """Responses (as observed_response has them) given linear predictors (draws, rows): η + σ ε / √w."""
        scale = self.residual_sd if rows.weights is None else self.residual_sd / np.sqrt(rows.weights)
        return eta + scale * rng.standard_normal(eta.shape)

    def _series(self, values: np.ndarray, index: pd.Index | None = None) -> pd.Series:
        return pd.Series(values, index=self.design.row_index if index is None else index)

    def linear_predictor(self, re: bool = True) -> pd.Series:
        """η = Xβ + offset (+ Zb when re) on the fitted rows."""
        beta = np.asarray(self.fixef, dtype=float)
        return self._series(linear_predictor(self.design, beta, self.random_effects, re))

    def fitted(self, re: bool = True, scale: str = "response") -> pd.Series:
        """Fitted means μ (scale="link": η), conditional on the random effects (re=True) or population-level."""
        check_prediction_options(scale, None, 0.5)
        eta = self.linear_predictor(re).to_numpy()
        return self._series(eta if scale == "link" else self.inverse_link(eta))

    def residuals(self, kind: str = "deviance", re: bool = True) -> pd.Series:
        """As lme4's: "response" y − μ, "pearson" (y − μ)/sd(y | μ), "deviance" sign(y − μ)·√(unit deviance)
        (equal to "response" for unweighted Gaussian models); y the observed proportion for the binomial."""
        check_residual_kind(kind)
        mu = self.fitted(re=re).to_numpy()
        y = self.observed_response()
        if kind == "response":
            values = y - mu
        elif kind == "pearson":
            values = (y - mu) / self.pearson_scale(mu)
        else:
            values = np.sign(y - mu) * np.sqrt(np.clip(self.unit_deviance(y, mu), 0.0, None))
        return self._series(values)

    def predict(self, newdata: pd.DataFrame | None = None, re: bool = True, allow_new_levels: bool = False,
                scale: str = "response", interval: str | None = None, level: float = 0.95, seed: int | None = None,
                *, n_sim: int = 1000, re_uncertainty: bool = True) -> pd.Series | pd.DataFrame:
        """Predicted means (scale="link": η) for `newdata` (the fitted rows when None); re=False needs no
        grouping column (lme4's re.form = NA).  A level not seen in the fit raises an error naming it unless
        allow_new_levels: then its random effect is 0, the population-level prediction.

        interval="confidence" (the mean) or "prediction" (a new observation) at `level` returns a DataFrame
        fit / lower / upper from n_sim simulations: β ~ N(β̂, vcov), random effects ~ N(b̂, conditional
        covariance) and a new level's ~ N(0, Σ) (re_uncertainty=False: fixed at b̂ and 0), plus the
        response's own variation for "prediction"; attrs["interval"] says which.
        """
        check_prediction_options(scale, interval, level)
        rows = prediction_rows(self.design, newdata, re, allow_new_levels,
                               "predict at the population level (random effect 0) for them")
        beta = np.asarray(self.fixef, dtype=float)
        effects = list(self.random_effects) if re else []
        eta = rows_linear_predictor(rows, beta, effects)
        point = eta if scale == "link" else self.inverse_link(eta)
        if interval is None:
            return self._series(point, rows.index)
        if interval == "prediction" and scale == "link" and not self.family.has_residual_sd:
            raise BayesmixedError("a prediction interval is for a new observation, on the response scale; "
                                  "use scale='response', or interval='confidence' for the linear predictor")
        rng = np.random.default_rng(seed)
        simulated = (simulated_effects(rows, effects, self.conditional_covariances if re_uncertainty else None,
                                       self.covariance_blocks if re_uncertainty else None, n_sim, rng)
                     if re else [])
        eta_draws = simulated_linear_predictors(rows, beta, self.vcov.to_numpy(), simulated, n_sim, rng)
        if interval == "prediction":
            draws = self.draw_response(eta_draws, rows, rng)
        else:
            draws = eta_draws if scale == "link" else self.inverse_link(eta_draws)
        if not re:
            source = "population level (no random effects)"
        elif re_uncertainty:
            source = "random effects ~ N(b̂, conditional covariance), a new level's ~ N(0, Σ)"
        else:
            source = "random effects fixed at their estimates (b̂; 0 for a new level)"
        note = interval_note(interval, level, scale, f"from {n_sim} simulations: β ~ N(β̂, vcov(β̂)), {source}")
        return interval_frame(point, draws, level, rows.index, note)

    def confint(self, parm: str | Sequence[str] | None = None, level: float = 0.95, method: str | None = None,
                **options) -> pd.DataFrame:
        """lme4's confint: "profile" (likelihood; the default), "boot" (parametric bootstrap) or "wald" intervals.

        See bayesmixed.inference.confint for the options (n_boot, seed, n_jobs, old_names).
        """
        from ..inference import confint

        return confint(self, parm=parm, level=level, method=method or "profile", **options)

    def anova(self, type: str = "III", ddf: str = "Satterthwaite") -> "TermTests":
        """F-tests of each fixed-effect term as lmerTest's anova(fit) (GLMMs: car::Anova's Wald χ²); see
        bayesmixed.inference.fixed_anova."""
        from ..inference.fixed_anova import term_tests

        return term_tests(self, type=type, ddf=ddf)

    def icc(self) -> pd.DataFrame:
        """Intra-class correlation of each random-intercept term (results.icc): σ²_g / (Σ_h σ²_h + σ²_d),
        σ²_d = σ² (Gaussian) or the latent-scale variance of Nakagawa et al. (2017) for the other families, the
        family's distribution_variance, shared with R²."""
        labels, variances = intercept_variances(self.design.terms, self.covariance_blocks)
        residual = self.family.distribution_variance(self.residual_sd, lambda: self.null_model_mean)
        return icc_frame(labels, variances, residual, icc_scale(self.family_name))

    def r2(self) -> R2:
        """Marginal and conditional R² of Nakagawa & Schielzeth (results.r2), from the estimates."""
        from .r2 import r2

        return r2(self)

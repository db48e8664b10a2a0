"""The surface the frequentist fits share (REML/ML and GLMM): the names later stages and the plots rely on.

A subclass provides the estimates - `objective`, `npar`, `beta`, `effects` (the random effects' modes per
term, levels x columns), `vcov` (of β̂, a DataFrame), `conditional_covariances` (per term, levels x k x k),
`covariance_blocks` (per term, the k x k covariance of γ for one level) and `residual_sd` (None for
families without one) - and inherits se, varcorr, ranef and ranef_sd, fitted values, residuals,
predictions and the ICC.  GLMMs override `inverse_link` and `pearson_scale`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..design.types import Design
from ..errors import BayesmixedError
from .prediction import linear_predictor, linear_predictor_new
from .ranef import conditional_sds, ranef_frames
from .varcorr import group_labels, varcorr_frame

if TYPE_CHECKING:
    from ..inference.fixed_anova import TermTests

RESIDUAL_KINDS = ("response", "pearson")


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

    def inverse_link(self, eta: np.ndarray) -> np.ndarray:
        """Mean of the response given the linear predictor (identity for Gaussian models)."""
        return eta

    def pearson_scale(self, fitted: np.ndarray) -> np.ndarray | float:
        """Standard deviation of y given the fitted mean (σ for Gaussian models)."""
        return self.residual_sd

    def _series(self, values: np.ndarray, index: pd.Index | None = None) -> pd.Series:
        return pd.Series(values, index=self.design.row_index if index is None else index)

    def linear_predictor(self, re: bool = True) -> pd.Series:
        """η = Xβ + offset (+ Zb when re) on the fitted rows."""
        beta = np.asarray(self.fixef, dtype=float)
        return self._series(linear_predictor(self.design, beta, self.random_effects, re))

    def fitted(self, re: bool = True) -> pd.Series:
        """Fitted means: conditional on the random effects (re=True) or population-level (re=False)."""
        return self._series(self.inverse_link(self.linear_predictor(re).to_numpy()))

    def residuals(self, kind: str = "response", re: bool = True) -> pd.Series:
        """y - fitted ("response") or that divided by the sd of y given the fit ("pearson")."""
        if kind not in RESIDUAL_KINDS:
            raise BayesmixedError(f"unknown residual kind {kind!r}; choose one of {', '.join(RESIDUAL_KINDS)}")
        fitted = self.fitted(re=re).to_numpy()
        response = self.design.y - fitted
        if kind == "pearson":
            response = response / self.pearson_scale(fitted)
        return self._series(response)

    def predict(self, newdata: pd.DataFrame | None = None, re: bool = True, allow_new_levels: bool = False) -> pd.Series:
        """Predicted means for `newdata` (the fitted rows when None).  A level of a grouping factor not
        seen in the fit raises an error naming it, unless allow_new_levels: then its random effect is 0,
        the population-level prediction."""
        if newdata is None:
            return self.fitted(re=re)
        beta = np.asarray(self.fixef, dtype=float)
        eta = linear_predictor_new(self.design, beta, self.random_effects, newdata, re, allow_new_levels)
        return self._series(self.inverse_link(eta), newdata.index)

    def confint(self, parm: str | Sequence[str] | None = None, level: float = 0.95, method: str = "profile",
                **options) -> pd.DataFrame:
        """lme4's confint: "profile" (likelihood), "boot" (parametric bootstrap) or "wald" intervals.

        See bayesmixed.inference.confint for the options (n_boot, seed, n_jobs, old_names).
        """
        from ..inference import confint

        return confint(self, parm=parm, level=level, method=method, **options)

    def anova(self, type: str = "III", ddf: str = "Satterthwaite") -> "TermTests":
        """F-tests of each fixed-effect term as lmerTest's anova(fit) (GLMMs: car::Anova's Wald χ²); see
        bayesmixed.inference.fixed_anova."""
        from ..inference.fixed_anova import term_tests

        return term_tests(self, type=type, ddf=ddf)

    def icc(self) -> pd.Series:
        """Intra-class correlation of each random-intercept term: σ²_α / (Σ intercept variances + σ²_ε).

        The denominator holds every term's intercept variance and the residual variance, so the
        values are the shares of the total variance at covariates = 0 (slope variances depend on
        the covariate's scale and are left out).
        """
        residual = self.residual_sd
        if residual is None:
            raise BayesmixedError("this family has no residual variance on the response scale; the ICC needs one")
        labels, variances = [], []
        for label, term, covariance in zip(group_labels(self.design.terms), self.design.terms, self.covariance_blocks):
            if "(Intercept)" in term.columns:
                c = term.columns.index("(Intercept)")
                labels.append(label)
                variances.append(float(covariance[c, c]))
        if not labels:
            raise BayesmixedError("the ICC is defined for random-intercept terms; this model has none")
        total = sum(variances) + residual**2
        return pd.Series(np.array(variances) / total, index=pd.Index(labels, name="grp"), name="icc")

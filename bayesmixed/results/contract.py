"""The one surface every fit offers, REML/ML (`LmmFit`), GLMM (`GlmmFit`) and Bayes (`BayesFit`) alike.

The names, arguments, defaults and return types below are shared, as lme4's merMod and brms's brmsfit share
theirs; a Bayesian fit reports posterior medians (fixef, sigma, varcorr), posterior sds (se) and posterior
means (ranef, fitted, predict) and adds what only it has (`idata`, `diagnose()`, draws).  Code that needs to
tell the kinds apart reads `kind` or `is_bayes`, never the class.  tests/results/test_contract.py checks
every fit kind against this Protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from ..design.types import Design
from ..errors import BayesmixedError

FIT_KINDS = ("reml", "ml", "bayes", "prior")
RESIDUAL_KINDS = ("deviance", "pearson", "response")


@runtime_checkable
class MixedModelFit(Protocol):
    """What every fitted mixed model provides; see the module docstring."""

    design: Design

    @property
    def kind(self) -> str:
        """"reml", "ml", "bayes" or "prior" (prior-predictive draws)."""

    @property
    def is_bayes(self) -> bool:
        """True for fits made of posterior (or prior) draws."""

    @property
    def messages(self) -> tuple[str, ...]:
        """Warnings about the fit (convergence, singularity, sampler diagnostics), each with advice."""

    @property
    def fixef(self) -> pd.Series:
        """β, named by X's columns."""

    @property
    def se(self) -> pd.Series:
        """Standard errors of β (posterior sds)."""

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance of β (posterior covariance)."""

    @property
    def varcorr(self) -> pd.DataFrame:
        """lme4's as.data.frame(VarCorr()): grp, var1, var2, vcov, sdcor."""

    @property
    def ranef(self) -> dict[str, pd.DataFrame]:
        """{grouping factor: levels x columns} of the random effects (modes or posterior means)."""

    @property
    def ranef_sd(self) -> dict[str, pd.DataFrame]:
        """Their conditional (posterior) standard deviations, laid out as ranef."""

    @property
    def sigma(self) -> float:
        """Residual sd (1.0 for binomial and Poisson, as lme4's sigma())."""

    def icc(self) -> pd.DataFrame:
        """Intra-class correlation per random-intercept grouping factor (results.icc)."""

    def fitted(self, re: bool = True, scale: str = "response") -> pd.Series:
        """Fitted means (scale="link": linear predictors), with (re) or without the random effects."""

    def residuals(self, kind: str = "deviance", re: bool = True) -> pd.Series:
        """"deviance", "pearson" or "response" residuals."""

    def predict(self, newdata: pd.DataFrame | None = None, re: bool = True, allow_new_levels: bool = False,
                scale: str = "response", interval: str | None = None, level: float = 0.95,
                seed: int | None = None) -> pd.Series | pd.DataFrame:
        """Predictions: a Series, or a DataFrame fit / lower / upper when an interval is asked for."""

    def simulate(self, n: int = 1, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """(n, nobs) responses drawn from the fitted model (posterior predictive for Bayes)."""

    def summary(self) -> Any:
        """The printed report (str() gives the text)."""

    def confint(self, parm: str | Sequence[str] | None = None, level: float = 0.95, method: str | None = None,
                **options: Any) -> pd.DataFrame:
        """Intervals of the parameters: profile / boot / wald (frequentist, default profile) or quantile (Bayes)."""


@runtime_checkable
class LikelihoodFit(MixedModelFit, Protocol):
    """A fit by maximum (restricted) likelihood adds the deviance-function stage (lme4's mkLmerDevfun /
    mkGlmerDevfun), the only route by which inference refits a model: its objective as a function of its
    parameters, a warm-started refit to a new response, and the intercept-only null model's mean (R², ICC)."""

    objective: float

    def devfun(self) -> Any:
        """The objective as a function of the parameters, on the fit's own data."""

    def refit(self, y: np.ndarray, start: dict[str, np.ndarray] | None = None) -> Any:
        """The same model fitted to response `y` (the design's form), warm-started at the estimates (or `start`)."""

    @property
    def null_model_mean(self) -> float:
        """g⁻¹(β₀) of the intercept-only ML refit with the same random effects."""


def check_residual_kind(kind: str) -> None:
    if kind not in RESIDUAL_KINDS:
        raise BayesmixedError(f"unknown residual kind {kind!r}; choose one of {', '.join(RESIDUAL_KINDS)}")

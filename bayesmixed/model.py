"""`Model`: a formula and data made into a Design once, then fitted by REML, ML or Bayes."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .design import Design, build_design
from .design.weights import WeightsArg
from .errors import BayesmixedError, check_options, keyword_names
from .families import get_family

METHODS = ("reml", "ml", "bayes", "prior")


class Model:
    """A mixed model `formula` on `data`; `fit("reml" | "ml" | "bayes" | "prior")` fits it.

    The design (X, y, sparse Z per random term) is built here once and shared by every fit.
    """

    def __init__(self, formula: str, data: pd.DataFrame, family: str = "gaussian", weights: WeightsArg = None):
        self.design: Design = build_design(formula, data, family, weights)

    @property
    def formula(self) -> str:
        return self.design.formula

    @property
    def family(self) -> str:
        return self.design.family

    @property
    def priors(self) -> Any:
        """The Bayesian fit's default priors (printable table), scaled to these data."""
        from .engines.bayes import default_priors

        return default_priors(self.design)

    def fit(self, method: str = "reml", **options: Any) -> Any:
        """Fit by "reml" or "ml" (lme4's profiled criterion; Laplace/AGQ for GLMMs) or "bayes" (NUTS).

        "prior" draws from the prior predictive instead of the posterior.
        """
        key = str(method).lower()
        if key not in METHODS:
            raise BayesmixedError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
        if key in ("bayes", "prior"):
            from .engines.bayes import fit_bayes

            return fit_bayes(self.design, prior_only=key == "prior", **options)
        if get_family(self.design.family).profiled_scale:
            from .engines.lmm import fit_lmm

            check_options(options, keyword_names(fit_lmm, "reml"), f"fit({key!r})")
            return fit_lmm(self.design, reml=key == "reml", **options)
        if key == "reml":
            raise BayesmixedError(
                f"REML is defined for Gaussian models only; fit the {self.design.family} model with "
                "method='ml' (Laplace, or adaptive Gauss-Hermite with nagq > 1) or method='bayes'"
            )
        from .engines.glmm import fit_glmm
        from .engines.glmm.api import refuse_unsupported_weights

        check_options(options, keyword_names(fit_glmm), f"fit({key!r})")
        refuse_unsupported_weights(self.design)
        return fit_glmm(self.design, **options)

    def __repr__(self) -> str:
        d = self.design
        lines = [
            f"Model: {d.formula}",
            f"  family: {d.family}   observations: {d.n}",
            f"  response: {d.response}" + (f" (success: {d.response_levels[1]}; failure: {d.response_levels[0]})"
                                           if d.response_levels else ""),
            f"  fixed effects: {d.p} ({', '.join(d.fixef_names) or 'none'})",
        ]
        if d.dropped_fixef:
            lines.append(f"  dropped as aliased: {', '.join(d.dropped_fixef)}")
        if d.weights_name is not None:
            lines.append(f"  weights: {d.weights_name}" + (" (trials)" if get_family(d.family).has_trials else ""))
        if d.offsets:
            lines.append(f"  offset: {' + '.join(d.offsets)}")
        lines.append(f"  random terms: {len(d.terms)} ({d.q} random effects, {d.n_theta} covariance parameters)")
        for t in d.terms:
            lines.append(
                f"    {t.label}: {t.n_levels} levels x {t.n_columns} columns "
                f"[{', '.join(t.columns)}] = {t.size} effects"
            )
        return "\n".join(lines)

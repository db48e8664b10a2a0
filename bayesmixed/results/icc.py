"""Intra-class correlations, one definition for every engine and family (Nakagawa, Johnson & Schielzeth 2017).

ICC_g = σ²_g / (Σ_h σ²_h + σ²_d): σ²_g the intercept variance of grouping factor g, the sum over every
random-intercept term, σ²_d the residual (distribution-specific) variance, the same as R²'s (the family's
`distribution_variance`, as performance::icc and r2_nakagawa share insight's get_variance): σ² for Gaussian
models and, on the latent scale, π²/3 (binomial logit), 1 (probit), π²/6 (cloglog), log(1 + 1/λ) (Poisson log)
and log(1 + 1/λ + 1/θ) (negative binomial), λ the mean of the intercept-only ML refit with the same random
effects.  Slope variances depend on the covariate's scale and are left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..design.types import RandomTerm
from ..errors import BayesmixedError
from ..families import get_family
from .varcorr import group_labels

INTERVAL_LEVEL = 0.95


def intercept_variances(terms: Sequence[RandomTerm], covariances: Sequence[np.ndarray]
                        ) -> tuple[list[str], list[np.ndarray]]:
    """(VarCorr labels, intercept variances) of the random-intercept terms; covariances are (..., k, k) per term,
    so a leading axis of posterior draws is carried through."""
    labels, variances = [], []
    for label, term, covariance in zip(group_labels(terms), terms, covariances):
        if "(Intercept)" in term.columns:
            c = term.columns.index("(Intercept)")
            labels.append(label)
            variances.append(np.asarray(covariance)[..., c, c])
    if not labels:
        raise BayesmixedError("the ICC is defined for random-intercept terms; this model has none")
    return labels, variances


def icc_frame(labels: list[str], variances: list[np.ndarray], residual: np.ndarray | float, scale: str) -> pd.DataFrame:
    """DataFrame indexed by grp with column `icc`; when the variances are posterior draws (1-d arrays) `icc` is
    the posterior median and columns 2.5% / 97.5% hold the equal-tailed credible interval.  attrs['scale']
    says on which scale (response or latent) the ICC is."""
    total = sum(variances) + residual
    shares = [np.asarray(v / total, dtype=float) for v in variances]
    index = pd.Index(labels, name="grp")
    if shares[0].ndim == 0:
        frame = pd.DataFrame({"icc": [float(s) for s in shares]}, index=index)
    else:
        tail = (1 - INTERVAL_LEVEL) / 2
        quantiles = np.array([np.quantile(s, [0.5, tail, 1 - tail]) for s in shares])
        frame = pd.DataFrame(quantiles, index=index, columns=["icc", f"{100 * tail:g}%", f"{100 * (1 - tail):g}%"])
    frame.attrs["scale"] = scale
    return frame


def icc_scale(family: str) -> str:
    """The words for attrs['scale']."""
    if get_family(family).has_residual_sd:
        return "response (variance shares at covariates = 0)"
    return "latent (Nakagawa et al. 2017: distribution-specific variance on the link scale)"

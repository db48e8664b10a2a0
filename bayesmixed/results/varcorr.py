"""Variance components as lme4's as.data.frame(VarCorr(fit)): one row per variance, then per covariance.

Shared by every engine: give it the terms and each term's k x k covariance of γ for one level.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..design.types import RandomTerm

VARCORR_COLUMNS = ["grp", "var1", "var2", "vcov", "sdcor"]


def group_labels(terms: Sequence[RandomTerm]) -> list[str]:
    """lme4's VarCorr names: the grouping factor, made unique R-style ('Subject', 'Subject.1') for `||`."""
    seen: dict[str, int] = {}
    labels = []
    for term in terms:
        count = seen.get(term.group, 0)
        labels.append(term.group if count == 0 else f"{term.group}.{count}")
        seen[term.group] = count + 1
    return labels


def sd_and_correlation(covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standard deviations and correlation matrix of a covariance matrix (correlation 0 where an sd is 0)."""
    sd = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    outer = np.outer(sd, sd)
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.where(outer > 0, covariance / np.where(outer > 0, outer, 1.0), 0.0)
    np.fill_diagonal(correlation, 1.0)
    return sd, correlation


def varcorr_frame(
    terms: Sequence[RandomTerm], covariances: Sequence[np.ndarray], residual_sd: float | None = None
) -> pd.DataFrame:
    """Rows grp, var1, var2, vcov, sdcor: variances (sdcor = sd), then covariances (sdcor = correlation)
    in R's lower-triangle order, term by term; the residual last when the family has one."""
    rows = []
    for label, term, covariance in zip(group_labels(terms), terms, covariances):
        sd, correlation = sd_and_correlation(np.asarray(covariance))
        names = term.columns
        for c, name in enumerate(names):
            rows.append((label, name, None, float(covariance[c, c]), float(sd[c])))
        k = len(names)
        for col in range(k):
            for row in range(col + 1, k):
                rows.append((label, names[col], names[row], float(covariance[row, col]), float(correlation[row, col])))
    if residual_sd is not None:
        rows.append(("Residual", None, None, float(residual_sd) ** 2, float(residual_sd)))
    return pd.DataFrame(rows, columns=VARCORR_COLUMNS)

"""What the comparisons need to know about fits: frequentist or Bayesian, REML or ML, same data, nested.

The checks raise `BayesmixedError` with the reason in words, so a student sees why two fits cannot be
compared rather than a meaningless number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import BayesmixedError

REML_FIXED_EFFECTS_EXPLANATION = (
    "REML maximises the likelihood of residual contrasts K'y with K'X = 0, and K depends on the fixed-effects "
    "design X: fits with different fixed effects have REML likelihoods of different data, so their "
    "log-likelihoods, AICs and likelihood ratios cannot be compared. Compare models that differ in fixed "
    "effects with ML fits (fit('ml') or lmer(..., REML=False))"
)


def is_bayesian(fit: Any) -> bool:
    """Posterior fits are made of draws; frequentist ones of a log-likelihood at an optimum (the fit contract's
    `is_bayes`, results.contract)."""
    return bool(getattr(fit, "is_bayes", False))


def is_reml(fit: Any) -> bool:
    return bool(getattr(fit, "reml", False))


def require_frequentist(fits: Sequence[Any], what: str) -> None:
    """Refuse Bayesian fits where a likelihood-ratio or information-criterion comparison is asked for."""
    for fit in fits:
        if is_bayesian(fit):
            raise BayesmixedError(
                f"{what} compares maximum-likelihood fits; this is a Bayesian fit. Compare Bayesian fits with "
                "bm.compare({'name': fit, ...}, ic='loo') (PSIS-LOO) or ic='waic'"
            )
        for attribute in ("loglik", "npar", "design"):
            if not hasattr(fit, attribute):
                raise BayesmixedError(f"{what} needs fitted models (from Model.fit or lmer); got {type(fit).__name__}")


def fit_label(fit: Any) -> str:
    """A fit's formula, as the default row label of comparison tables."""
    return str(fit.design.formula)


def check_same_data(fits: Sequence[Any], what: str) -> None:
    """All fits must model the same response on the same rows with the same family."""
    first = fits[0]
    for other in fits[1:]:
        a, b = first.design, other.design
        if a.family != b.family:
            raise BayesmixedError(f"{what} needs fits of one family; got {a.family} and {b.family}")
        if a.n != b.n:
            raise BayesmixedError(
                f"{what} needs fits to the same data; {fit_label(first)!r} has {a.n} rows and {fit_label(other)!r} "
                f"has {b.n} (missing values dropped in one model but not the other?)"
            )
        if not np.allclose(a.y, b.y) or (a.trials is not None and not np.allclose(a.trials, b.trials)):
            raise BayesmixedError(f"{what} needs fits to the same response; {a.response!r} and {b.response!r} differ")
        weights_a, weights_b = (np.ones(a.n) if d.weights is None else d.weights for d in (a, b))
        if not np.allclose(weights_a, weights_b):
            raise BayesmixedError(f"{what} needs fits with the same prior weights; {fit_label(first)!r} has "
                                  f"{a.weights_name or 'none'} and {fit_label(other)!r} {b.weights_name or 'none'}")


def same_fixed_effects(a: Any, b: Any) -> bool:
    """Whether two fits have the same fixed-effects design (same columns and values)."""
    da, db = a.design, b.design
    return da.fixef_names == db.fixef_names and da.X.shape == db.X.shape and np.allclose(da.X, db.X)


def ml_version(fit: Any) -> Any:
    """The fit itself when it was fitted by ML, else the same model refitted by ML from its θ (its own refit)."""
    if not is_reml(fit):
        return fit
    return fit.refit(reml=False, check_derivatives=True)  # a fit the user sees: lme4's convergence checks


def variance_labels(fit: Any) -> list[str]:
    """One label per variance (diagonal θ) of the random part, e.g. 'Days | Subject'."""
    labels = []
    for term in fit.design.terms:
        rows, cols = term.theta_pattern()
        labels.extend(f"{term.columns[r]} | {term.group}" for r, c in zip(rows, cols) if r == c)
    return labels


def added_variances(small: Any, big: Any) -> list[str]:
    """Variances of `big` that `small` lacks: H0 sets them to 0, the boundary of their parameter space."""
    small_labels = set(variance_labels(small))
    return [label for label in variance_labels(big) if label not in small_labels]


def nesting_problems(small: Any, big: Any) -> list[str]:
    """Reasons, by term and column names, why `small` does not look nested in `big` (empty when it does)."""
    problems = []
    missing_fixed = [name for name in small.design.fixef_names if name not in big.design.fixef_names]
    if missing_fixed:
        problems.append(f"fixed effect(s) {', '.join(missing_fixed)} of the smaller model are not in the bigger one")
    big_columns = {(term.group, column) for term in big.design.terms for column in term.columns}
    missing_random = [f"{column} | {term.group}" for term in small.design.terms for column in term.columns
                      if (term.group, column) not in big_columns]
    if missing_random:
        problems.append(f"random effect(s) {', '.join(missing_random)} of the smaller model are not in the bigger one")
    return problems

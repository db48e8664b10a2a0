"""formula text + DataFrame -> Design: the one place a formula is read against data."""

from __future__ import annotations


import numpy as np
import pandas as pd

from ..errors import DataError, warn_user
from ..families.registry import family_name
from ..formula.terms import parse_formula
from .columns import is_number_dtype
from .fixed import FixedPart, build_fixed, offset_values
from .frame import model_frame
from .random import build_term, lme4_order
from .response import build_response
from .types import Design, RandomTerm
from .weights import WEIGHTS_COLUMN, WeightsArg, check_gaussian_weights, weights_values


def build_design(formula: str, data: pd.DataFrame, family: str = "gaussian", weights: WeightsArg = None) -> Design:
    """Parse `formula` and build X, y and the sparse Z of each random term on `data`.

    weights: prior weights, a column name or one number per row (see design.weights).
    """
    family = family_name(family)
    parsed = parse_formula(formula)
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    given = weights_values(weights, data)
    frame = model_frame(parsed, data, None if given is None else given[1])
    prior_weights = None
    if given is not None:
        prior_weights = frame[WEIGHTS_COLUMN].to_numpy(dtype=float)
        frame = frame.drop(columns=WEIGHTS_COLUMN)
        given = (given[0], prior_weights)
        if family == "gaussian":
            check_gaussian_weights(*given)
    response = build_response(parsed, frame, family, given)
    fixed = build_fixed(parsed.fixed, frame, formula)
    offset = offset_values(parsed.offsets, frame, formula)
    if family == "gaussian":
        check_residual_variation(response.name, response.y - offset, fixed, prior_weights)
    terms = lme4_order([build_term(spec, frame, formula, family) for spec in parsed.random])
    warn_overlapping_terms(terms)
    predictors = set(fixed.spec.required_variables).union(*(t.lhs_spec.required_variables for t in terms))
    return Design(
        formula=formula,
        family=family,
        response=response.name,
        y=response.y,
        X=fixed.X,
        fixef_names=fixed.names,
        terms=tuple(terms),
        offset=offset,
        trials=response.trials,
        weights=None if family == "binomial" else prior_weights,
        weights_name=None if given is None else given[0],
        row_index=frame.index,
        fixed=fixed,
        offsets=parsed.offsets,
        response_levels=response.levels,
        factor_levels=predictor_factor_levels(frame, predictors),
    )


def check_residual_variation(name: str, y: np.ndarray, fixed: FixedPart, weights: np.ndarray | None = None) -> None:
    """A Gaussian response that the fixed effects reproduce exactly leaves σ² = 0 and nothing to model."""
    root_w = np.ones_like(y) if weights is None else np.sqrt(weights)
    X = fixed.X * root_w[:, None]
    y = y * root_w
    beta, *_ = np.linalg.lstsq(X, y, rcond=None) if X.shape[1] else (np.zeros(0),)
    residual = y - X @ beta
    if np.linalg.norm(residual) <= 1e-10 * max(np.linalg.norm(y), 1e-300):
        raise DataError(
            f"the fixed effects ({', '.join(fixed.names)}) reproduce the response {name!r} exactly: the residual "
            "variance would be 0, and a mixed model needs variation left to attribute to groups and noise"
        )


def warn_overlapping_terms(terms: list[RandomTerm]) -> None:
    """Two terms of one grouping factor sharing a column give that column two variances that the data
    cannot tell apart (lme4 fits them and then warns of a degenerate Hessian)."""
    for i, first in enumerate(terms):
        for second in terms[i + 1:]:
            shared = set(first.columns) & set(second.columns)
            if first.group == second.group and shared:
                warn_user(
                    f"random terms {first.label} and {second.label} both give {', '.join(sorted(shared))} a variance "
                    f"for {first.group!r}; the two cannot be told apart (drop one of the terms)",
                    OverlappingTermsWarning)


class OverlappingTermsWarning(UserWarning):
    """Two random terms of one grouping factor share a column."""


def predictor_factor_levels(frame: pd.DataFrame, predictors: set[str]) -> dict[str, frozenset[str]]:
    """Levels (as text) of each non-numeric predictor column."""
    levels = {}
    for name in sorted(predictors):
        if name in frame.columns and not is_number_dtype(frame[name].dtype):
            levels[name] = frozenset(frame[name].astype(str).unique())
    return levels


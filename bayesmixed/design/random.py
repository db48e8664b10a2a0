"""Random terms: grouping factors, each term's model matrix and its sparse Z, lme4's checks and term order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import DataError, FormulaError
from ..formula.terms import RandomTermSpec
from .columns import materialise
from .fixed import r_column_name
from .frame import factor_levels, interaction_levels
from .types import RandomTerm


def term_columns(spec: RandomTermSpec, frame: pd.DataFrame, formula: str) -> tuple[np.ndarray, tuple[str, ...], object]:
    """The term's model matrix (n x k), R-style column names and the formulaic spec to rebuild it."""
    try:
        values, columns, lhs_spec = materialise(spec.lhs, frame)
    except Exception as exc:  # formulaic raises many parser/materializer error types
        raise FormulaError(f"cannot build the random-effects term {spec}: {exc}", formula, spec.position) from None
    if not np.isfinite(values).all():
        raise DataError(f"random-effects term {spec} has infinite or undefined values")
    return values, tuple(r_column_name(c) for c in columns), lhs_spec


def grouping(spec: RandomTermSpec, frame: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...]]:
    """Level codes (n,) and labels of the term's grouping factor (an interaction for `a:b`)."""
    factors = [factor_levels(frame[name]) for name in spec.group_factors]
    if len(factors) == 1:
        return factors[0]
    return interaction_levels(factors)


def sparse_z(codes: np.ndarray, matrix: np.ndarray, n_levels: int) -> sp.csc_matrix:
    """Z (n x n_levels*k), level-major: entry (i, codes[i]*k + c) = matrix[i, c]."""
    n, k = matrix.shape
    rows = np.repeat(np.arange(n), k)
    cols = (codes[:, None] * k + np.arange(k)[None, :]).reshape(-1)
    Z = sp.csc_matrix((matrix.reshape(-1), (rows, cols)), shape=(n, n_levels * k))
    Z.eliminate_zeros()
    return Z


def build_term(spec: RandomTermSpec, frame: pd.DataFrame, formula: str, family: str) -> RandomTerm:
    """One random term, with lme4's checks on its grouping factor."""
    matrix, columns, lhs_spec = term_columns(spec, frame, formula)
    if matrix.shape[1] == 0:
        raise FormulaError(f"random-effects term {spec} has no columns", formula, spec.position)
    codes, levels = grouping(spec, frame)
    n = len(frame)
    if len(levels) < 2:
        raise DataError(
            f"grouping factor {spec.group!r} in term {spec} has {len(levels)} level; "
            "a random effect needs at least 2 sampled levels (use a fixed effect, or drop the term)"
        )
    if family == "gaussian" and len(levels) >= n:
        raise DataError(
            f"grouping factor {spec.group!r} in term {spec} has {len(levels)} levels for {n} observations; "
            "with one observation per level its variance cannot be told apart from the residual variance"
        )
    if family == "gaussian" and len(levels) * len(columns) >= n:
        raise DataError(
            f"term {spec} has {len(levels) * len(columns)} random effects for {n} observations; "
            "the random-effects and residual variances are unidentifiable"
        )
    return RandomTerm(
        group=spec.group,
        levels=levels,
        columns=columns,
        # `||` splits a term into (1 | g) + (0 + x | g) per formula term; lme4 (1.1-31) keeps a factor's
        # several columns in one correlated block
        correlated=spec.correlated or matrix.shape[1] > 1,
        Z=sparse_z(codes, matrix, len(levels)),
        codes=codes,
        matrix=matrix,
        lhs=spec.lhs,
        group_factors=spec.group_factors,
        lhs_spec=lhs_spec,
    )


def lme4_order(terms: list[RandomTerm]) -> list[RandomTerm]:
    """lme4's order: if any term has more levels than the one before, rev(order(n_levels)), else as written."""
    n_levels = [t.n_levels for t in terms]
    if any(b > a for a, b in zip(n_levels, n_levels[1:])):
        ascending = sorted(range(len(terms)), key=lambda i: n_levels[i])
        return [terms[i] for i in reversed(ascending)]
    return list(terms)

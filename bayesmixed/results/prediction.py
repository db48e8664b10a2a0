"""Linear predictors on the fitted data and on new data, shared by every engine.

η = Xβ + offset + Σ_t Z_t b_t, where Z_t b_t is computed row by row from the term's level codes and
model matrix (no Z is formed).  New data are encoded by the design exactly as in the fit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..design.random import group_labels
from ..design.types import Design
from ..errors import DataError


class NewLevelError(DataError):
    """New data hold a level of a grouping factor that the fit has not seen."""


def term_contribution(codes: np.ndarray, matrix: np.ndarray, effects: np.ndarray) -> np.ndarray:
    """Rows of Z_t b_t: Σ_c matrix[i, c] · b[code_i, c]; rows with code -1 (unseen level) get 0."""
    seen = codes >= 0
    values = np.zeros(codes.shape[0])
    values[seen] = np.einsum("ic,ic->i", matrix[seen], effects[codes[seen]])
    return values


def linear_predictor(design: Design, beta: np.ndarray, effects: Sequence[np.ndarray], re: bool = True) -> np.ndarray:
    """η on the fitted rows: Xβ + offset, plus Zb when `re`."""
    eta = design.X @ beta + design.offset
    if re:
        for term, b in zip(design.terms, effects):
            eta = eta + term_contribution(term.codes, term.matrix, b)
    return eta


def linear_predictor_new(
    design: Design,
    beta: np.ndarray,
    effects: Sequence[np.ndarray],
    newdata: pd.DataFrame,
    re: bool = True,
    allow_new_levels: bool = False,
) -> np.ndarray:
    """η on new data.  A level not seen in the fit contributes 0 (the population-level prediction)
    when `allow_new_levels`, and raises NewLevelError naming the grouping factor and level otherwise."""
    X_new, per_term = design.new_data_matrices(newdata)
    eta = X_new @ beta + design.new_offset(newdata)
    if not re:
        return eta
    for term, (codes, matrix), b in zip(design.terms, per_term, effects):
        unseen = np.flatnonzero(codes < 0)
        if unseen.size and not allow_new_levels:
            labels = group_labels(newdata.iloc[unseen], term.group_factors)
            distinct = list(dict.fromkeys(str(label) for label in labels))
            shown = ", ".join(repr(label) for label in distinct[:5]) + (", ..." if len(distinct) > 5 else "")
            raise NewLevelError(
                f"newdata has level{'s' if len(distinct) > 1 else ''} {shown} of grouping factor {term.group!r} "
                "not seen in the fit; pass allow_new_levels=True to predict at the population level "
                "(random effect 0) for them, or re=False to leave out all random effects"
            )
        eta = eta + term_contribution(codes, matrix, b)
    return eta

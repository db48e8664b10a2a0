"""Design matrices for new data (predictions), encoded exactly as in the fit."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import DataError, unknown_column
from .columns import matrix_on_new_data
from .fixed import offset_values
from .frame import number_label

if TYPE_CHECKING:
    from .types import Design, RandomTerm


def _check_columns(design: "Design", newdata: pd.DataFrame, random: bool) -> None:
    if not isinstance(newdata, pd.DataFrame):
        raise DataError(f"newdata must be a pandas DataFrame, not {type(newdata).__name__}")
    needed = set(design.fixed.spec.required_variables)
    for term in design.terms if random else ():
        needed |= set(term.lhs_spec.required_variables) | set(term.group_factors)
    for name in sorted(needed):
        if name not in newdata.columns:
            raise unknown_column(name, newdata.columns, where="newdata")
    for name, seen in design.factor_levels.items():
        if name not in needed:  # a factor of the random part only, not asked for when random=False
            continue
        values = newdata[name]
        if values.isna().any():
            raise DataError(f"newdata column {name!r} has missing values in {int(values.isna().sum())} row(s)")
        new = sorted(set(values.astype(str)) - seen)
        if new:
            raise DataError(
                f"newdata column {name!r} has level(s) {', '.join(map(repr, new))} not seen in the fit; a fixed-effect "
                f"factor cannot take new levels (the fit's levels: {', '.join(map(repr, sorted(seen)))})"
            )


def new_data_matrices(design: "Design", newdata: pd.DataFrame, random: bool = True,
                      ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """X_new (m x p) and, per term, (level codes with -1 for unseen levels, term matrix m x k).

    random=False builds X only (per_term empty), so the grouping factors and the random terms'
    covariates need not be in `newdata`: population-level prediction, lme4's re.form = NA.
    """
    _check_columns(design, newdata, random)
    X = design.fixed.matrix_for(newdata)
    per_term = []
    for term in design.terms if random else ():
        matrix = matrix_on_new_data(term.lhs_spec, newdata)
        per_term.append((new_level_codes(term, newdata), matrix))
    return X, per_term


def new_offset(design: "Design", newdata: pd.DataFrame) -> np.ndarray:
    """Sum of the formula's offset() expressions on new data."""
    return offset_values(design.offsets, newdata, design.formula)


def design_rows(design: "Design", rows: np.ndarray) -> "Design":
    """The design restricted to `rows` (cross-validation's training set), every level and column kept.

    A level with no rows left adds nothing to the likelihood: its random effect stays at its prior (mode 0,
    conditional covariance Σ), so held-out levels are predicted as new levels would be.
    """
    rows = np.asarray(rows)
    n = design.n
    changes = {}
    for spec in fields(design):
        value = getattr(design, spec.name)
        if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == n:
            changes[spec.name] = value[rows]
        elif isinstance(value, pd.Index) and len(value) == n:
            changes[spec.name] = value[rows]
    changes["terms"] = tuple(replace(t, Z=t.Z[rows], codes=t.codes[rows], matrix=t.matrix[rows]) for t in design.terms)
    X = changes["X"]
    empty = [name for name, column in zip(design.fixef_names, X.T) if not np.any(column)]
    if empty:
        raise DataError(f"fixed-effect column(s) {', '.join(empty)} are all zero once these rows are held out; "
                        "choose other folds (e.g. stratify by that factor) or fewer folds")
    return replace(design, **changes)


def group_labels(frame: pd.DataFrame, factors: tuple[str, ...]) -> np.ndarray:
    """Level labels of each row of (new) data, written as factor_levels writes them."""
    parts = []
    for name in factors:
        values = frame[name]
        if pd.api.types.is_numeric_dtype(values.dtype) and not isinstance(values.dtype, pd.CategoricalDtype):
            parts.append(np.array([number_label(v) for v in values.to_numpy()], dtype=object))
        else:
            parts.append(values.astype(str).to_numpy(dtype=object))
    labels = parts[0]
    for part in parts[1:]:
        labels = np.array([f"{a}:{b}" for a, b in zip(labels, part)], dtype=object)
    return labels


def new_level_codes(term: "RandomTerm", frame: pd.DataFrame) -> np.ndarray:
    """Level index of each row of new data in the fitted term, -1 for a level not seen in the fit."""
    index = {label: i for i, label in enumerate(term.levels)}
    return np.array([index.get(label, -1) for label in group_labels(frame, term.group_factors)], dtype=np.int64)

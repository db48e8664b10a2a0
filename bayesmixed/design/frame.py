"""The model frame: check the formula's columns exist, drop incomplete rows, read grouping factors."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import DataError, unknown_column, warn_user
from ..formula.terms import ParsedFormula
from .weights import WEIGHTS_COLUMN

_INTEGER_LIKE = re.compile(r"^-?\d+$")


class MissingValuesWarning(UserWarning):
    """Rows were dropped because a column the formula uses has missing values."""


def model_frame(parsed: ParsedFormula, data: pd.DataFrame, weights: np.ndarray | None = None) -> pd.DataFrame:
    """The rows and columns of `data` the formula uses (and the weights, as column WEIGHTS_COLUMN);
    incomplete rows dropped with a warning that counts them."""
    if data.shape[0] == 0:
        raise DataError("data has no rows")
    used = parsed.variables()
    columns = [str(c) for c in data.columns]
    for name, position in used.items():
        if name not in columns:
            raise unknown_column(name, columns, where=f"formula {parsed.text!r} at position {position}")
    frame = data.loc[:, list(used)]
    if weights is not None:
        frame = frame.assign(**{WEIGHTS_COLUMN: weights})
    incomplete = frame.isna().any(axis=1)
    if incomplete.all():
        raise DataError(f"every row has a missing value in one of {', '.join(frame.columns)}")
    if incomplete.any():
        counts = frame.isna().sum()
        detail = ", ".join(f"{name}: {int(k)}" for name, k in counts.items() if k)
        warn_user(
            f"dropped {int(incomplete.sum())} of {len(frame)} rows with missing values ({detail})",
            MissingValuesWarning)
        frame = frame.loc[~incomplete]
    return _drop_unused_categories(frame)


def _drop_unused_categories(frame: pd.DataFrame) -> pd.DataFrame:
    categorical = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    if not categorical:
        return frame
    frame = frame.copy()
    for column in categorical:
        frame[column] = frame[column].cat.remove_unused_categories()
    return frame


def factor_levels(values: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer codes and level labels of a grouping column, in R's level order.

    Categoricals keep their category order; numbers and integer-like strings sort numerically
    (as R's read.csv + factor() give); other strings sort alphabetically.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories
        codes = values.cat.codes.to_numpy()
        return codes.astype(np.int64), tuple(str(c) for c in categories)
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        uniques, codes = np.unique(values.to_numpy(), return_inverse=True)
        return codes.astype(np.int64), tuple(number_label(u) for u in uniques)
    labels = values.astype(str).to_numpy()
    uniques = np.unique(labels)
    if all(_INTEGER_LIKE.match(u) for u in uniques):
        uniques = np.array(sorted(uniques, key=int))
    order = {label: i for i, label in enumerate(uniques)}
    codes = np.fromiter((order[v] for v in labels), dtype=np.int64, count=len(labels))
    return codes, tuple(str(u) for u in uniques)


def number_label(value: object) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def interaction_levels(factors: list[tuple[np.ndarray, tuple[str, ...]]]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes and labels of the interaction `a:b` (first factor varying slowest, unused combinations dropped)."""
    stacked = np.column_stack([codes for codes, _ in factors])
    combos, codes = np.unique(stacked, axis=0, return_inverse=True)
    labels = tuple(":".join(levels[c] for (_, levels), c in zip(factors, row)) for row in combos)
    return codes.reshape(-1).astype(np.int64), labels

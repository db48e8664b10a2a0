"""Prior weights (lme4's `weights=`): a column name or an array, checked and aligned with the data's rows.

Gaussian: observation i has residual variance σ²/wᵢ.  Binomial: y is a proportion and wᵢ the number of
trials (glmer's convention), turned into successes/trials by the response stage.
"""

from __future__ import annotations

from typing import Union

import numpy as np
import pandas as pd

from ..errors import DataError, unknown_column

# The model frame's column holding the weights (R's model.frame calls it "(weights)" too).
WEIGHTS_COLUMN = "(weights)"

WeightsArg = Union[str, np.ndarray, pd.Series, list, None]


def weights_values(weights: WeightsArg, data: pd.DataFrame) -> tuple[str, np.ndarray] | None:
    """(label, values) of `weights` in `data`'s row order, or None for unit weights.

    NaN is allowed here (the row is dropped with the model frame's other incomplete rows);
    anything negative, infinite or non-numeric is an error naming the column.
    """
    if weights is None:
        return None
    if isinstance(weights, str):
        columns = [str(c) for c in data.columns]
        if weights not in columns:
            raise unknown_column(weights, columns, where="weights=")
        label, raw = weights, data[weights]
    else:
        label = "weights"
        raw = weights.reset_index(drop=True) if isinstance(weights, pd.Series) else pd.Series(np.asarray(weights))
        if raw.ndim != 1 or len(raw) != len(data):
            raise DataError(
                f"weights must hold one number per row of data ({len(data)} rows), got {np.shape(np.asarray(weights))}"
            )
    dtype = raw.dtype
    if (not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)):
        raise DataError(f"weights {label!r} must be numbers, but they hold {dtype} values")
    values = raw.to_numpy(dtype=float)
    present = ~np.isnan(values)
    bad = present & ~(np.isfinite(values) & (values >= 0.0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"weights {label!r} must be non-negative finite numbers; row {row} holds {values[row]:g}"
            + (f" ({int(bad.sum())} such rows)" if bad.sum() > 1 else "")
        )
    return label, values


def check_gaussian_weights(label: str, weights: np.ndarray) -> None:
    """A zero weight means infinite residual variance (lme4's deviance, with -Σ log wᵢ, is then infinite)."""
    zero = np.flatnonzero(weights == 0.0)
    if zero.size:
        raise DataError(
            f"weights {label!r} are 0 in {zero.size} row(s) (first: row {int(zero[0])}); a Gaussian observation of "
            "weight 0 has infinite residual variance: drop those rows"
        )

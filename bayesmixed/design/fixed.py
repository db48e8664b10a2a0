"""The fixed part: X from formulaic with R's column names, aliased columns dropped; response and offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, FormulaError, warn_user
from .columns import FORMULA_FUNCTIONS, materialise, matrix_on_new_data

# R's rank tolerance for model matrices (qr(..., tol = 1e-7)).
RANK_TOLERANCE = 1e-7

_QUOTED = re.compile(r"""\bQ\((['"])(.*?)\1\)""")
_BRACKET = re.compile(r"\[(?:T\.)?([^\[\]]*)\]")


class RankDeficiencyWarning(UserWarning):
    """Fixed-effect columns were dropped because they are linear combinations of earlier ones."""


def r_column_name(name: str) -> str:
    """formulaic's names in R's style: 'Intercept' -> '(Intercept)', 'period[T.2]' -> 'period2',
    'I(age ** 2)' -> 'I(age^2)' (R deparses a power without spaces), "Q('dose level')" -> '`dose level`'
    (R back-quotes a column name that is not a syntactic name)."""
    if name == "Intercept":
        return "(Intercept)"
    return _QUOTED.sub(r"`\2`", _BRACKET.sub(r"\1", name).replace(" ** ", "^"))


@dataclass(frozen=True)
class FixedPart:
    """X (n x p) with R's column names, the formulaic spec that rebuilds it, and dropped aliased columns.

    variables: the model frame's columns that X is built from (type III tests rebuild each term's cells
    from them, as lmerTest does from the model frame)."""

    X: np.ndarray
    names: tuple[str, ...]
    spec: Any
    kept: np.ndarray
    dropped: tuple[str, ...]
    variables: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def matrix_for(self, newdata: pd.DataFrame) -> np.ndarray:
        """X for new data, encoded exactly as in the fit."""
        return matrix_on_new_data(self.spec, newdata)[:, self.kept]


def build_fixed(fixed: str, frame: pd.DataFrame, formula: str) -> FixedPart:
    """Materialise the fixed-effects model matrix and drop columns aliased with earlier ones (as R's lm does)."""
    try:
        X, columns, spec = materialise(fixed, frame)
    except Exception as exc:  # formulaic raises many parser/materializer error types
        raise FormulaError(f"cannot build the fixed effects {fixed!r}: {exc}", formula) from None
    names = tuple(r_column_name(c) for c in columns)
    if X.shape[1] and not np.isfinite(X).all():
        bad = [n for n, ok in zip(names, np.isfinite(X).all(axis=0)) if not ok]
        raise DataError(f"fixed-effect column(s) {', '.join(bad)} contain infinite or undefined values")
    kept = independent_columns(X)
    dropped = tuple(n for i, n in enumerate(names) if i not in set(kept))
    if dropped:
        warn_user(
            f"fixed-effect model matrix is rank deficient: dropping {len(dropped)} aliased column(s) "
            f"{', '.join(dropped)}",
            RankDeficiencyWarning)
    variables = frame[[c for c in frame.columns if c in spec.required_variables]]
    return FixedPart(X[:, kept], tuple(names[i] for i in kept), spec, np.array(kept, dtype=int), dropped, variables)


def independent_columns(X: np.ndarray) -> list[int]:
    """Indices of columns kept by a left-to-right Gram-Schmidt: a later aliased column is the one dropped."""
    kept: list[int] = []
    basis = np.zeros((X.shape[0], 0))
    for j in range(X.shape[1]):
        column = X[:, j]
        norm = np.linalg.norm(column)
        if norm == 0.0:
            continue
        residual = column - basis @ (basis.T @ column)
        residual = residual - basis @ (basis.T @ residual)
        if np.linalg.norm(residual) > RANK_TOLERANCE * norm:
            kept.append(j)
            basis = np.column_stack([basis, residual / np.linalg.norm(residual)])
    return kept


def evaluate(expression: str, frame: pd.DataFrame, formula: str, role: str) -> pd.Series:
    """Evaluate a response or offset expression (a column, `log(y)`, `size - incidence`) on the frame."""
    text = expression.strip()
    if text.strip("`") in frame.columns:
        return frame[text.strip("`")]
    namespace: dict[str, Any] = {**FORMULA_FUNCTIONS, "I": lambda x: x}
    code = text
    for i, column in enumerate(frame.columns):
        alias = f"_column_{i}"
        if f"`{column}`" in code:
            code = code.replace(f"`{column}`", alias)
            namespace[alias] = frame[column]
        elif str(column).isidentifier():
            namespace[str(column)] = frame[column]
    try:
        with np.errstate(all="ignore"):
            value = eval(compile(code, "<formula>", "eval"), {"__builtins__": {}}, namespace)  # noqa: S307
    except Exception as exc:
        raise FormulaError(f"cannot evaluate the {role} {text!r}: {exc}", formula) from None
    if np.ndim(value) == 0:
        value = np.full(len(frame), value)
    return pd.Series(np.asarray(value), index=frame.index, name=text)


def offset_values(expressions: tuple[str, ...], frame: pd.DataFrame, formula: str) -> np.ndarray:
    """Sum of the formula's offset() expressions on the frame (zeros when it has none)."""
    total = np.zeros(len(frame))
    for expression in expressions:
        values = evaluate(expression, frame, formula, "offset")
        if not pd.api.types.is_numeric_dtype(values.dtype):
            raise DataError(f"offset({expression}) must be numeric")
        total += values.to_numpy(dtype=float)
    return total

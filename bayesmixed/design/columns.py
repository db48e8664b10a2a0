"""Model matrices for the common case of plain numeric columns (with or without an intercept).

formulaic costs ~1.5 ms per model matrix, most of a small model's fit; a part such as `1 + Days` or
`0 + x + z` needs no encoding state, so it is built directly. Anything else (factors, interactions,
transforms) goes through formulaic. `NumericColumnsSpec` offers the two members of formulaic's
ModelSpec that the design uses for new data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from formulaic import model_matrix

from ..errors import FormulaError
from ..formula.grammar import Leaf, parse
from ..formula.terms import sum_terms


# Names a formula may call beyond formulaic's own transforms: numpy, and R's spellings of math functions.
FORMULA_FUNCTIONS = {
    "np": np, "numpy": np, "log": np.log, "log2": np.log2, "log10": np.log10, "log1p": np.log1p,
    "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs,
}


@dataclass(frozen=True)
class NumericColumnsSpec:
    """[1 if intercept] + the named numeric columns, in that order."""

    intercept: bool
    columns: tuple[str, ...]

    @property
    def required_variables(self) -> set[str]:
        return set(self.columns)

    @property
    def names(self) -> list[str]:
        return (["Intercept"] if self.intercept else []) + list(self.columns)

    def get_model_matrix(self, data: pd.DataFrame, na_action: str = "ignore", context: object = None) -> pd.DataFrame:
        """The matrix on `data`, with formulaic's column names."""
        values = [np.ones(len(data))] if self.intercept else []
        values += [data[c].to_numpy(dtype=float) for c in self.columns]
        matrix = np.column_stack(values) if values else np.empty((len(data), 0))
        return pd.DataFrame(matrix, columns=self.names, index=data.index)


def logicals_as_factors(data: pd.DataFrame) -> pd.DataFrame:
    """R reads a logical predictor as a factor with levels FALSE < TRUE (hence the column `treatTRUE`)."""
    logical = [c for c in data.columns if pd.api.types.is_bool_dtype(data[c].dtype)]
    if not logical:
        return data
    return data.assign(**{
        str(c): pd.Categorical(np.where(data[c].to_numpy(dtype=bool), "TRUE", "FALSE"), categories=["FALSE", "TRUE"])
        for c in logical
    })


def matrix_on_new_data(spec, data: pd.DataFrame) -> np.ndarray:
    """A fitted part's matrix on new data, encoded as in the fit."""
    return np.asarray(spec.get_model_matrix(logicals_as_factors(data), na_action="ignore", context=FORMULA_FUNCTIONS),
                      dtype=float)


def materialise(text: str, frame: pd.DataFrame) -> tuple[np.ndarray, list[str], object]:
    """(matrix, formulaic-style column names, spec for new data) of a formula part on the frame."""
    spec = numeric_columns_spec(text, frame)
    if spec is None:
        matrix = model_matrix(text, logicals_as_factors(frame), na_action="raise", context=FORMULA_FUNCTIONS)
        return np.asarray(matrix, dtype=float), list(matrix.columns), matrix.model_spec
    return spec.get_model_matrix(frame).to_numpy(), spec.names, spec


def numeric_columns_spec(text: str, frame: pd.DataFrame) -> NumericColumnsSpec | None:
    """The spec when `text` is a sum of numeric column names, 1, 0 and -1; None otherwise."""
    try:
        tree = parse(text)
    except FormulaError:
        return None
    intercept, columns = True, []
    for sign, node in sum_terms(tree):
        if isinstance(node, Leaf) and node.kind == "number" and node.text in ("0", "1"):
            intercept = (node.text == "1") == (sign == "+")
        elif isinstance(node, Leaf) and node.kind == "name" and sign == "+" and _is_plain_numeric(frame, node.text):
            if node.text not in columns:
                columns.append(node.text)
        else:
            return None
    return NumericColumnsSpec(intercept, tuple(columns))


def _is_plain_numeric(frame: pd.DataFrame, name: str) -> bool:
    return name in frame.columns and is_number_dtype(frame[name].dtype)


def is_number_dtype(dtype) -> bool:
    """Numbers used as numbers: not booleans, not categoricals (those are factors)."""
    return (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
            and not isinstance(dtype, pd.CategoricalDtype))

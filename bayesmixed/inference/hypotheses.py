"""Hypothesis matrices for F- and Wald tests of fixed-effect terms, as lmerTest and car build them.

Each formula term T (its columns in X) gets a contrast matrix L_T (rows: tested directions, columns: X's
coefficients); the test is H0: L_T β = 0.

- Type I (sequential): rows of the Doolittle factor of X'X belonging to T (lmerTest's get_contrasts_type1).
- Type II (marginality): T after every term that does not contain it (get_contrasts_type2_unfolded; terms
  contained in no other term get the marginal test of their own coefficients).
- Type III: SAS's containment hypotheses (extract_contrasts_type3).  They are built in treatment coding
  from the overparametrised ("one column per cell") design and mapped to the coding of the fit, so the
  test does not depend on the contrasts used (treatment, sum, the order of the levels).
- car's type II for Wald χ² (Anova.II.mer): T's coefficients made orthogonal, in the metric of vcov(β),
  to the terms containing T's variables.

The type III construction follows lmerTest on the model frame: the cell columns of each term (~ 0 + term)
and a treatment-coded X are built from the fit's variables.  With empty cells the hypotheses depend on
the data; lmerTest then says to interpret them with care, and so does the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg

from ..design.columns import FORMULA_FUNCTIONS, NumericColumnsSpec
from ..design.fixed import independent_columns, r_column_name
from ..errors import BayesmixedError

# doolittle()'s tolerance in lmerTest: pivots and multipliers below it count as 0.
DOOLITTLE_EPS = 1e-6
# Rows of a contrast matrix with total |L| below this are dropped (lmerTest).
ZERO_ROW = 1e-8
# R's getOption("digits"), which zapsmall rounds to.
ZAPSMALL_DIGITS = 7
_CATEGORICAL_CALL = re.compile(r"^\s*C\(\s*`?([^,`)]+?)`?\s*(,.*)?\)\s*$")


@dataclass(frozen=True)
class FixedTerm:
    """One formula term of the fixed part: its label, variables (formulaic factor expressions), which of
    them are numeric (and which of those give several columns, as poly(x, 2)), and its columns in X."""

    label: str
    variables: tuple[str, ...]
    numerics: frozenset[str]
    columns: tuple[int, ...]
    matrix_valued: frozenset[str] = frozenset()

    @property
    def order(self) -> int:
        return len(self.variables)

    def contained_in(self, other: "FixedTerm") -> bool:
        """SAS's containment: `other` has every variable of this term and more, and the same numeric ones."""
        mine, theirs = set(self.variables), set(other.variables)
        # lmerTest reads "numeric" from R's dataClasses, where a matrix-valued covariate (poly(x, 2)) is
        # "nmatrix.2": it counts as a factor there, and so it does here.
        return mine < theirs and self.numerics - self.matrix_valued == other.numerics - other.matrix_valued

    def relative_of(self, other: "FixedTerm") -> bool:
        """car's relatives: `other` has every variable of this term (numeric or not) and more."""
        return set(self.variables) < set(other.variables)


@dataclass(frozen=True, eq=False)
class TermStructure:
    """The fixed part of a design as terms: X, its terms, whether it has an intercept, each factor's levels
    (in the fit's order) and the model frame's variables (for type III)."""

    X: np.ndarray
    terms: tuple[FixedTerm, ...]
    intercept: bool
    levels: dict[str, tuple[Any, ...]]
    variables: pd.DataFrame | None

    def containers(self, term: FixedTerm) -> list[FixedTerm]:
        return [other for other in self.terms if term.contained_in(other)]


def term_structure(design: Any) -> TermStructure:
    """The terms of a design's fixed part, from formulaic's model spec (or the plain numeric spec)."""
    fixed = design.fixed
    spec, kept = fixed.spec, np.asarray(fixed.kept)
    position = {int(column): index for index, column in enumerate(kept)}
    if isinstance(spec, NumericColumnsSpec):
        terms = tuple(FixedTerm(name, (name,), frozenset([name]), (position[spec.intercept + i],))
                      for i, name in enumerate(spec.columns) if spec.intercept + i in position)
        return TermStructure(np.asarray(design.X), terms, spec.intercept, {}, fixed.variables)
    kinds, levels = {}, {}
    for expression, (kind, state) in spec.encoder_state.items():
        kinds[expression] = getattr(kind, "value", str(kind))
        if kinds[expression] == "categorical":
            levels[expression] = tuple(state["categories"])
    terms, intercept, start, widths = [], False, 0, {}
    for term, _, columns in spec.structure:
        indices = [position[i] for i in range(start, start + len(columns)) if i in position]
        start += len(columns)
        variables = tuple(factor.expr for factor in term.factors if factor.expr != "1")
        if not variables:
            intercept = True
            continue
        numerics = frozenset(v for v in variables if kinds.get(v) != "categorical")
        for variable in numerics - set(widths):
            widths[variable] = 1 if fixed.variables is None else _numeric_values(variable, fixed.variables).shape[1]
        matrix_valued = frozenset(v for v in numerics if widths[v] > 1)
        terms.append(FixedTerm(r_column_name(str(term)), variables, numerics, tuple(indices), matrix_valued))
    return TermStructure(np.asarray(design.X), tuple(terms), intercept, levels, fixed.variables)


def _numeric_values(variable: str, frame: pd.DataFrame) -> np.ndarray:
    """A numeric variable's column(s) on the frame, as formulaic evaluates it."""
    from formulaic import model_matrix

    return np.asarray(model_matrix(f"0 + {variable}", frame, context=FORMULA_FUNCTIONS), dtype=float)


# ---- numerical pieces of lmerTest ------------------------------------------------------------------
def zapsmall(x: np.ndarray, digits: int = ZAPSMALL_DIGITS) -> np.ndarray:
    """R's zapsmall: round to `digits` significant digits of the largest |x|."""
    x = np.asarray(x, dtype=float)
    largest = np.max(np.abs(x)) if x.size else 0.0
    if largest <= 0:
        return x
    return np.round(x, max(0, digits - int(np.ceil(np.log10(largest)))))


def doolittle_lower(x: np.ndarray, eps: float = DOOLITTLE_EPS) -> np.ndarray:
    """The unit lower-triangular L of x = LU (lmerTest's doolittle, multipliers of a zero pivot set to 0)."""
    n = x.shape[0]
    lower, upper = np.eye(n), np.zeros((n, n))
    for i in range(n):
        upper[i, :] = x[i, :] - lower[i, :i] @ upper[:i, :]
        for j in range(i + 1, n):
            value = x[j, i] - lower[j, :i] @ upper[:i, i]
            lower[j, i] = 0.0 if abs(upper[i, i]) < eps else value / upper[i, i]
    lower[np.abs(lower) < eps] = 0.0
    return lower


def type1_basis(X: np.ndarray) -> np.ndarray:
    """t(L) of the Doolittle factorisation of X'X: row j tests column j after the columns before it."""
    if X.shape[1] == 1:
        return np.ones((1, 1))
    return doolittle_lower(X.T @ X).T


def _nonzero_rows(L: np.ndarray) -> np.ndarray:
    return L[np.abs(L).sum(axis=1) > ZERO_ROW]


# ---- the three types -------------------------------------------------------------------------------
def contrasts(structure: TermStructure, kind: str) -> dict[str, np.ndarray]:
    """Contrast matrix per term label for kind "I", "II" or "III" (lmerTest's get_contrasts_type1/2/3)."""
    X, terms = structure.X, structure.terms
    if kind == "I" or X.shape[1] <= 1 or len(terms) <= 1:
        basis = type1_basis(X)
        return {term.label: basis[list(term.columns)] for term in terms}
    if kind == "II":
        return {term.label: _type2(structure, term) for term in terms}
    if kind == "III":
        return type3_contrasts(structure)
    raise BayesmixedError(f"type must be 'I', 'II' or 'III'; got {kind!r}")


def _type2(structure: TermStructure, term: FixedTerm) -> np.ndarray:
    """T after all terms not containing it: Type I rows of X with T and its containers moved last."""
    X = structure.X
    containers = structure.containers(term)
    if not containers:
        return np.eye(X.shape[1])[list(term.columns)]
    moved = list(term.columns) + [c for other in containers for c in other.columns]
    order = [c for c in range(X.shape[1]) if c not in moved] + moved
    basis = type1_basis(X[:, order])
    rows = [order.index(c) for c in term.columns]
    out = np.zeros((len(rows), X.shape[1]))
    out[:, order] = basis[rows]
    return out


def wald_type2(structure: TermStructure, vcov: np.ndarray) -> dict[str, np.ndarray]:
    """car's type II hypotheses: T's coefficients after its relatives', orthogonal in the vcov metric."""
    p = structure.X.shape[1]
    identity = np.eye(p)
    out = {}
    for term in structure.terms:
        relatives = [c for other in structure.terms if term.relative_of(other) for c in other.columns]
        if not relatives:
            out[term.label] = identity[list(term.columns)]
            continue
        both = identity[relatives + list(term.columns)].T  # p x (r + t)
        cross = both.T @ vcov @ identity[relatives].T
        out[term.label] = _nonzero_rows((both @ linalg.null_space(cross.T)).T)
    return out


def type3_contrasts(structure: TermStructure) -> dict[str, np.ndarray]:
    """SAS/lmerTest type III hypotheses, built in treatment coding and mapped to the fit's coding."""
    if structure.variables is None:
        raise BayesmixedError("type III tests need the fit's model frame; this design was built without it")
    cells, cell_terms, treatment, _ = _cell_design(structure, structure.variables)
    X_trt = cells[:, treatment]
    trt_terms = cell_terms[treatment]
    pseudo = np.linalg.pinv(X_trt)
    L = zapsmall((pseudo @ cells).T)  # cell parameters x treatment coefficients
    by_term = {term.label: np.flatnonzero(trt_terms == index) for index, term in enumerate(structure.terms)}
    for term in sorted(structure.terms, key=lambda t: -t.order):  # higher order first, stable
        containers = structure.containers(term)
        if not containers:
            continue
        own = by_term[term.label]
        others = np.concatenate([by_term[c.label] for c in containers])
        design = L[:, others]
        coefficients, *_ = np.linalg.lstsq(design, L[:, own], rcond=None)
        L[:, own] = zapsmall(L[:, own] - design @ coefficients)
    L = L[treatment]
    to_fit = zapsmall(pseudo @ structure.X)
    return {term.label: _nonzero_rows(L[:, by_term[term.label]].T) @ to_fit for term in structure.terms}


def empty_cells(structure: TermStructure) -> list[str]:
    """Cells of the model's terms (~ 0 + term columns) with no observation (lmerTest's "Missing cells")."""
    if structure.variables is None:
        return []
    cells, owners, _, names = _cell_design(structure, structure.variables)
    return [name for name, column, owner in zip(names, cells.T, owners) if owner >= 0 and not np.any(column)]


def _raw_categorical(expression: str) -> str:
    match = _CATEGORICAL_CALL.match(expression)
    return match.group(1).strip() if match else expression.strip("`")


def _level_codes(frame: pd.DataFrame, variable: str, levels: tuple[Any, ...]) -> np.ndarray:
    """Each row's level (0-based, in the fit's order) of a categorical variable."""
    raw = _raw_categorical(variable)
    if raw not in frame.columns:
        raise BayesmixedError(f"type III tests cannot rebuild the factor {variable!r} from the data; use type='II'")
    codes = pd.Categorical(frame[raw], categories=list(levels)).codes
    if np.any(codes < 0):
        raise BayesmixedError(f"type III tests cannot rebuild the levels of {variable!r} from the column {raw!r}; "
                              "use type='II'")
    return codes


def _cell_design(structure: TermStructure, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The cell-means columns (~ 0 + term per term, intercept first), the term of each column (-1: the
    intercept), which of them make the treatment-coded X (R's rule, aliased columns dropped), and names."""
    blocks, owners, treatment_mask, names = [], [], [], []
    if structure.intercept:
        blocks.append(np.ones((len(frame), 1)))
        owners.append(np.array([-1]))
        treatment_mask.append(np.array([True]))
        names.append("(Intercept)")
    present = {frozenset(term.variables) for term in structure.terms}
    if structure.intercept:
        present.add(frozenset())
    for index, term in enumerate(structure.terms):
        columns, reference, labels = [np.ones(len(frame))], [False], [""]
        for variable in term.variables:
            if variable in term.numerics:
                # one column for most, several for poly(x, k) and the like
                values = _numeric_values(variable, frame)
                columns = [c * values[:, j] for j in range(values.shape[1]) for c in columns]
                reference = [r for _ in range(values.shape[1]) for r in reference]
                labels = [f"{label}:{variable}" + (f"{j + 1}" if values.shape[1] > 1 else "")
                          for j in range(values.shape[1]) for label in labels]
                continue
            levels = structure.levels[variable]
            codes = _level_codes(frame, variable, levels)
            indicators = [(codes == k).astype(float) for k in range(len(levels))]
            # R's rule: a factor is coded by contrasts when the term without it is in the model.
            reduced = frozenset(v for v in term.variables if v != variable) in present
            columns = [c * indicator for indicator in indicators for c in columns]
            reference = [r or (reduced and k == 0) for k in range(len(levels)) for r in reference]
            labels = [f"{label}:{variable}{level}" for level in levels for label in labels]
        blocks.append(np.column_stack(columns))
        owners.append(np.full(len(columns), index))
        treatment_mask.append(~np.array(reference, dtype=bool))
        names.extend(label[1:] for label in labels)
    cells = np.column_stack(blocks)
    candidates = np.flatnonzero(np.concatenate(treatment_mask))
    kept = candidates[independent_columns(cells[:, candidates])]
    return cells, np.concatenate(owners), kept, names

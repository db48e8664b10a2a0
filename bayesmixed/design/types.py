"""The frozen design every engine consumes: X, y, and one sparse Z block per random term.

y = Xβ + Zγ + ε with γ = Λ(θ)u, u ~ N(0, σ²I): each random term owns a k x k lower-triangular
block of Λ(θ) (diagonal when its columns are uncorrelated), repeated over the term's levels.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass(frozen=True, eq=False)
class RandomTerm:
    """One random-effects term `(columns | group)`.

    Z has n rows and n_levels * n_columns columns laid out level-major, as lme4's Zt:
    column j * n_columns + c holds column c of the term's model matrix on the rows of level j.
    """

    group: str
    levels: tuple[str, ...]
    columns: tuple[str, ...]
    correlated: bool
    Z: sp.csc_matrix
    codes: np.ndarray
    matrix: np.ndarray
    lhs: str
    group_factors: tuple[str, ...]
    lhs_spec: Any = field(repr=False, default=None)

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def n_columns(self) -> int:
        return len(self.columns)

    @property
    def size(self) -> int:
        """Number of random effects, n_levels * n_columns."""
        return self.n_levels * self.n_columns

    @property
    def n_theta(self) -> int:
        k = self.n_columns
        return k * (k + 1) // 2 if self.correlated else k

    def theta_pattern(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) of Λ's k x k block filled by this term's θ, column-wise lower triangle (lme4's order)."""
        k = self.n_columns
        if not self.correlated:
            idx = np.arange(k)
            return idx, idx
        rows, cols = [], []
        for c in range(k):
            for r in range(c, k):
                rows.append(r)
                cols.append(c)
        return np.array(rows), np.array(cols)

    def theta_names(self) -> list[str]:
        """lme4's names: 'g.(Intercept)' on the diagonal, 'g.row.col' below it."""
        rows, cols = self.theta_pattern()
        names = []
        for r, c in zip(rows, cols):
            if r == c:
                names.append(f"{self.group}.{self.columns[r]}")
            else:
                names.append(f"{self.group}.{self.columns[r]}.{self.columns[c]}")
        return names

    def lambda_block(self, theta_term: np.ndarray) -> np.ndarray:
        """The k x k lower-triangular block of Λ for this term's slice of θ."""
        k = self.n_columns
        block = np.zeros((k, k))
        rows, cols = self.theta_pattern()
        block[rows, cols] = theta_term
        return block

    @property
    def has_correlations(self) -> bool:
        """Whether Λ's block has entries below the diagonal (a correlated term with 2+ columns)."""
        return self.n_theta > self.n_columns

    @property
    def label(self) -> str:
        """The term as lme4 writes it after expansion, e.g. '(0 + Days | Subject)'."""
        bar = "||" if self.n_columns > 1 and not self.has_correlations else "|"
        return f"({self.lhs} {bar} {self.group})"

    def __repr__(self) -> str:
        return f"RandomTerm({self.label}: {self.n_levels} levels x {self.n_columns} columns = {self.size} effects)"



@dataclass(frozen=True, eq=False)
class Design:
    """Everything the engines need, built once from a formula and a DataFrame.

    y: response (binomial: successes); trials: binomial trials per row (None otherwise);
    offset: known part of the linear predictor (zeros when the formula has none).
    weights: prior weights wᵢ (None = all 1; lme4's `weights=`): Gaussian residual variance σ²/wᵢ,
        other families the log-likelihood term of row i times wᵢ.  Binomial weights are the trials and are
        already folded into y and trials, so they are None here; weights_name says where weights came from.
    Random terms are in lme4's order: decreasing number of levels, ties in formula order.
    factor_levels: the levels seen of each factor used as a predictor (new data may not add levels).
    """

    formula: str
    family: str
    response: str
    y: np.ndarray
    X: np.ndarray
    fixef_names: tuple[str, ...]
    terms: tuple[RandomTerm, ...]
    offset: np.ndarray
    trials: np.ndarray | None
    row_index: pd.Index
    fixed: Any = field(repr=False)
    offsets: tuple[str, ...] = ()
    response_levels: tuple[str, ...] | None = None
    factor_levels: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)
    weights: np.ndarray | None = None
    weights_name: str | None = None

    @property
    def dropped_fixef(self) -> tuple[str, ...]:
        """Fixed-effect columns dropped as aliased with earlier ones."""
        return self.fixed.dropped

    @property
    def n(self) -> int:
        return self.y.shape[0]

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def q(self) -> int:
        """Total number of random effects."""
        return sum(t.size for t in self.terms)

    @cached_property
    def Z(self) -> sp.csc_matrix:
        """All terms' Z blocks side by side (n x q, sparse)."""
        if not self.terms:
            return sp.csc_matrix((self.n, 0))
        return sp.hstack([t.Z for t in self.terms], format="csc")

    @cached_property
    def theta_slices(self) -> tuple[slice, ...]:
        """Each term's slice of θ."""
        slices, start = [], 0
        for t in self.terms:
            slices.append(slice(start, start + t.n_theta))
            start += t.n_theta
        return tuple(slices)

    @property
    def n_theta(self) -> int:
        return sum(t.n_theta for t in self.terms)

    @cached_property
    def theta_names(self) -> tuple[str, ...]:
        return tuple(name for t in self.terms for name in t.theta_names())

    @cached_property
    def theta_lower(self) -> np.ndarray:
        """Lower bounds of θ: 0 on the diagonal of each Λ block, -inf below it."""
        bounds = []
        for t in self.terms:
            rows, cols = t.theta_pattern()
            bounds.extend(0.0 if r == c else -np.inf for r, c in zip(rows, cols))
        return np.array(bounds)

    @cached_property
    def theta_start(self) -> np.ndarray:
        """lme4's start: Λ = I (1 on diagonals, 0 below)."""
        return np.where(self.theta_lower == 0.0, 1.0, 0.0)

    def lambda_blocks(self, theta: np.ndarray) -> list[np.ndarray]:
        """Per-term k x k blocks of Λ(θ)."""
        return [t.lambda_block(theta[s]) for t, s in zip(self.terms, self.theta_slices)]

    def covariance_blocks(self, theta: np.ndarray, sigma: float = 1.0) -> list[np.ndarray]:
        """Per-term covariance of γ for one level: σ² Λ_b Λ_b'."""
        return [sigma**2 * (b @ b.T) for b in self.lambda_blocks(theta)]

    def random_effects_from_spherical(self, theta: np.ndarray, u: np.ndarray, first: int = 0
                                      ) -> tuple[np.ndarray, ...]:
        """b = Λ(θ)u per term, each as (..., levels, columns), from spherical effects u (..., q) laid out as
        Z's columns (level-major within each term).  With first > 0, u holds only the terms from that one on."""
        effects, start = [], 0
        for term, block in list(zip(self.terms, self.lambda_blocks(theta)))[first:]:
            part = np.ascontiguousarray(u[..., start:start + term.size])
            effects.append(part.reshape(part.shape[:-1] + (term.n_levels, term.n_columns)) @ block.T)
            start += term.size
        return tuple(effects)

    def Lambda(self, theta: np.ndarray) -> sp.csc_matrix:
        """Λ(θ) as a sparse block-diagonal q x q matrix (each term's block repeated over its levels)."""
        blocks = [sp.kron(sp.identity(t.n_levels), sp.csr_matrix(b)) for t, b in zip(self.terms, self.lambda_blocks(theta))]
        if not blocks:
            return sp.csc_matrix((0, 0))
        return sp.block_diag(blocks, format="csc")

    def terms_for_group(self, group: str) -> list[RandomTerm]:
        return [t for t in self.terms if t.group == group]

    @cached_property
    def groups(self) -> tuple[str, ...]:
        """Distinct grouping factors, in term order (`(x || g)` gives two terms, one group)."""
        return tuple(dict.fromkeys(t.group for t in self.terms))

    def intercept_only(self) -> "Design":
        """The same design with the intercept as its only fixed effect (the null model of R² and the ICC)."""
        return replace(self, X=np.ones((self.n, 1)), fixef_names=("(Intercept)",))

    def new_data_matrices(self, newdata: pd.DataFrame) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """X and per-term (level codes, term matrix) for new data, encoded as in the fit; unseen levels get -1."""
        from .newdata import new_data_matrices

        return new_data_matrices(self, newdata)

    def new_offset(self, newdata: pd.DataFrame) -> np.ndarray:
        """The formula's offset evaluated on new data (zeros when it has none)."""
        from .newdata import new_offset

        return new_offset(self, newdata)

    def __repr__(self) -> str:
        terms = ", ".join(repr(t) for t in self.terms)
        return f"Design({self.formula!r}, n={self.n}, X={self.n}x{self.p}, terms=[{terms}])"

"""The weighted penalised least-squares system that one PIRLS step solves, handed to the shared factor.

For working weights w, the step δ = (δu, δβ) solves (M'WM + P) δ = M'W r - P [u; 0] with
M = [ZΛ, X] (X only while β is estimated inside PIRLS) and P = diag(1 for u, 0 for β).  That matrix
is the blocked system of engines/blocked_factor.py with C = [Z_2 ... Z_m (, X)]: this module only
assembles its weighted cross-products Z₁'WZ₁, Z₁'WC and C'WC at each step, and the shared factor
scales them by Λ(θ), eliminates the first term level by level and factors the rest.  Cross-products
are accumulated from each row's level code with `np.bincount`: every row sits in exactly one level
of each term, so nothing of size n x q is formed and each step costs O(n k²) plus the dense Cholesky.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ...design.types import Design, RandomTerm
from .. import blocked_factor
from ..blocked_factor import (BlockedFactor, BlockedSystem, LambdaPattern, column_products, lambda_pattern,
                              level_crossprods)


@dataclass(frozen=True, eq=False)
class TermRows:
    """One random term's rows of Z and of ZΛ(θ): row i holds `matrix[i]` in Z and `values[i]` in ZΛ
    (k entries each) at level `codes[i]`.

    products: column_products(matrix), for the weighted per-level cross-products.
    transpose: the pattern of Z_t' (levels*k x n, CSR); `entry_row` says which row i, and
    `entry_flat` which element i*k + c of `matrix`, each of its stored entries is.
    """

    codes: np.ndarray
    n_levels: int
    k: int
    matrix: np.ndarray
    products: np.ndarray
    values: np.ndarray
    transpose: sp.csr_matrix
    entry_row: np.ndarray
    entry_flat: np.ndarray

    @property
    def size(self) -> int:
        return self.n_levels * self.k

    def weighted_transpose(self, weights: np.ndarray) -> sp.csr_matrix:
        """Z_t' W as a sparse (levels*k x n) matrix."""
        data = (weights[:, None] * self.matrix).ravel()[self.entry_flat]
        return sp.csr_matrix((data, self.transpose.indices, self.transpose.indptr), shape=self.transpose.shape)

    def times(self, u_term: np.ndarray) -> np.ndarray:
        """(ZΛ)_t u_t: Σ_c values[i, c] u[codes_i * k + c] per row."""
        if self.k == 1:
            return self.values[:, 0] * u_term[self.codes]
        return np.einsum("ic,ic->i", self.values, u_term.reshape(self.n_levels, self.k)[self.codes])

    def level_sums(self, data: np.ndarray) -> np.ndarray:
        """Σ_{i in level} values[i, c] · data_i, laid out level-major (levels*k,)."""
        if self.k == 1:
            return np.bincount(self.codes, weights=self.values[:, 0] * data, minlength=self.n_levels)
        out = np.empty((self.n_levels, self.k))
        for c in range(self.k):
            out[:, c] = np.bincount(self.codes, weights=self.values[:, c] * data, minlength=self.n_levels)
        return out.ravel()


def term_rows(term: RandomTerm, block: np.ndarray) -> TermRows:
    """The term's rows for its Λ block: values = term.matrix @ block."""
    transpose = term.Z.T.tocsr()
    transpose.sort_indices()
    entry_row = transpose.indices.astype(np.int64)
    entry_col = np.repeat(np.arange(transpose.shape[0]) % term.n_columns, np.diff(transpose.indptr))
    entry_flat = entry_row * term.n_columns + entry_col
    return TermRows(term.codes, term.n_levels, term.n_columns, term.matrix, column_products(term.matrix),
                    term.matrix @ block, transpose, entry_row, entry_flat)


@dataclass(frozen=True, eq=False)
class ThetaRows:
    """Z and ZΛ(θ) of every term as TermRows, for one θ (shared by all PIRLS steps at that θ), with θ
    and the design's LambdaPattern for the factor."""

    terms: tuple[TermRows, ...]
    theta: np.ndarray
    pattern: LambdaPattern

    @property
    def q(self) -> int:
        return sum(t.size for t in self.terms)

    def times(self, u: np.ndarray) -> np.ndarray:
        """ZΛu (n,)."""
        out, start = 0.0, 0
        for t in self.terms:
            out = out + t.times(u[start:start + t.size])
            start += t.size
        return out

    def transpose_times(self, data: np.ndarray) -> np.ndarray:
        """(ZΛ)' data (q,)."""
        return np.concatenate([t.level_sums(data) for t in self.terms])


def theta_rows(design: Design, theta: np.ndarray, template: ThetaRows | None = None) -> ThetaRows:
    """ZΛ(θ) for `design`; a template from another θ lends its θ-independent patterns."""
    theta = np.asarray(theta, dtype=float)
    blocks = design.lambda_blocks(theta)
    if template is None:
        return ThetaRows(tuple(term_rows(t, b) for t, b in zip(design.terms, blocks)), theta, lambda_pattern(design))
    return ThetaRows(tuple(
        TermRows(r.codes, r.n_levels, r.k, r.matrix, r.products, r.matrix @ b, r.transpose, r.entry_row, r.entry_flat)
        for r, b in zip(template.terms, blocks)
    ), theta, template.pattern)


def _cross_levels(a: TermRows, b: TermRows, weights: np.ndarray) -> np.ndarray:
    """Z_a' W Z_b as a dense (La*ka x Lb*kb) matrix, by bincount over (level_a, level_b) pairs."""
    pair = a.codes * b.n_levels + b.codes
    out = np.empty((a.n_levels, a.k, b.n_levels, b.k))
    for ca in range(a.k):
        wa = weights * a.matrix[:, ca]
        for cb in range(b.k):
            out[:, ca, :, cb] = np.bincount(pair, weights=wa * b.matrix[:, cb], minlength=a.n_levels * b.n_levels).reshape(
                a.n_levels, b.n_levels
            )
    return out.reshape(a.size, b.size)


def weighted_system(rows: ThetaRows, X: np.ndarray | None, weights: np.ndarray) -> BlockedSystem:
    """The blocked system of M'WM + P for C = [Z_2 ... Z_m, X] (X None: the other terms only)."""
    first, rest = rows.terms[0], rows.terms[1:]
    q_rest = rows.q - first.size
    p = 0 if X is None else X.shape[1]
    m = q_rest + p
    G = np.empty((first.size, m))  # Z₁'WC
    wtw = np.zeros((m, m))  # C'WC on and below its diagonal blocks: the factor reads the lower triangle only
    start = 0
    for i, t in enumerate(rest):
        stop = start + t.size
        G[:, start:stop] = _cross_levels(first, t, weights)
        level_start = start + t.k * np.arange(t.n_levels)[:, None, None]
        columns = np.arange(t.k)
        wtw[level_start + columns[:, None], level_start + columns[None, :]] = level_crossprods(
            t.codes, t.products, t.n_levels, t.k, weights)
        inner = stop
        for s in rest[i + 1:]:
            wtw[inner:inner + s.size, start:stop] = _cross_levels(s, t, weights)
            inner += s.size
        start = stop
    if X is not None:
        G[:, q_rest:] = first.weighted_transpose(weights) @ X
        start = 0
        for t in rest:
            wtw[q_rest:, start:start + t.size] = (t.weighted_transpose(weights) @ X).T
            start += t.size
        wtw[q_rest:, q_rest:] = X.T @ (X * weights[:, None])
    return BlockedSystem(
        pattern=rows.pattern,
        first_crossprod=level_crossprods(first.codes, first.products, first.n_levels, first.k, weights),
        first_rhs=None,
        schur_map=None,  # G changes with the weights at every step: nothing to precompute
        first_rhs_dense=G.reshape(first.n_levels, first.k, m),
        wtw=wtw,
        p=p,
        log_weights=0.0,  # working weights are not a residual variance's: log|Λ'Z'WZΛ + I| itself
    )


def factorize(rows: ThetaRows, X: np.ndarray | None, weights: np.ndarray) -> BlockedFactor:
    """Factor M'WM + P for M = [ZΛ, X] (X None: u only) at the θ of `rows`; raises LinAlgError if it is
    not positive definite."""
    return blocked_factor.factorize(weighted_system(rows, X, weights), rows.theta)


def leverages(factor: BlockedFactor, rows: ThetaRows) -> np.ndarray:
    """h_i = r_i'(Λ'Z'WZΛ + I)⁻¹r_i for each row r_i = Λ'z_i of ZΛ, i.e. z_i'Vz_i with
    V = Λ(Λ'Z'WZΛ + I)⁻¹Λ' (the random effects' part of `factor`: β's columns, if any, do not enter)."""
    first_cov, first_rest, rest_cov = factor.inverse_parts()
    first, rest = rows.terms[0], rows.terms[1:]
    h = np.einsum("ia,iab,ib->i", first.matrix, first_cov[first.codes], first.matrix)
    if not rest:
        return h
    # Column of the rest block holding (term t, row i's level, column c), and the row's value there.
    index = np.concatenate([
        offset + t.codes[:, None] * t.k + np.arange(t.k)
        for offset, t in zip(np.cumsum([0] + [t.size for t in rest[:-1]]), rest)
    ], axis=1)
    values = np.concatenate([t.matrix for t in rest], axis=1)
    for a in range(first.k):
        gathered = first_rest[(first.codes * first.k + a)[:, None], index]
        h += 2.0 * first.matrix[:, a] * np.einsum("ij,ij->i", gathered, values)
    for j in range(index.shape[1]):
        h += values[:, j] * np.einsum("ij,ij->i", rest_cov[index[:, j][:, None], index], values)
    return h

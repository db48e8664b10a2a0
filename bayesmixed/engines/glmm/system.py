"""The weighted penalised least-squares system that one PIRLS step solves, in blocked form.

For working weights w, the step δ = (δu, δβ) solves (M'WM + P) δ = M'W r - P [u; 0] with
M = [ZΛ, X] (X only while β is estimated inside PIRLS) and P = diag(1 for u, 0 for β).
The first (largest) random term's block Λ₁'Z₁'WZ₁Λ₁ + I is block-diagonal over its levels, so it is
held as (L₁, k₁, k₁) blocks and eliminated first; what remains (other terms' effects, then β) is one
dense m x m Schur complement.  Cross-products are accumulated from each row's level code with
`np.bincount`: every row sits in exactly one level of each term, so nothing of size n x q is formed
and each step costs O(n k²) plus the dense m x m Cholesky.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp

from ...design.types import Design, RandomTerm


@dataclass(frozen=True, eq=False)
class TermRows:
    """One random term's rows of ZΛ(θ): row i holds `values[i]` (k entries) at level `codes[i]`.

    transpose: the pattern of Z_t' (levels*k x n, CSR); `entry_row` says which row i, and
    `entry_flat` which element i*k + c of `values`, each of its stored entries is.
    """

    codes: np.ndarray
    n_levels: int
    k: int
    values: np.ndarray
    transpose: sp.csr_matrix
    entry_row: np.ndarray
    entry_flat: np.ndarray

    @property
    def size(self) -> int:
        return self.n_levels * self.k

    @cached_property
    def squares(self) -> np.ndarray:
        """values² of a scalar term (reused by every PIRLS step at this θ)."""
        return self.values[:, 0] ** 2

    def weighted_transpose(self, weights: np.ndarray) -> sp.csr_matrix:
        """(ZΛ)_t' W as a sparse (levels*k x n) matrix."""
        data = (weights[:, None] * self.values).ravel()[self.entry_flat]
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
    """The term's rows of ZΛ for its Λ block: values = term.matrix @ block."""
    transpose = term.Z.T.tocsr()
    transpose.sort_indices()
    entry_row = transpose.indices.astype(np.int64)
    entry_col = np.repeat(np.arange(transpose.shape[0]) % term.n_columns, np.diff(transpose.indptr))
    entry_flat = entry_row * term.n_columns + entry_col
    return TermRows(term.codes, term.n_levels, term.n_columns, term.matrix @ block, transpose, entry_row, entry_flat)


@dataclass(frozen=True, eq=False)
class ThetaRows:
    """ZΛ(θ) of every term as TermRows, for one θ (shared by all PIRLS steps at that θ)."""

    terms: tuple[TermRows, ...]

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
    """ZΛ(θ) for `design`; a template from another θ lends its θ-independent sparse patterns."""
    blocks = design.lambda_blocks(theta)
    if template is None:
        return ThetaRows(tuple(term_rows(t, b) for t, b in zip(design.terms, blocks)))
    return ThetaRows(tuple(
        TermRows(r.codes, r.n_levels, r.k, term.matrix @ b, r.transpose, r.entry_row, r.entry_flat)
        for r, term, b in zip(template.terms, design.terms, blocks)
    ))


def _cross_levels(a: TermRows, b: TermRows, weights: np.ndarray) -> np.ndarray:
    """(ZΛ)_a' W (ZΛ)_b as a dense (La*ka x Lb*kb) matrix, by bincount over (level_a, level_b) pairs."""
    pair = a.codes * b.n_levels + b.codes
    out = np.empty((a.n_levels, a.k, b.n_levels, b.k))
    for ca in range(a.k):
        wa = weights * a.values[:, ca]
        for cb in range(b.k):
            out[:, ca, :, cb] = np.bincount(pair, weights=wa * b.values[:, cb], minlength=a.n_levels * b.n_levels).reshape(
                a.n_levels, b.n_levels
            )
    return out.reshape(a.size, b.size)


def _level_blocks(t: TermRows, weights: np.ndarray) -> np.ndarray:
    """Per-level Σ_i w_i r_i r_i' of one term: (levels, k, k)."""
    if t.k == 1:
        return np.bincount(t.codes, weights=weights * t.squares, minlength=t.n_levels)[:, None, None]
    out = np.empty((t.n_levels, t.k, t.k))
    for a in range(t.k):
        wa = weights * t.values[:, a]
        for b in range(a, t.k):
            out[:, a, b] = out[:, b, a] = np.bincount(t.codes, weights=wa * t.values[:, b], minlength=t.n_levels)
    return out


@dataclass(frozen=True, eq=False)
class WeightedFactor:
    """Cholesky factors of M'WM + P at one (θ, w), blocked as described in the module docstring.

    first_chol: (L₁, k₁, k₁) lower Cholesky factors of the first term's diagonal blocks;
    cross: C = M_rest'W M_1 (m x q₁) with the rest = other terms' effects then (optionally) β;
    first_solve_cross: B₁⁻¹C' (q₁ x m); schur_chol: lower Cholesky factor of the m x m Schur complement.
    """

    q1: int
    k1: int
    q_rest: int
    first_chol: np.ndarray
    cross: np.ndarray
    first_solve_cross: np.ndarray
    schur_chol: np.ndarray

    @property
    def logdet_random(self) -> float:
        """log|Λ'Z'WZΛ + I| (β, when present, is eliminated last and does not enter)."""
        first = 2.0 * np.log(np.diagonal(self.first_chol, axis1=1, axis2=2)).sum()
        return float(first + 2.0 * np.log(np.diag(self.schur_chol)[: self.q_rest]).sum())

    @property
    def first_diagonal(self) -> np.ndarray:
        """Diagonal of L for a scalar first term: sqrt(λ² Σ w z² + 1) per level (lme4's L()@x)."""
        return self.first_chol[:, 0, 0]

    def _first_solve(self, rhs: np.ndarray) -> np.ndarray:
        """B₁⁻¹ rhs for rhs (q₁,) or (q₁, r), block by block."""
        if self.k1 == 1:
            d = self.first_chol[:, 0, 0] ** 2
            return rhs / (d if rhs.ndim == 1 else d[:, None])
        shaped = rhs.reshape(self.first_chol.shape[0], self.k1, -1)
        half = np.linalg.solve(self.first_chol, shaped)
        return np.linalg.solve(np.swapaxes(self.first_chol, 1, 2), half).reshape(rhs.shape)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """(M'WM + P)⁻¹ rhs for rhs (q₁ + m,) by block elimination."""
        first, rest = rhs[: self.q1], rhs[self.q1:]
        t = self._first_solve(first)
        if rest.size == 0:
            return t
        x_rest = la.cho_solve((self.schur_chol, True), rest - self.cross @ t, check_finite=False)
        return np.concatenate([t - self.first_solve_cross @ x_rest, x_rest])

    def random_part(self) -> "WeightedFactor":
        """The factor of Λ'Z'WZΛ + I alone: β's rows, eliminated last in a joint factor, are dropped."""
        r = self.q_rest
        return WeightedFactor(self.q1, self.k1, r, self.first_chol, self.cross[:r], self.first_solve_cross[:, :r], self.schur_chol[:r, :r])

    def inverse_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pieces of (M'WM + P)⁻¹: the first term's diagonal k₁ x k₁ blocks (L₁, k₁, k₁), the
        first-term x rest block (q₁ x m) and the rest x rest block (m x m)."""
        n_levels = self.q1 // self.k1
        first_inv = self._first_solve(np.tile(np.eye(self.k1), (n_levels, 1))).reshape(n_levels, self.k1, self.k1)
        m = self.schur_chol.shape[0]
        if m == 0:
            return first_inv, np.zeros((self.q1, 0)), np.zeros((0, 0))
        rest_inv = la.cho_solve((self.schur_chol, True), np.eye(m), check_finite=False)
        # Block inverse: off-diagonal -B₁⁻¹C'S⁻¹; first-term blocks B₁⁻¹ + B₁⁻¹C'S⁻¹CB₁⁻¹.
        first_rest = -self.first_solve_cross @ rest_inv
        g = self.first_solve_cross.reshape(n_levels, self.k1, m)
        first_inv = first_inv - np.einsum("lam,lbm->lab", first_rest.reshape(n_levels, self.k1, m), g)
        return first_inv, first_rest, rest_inv


def leverages(factor: WeightedFactor, rows: ThetaRows) -> np.ndarray:
    """h_i = r_i'(Λ'Z'WZΛ + I)⁻¹r_i for each row r_i of ZΛ (`factor` of the random effects only)."""
    first_inv, first_rest, rest_inv = factor.inverse_parts()
    first, rest = rows.terms[0], rows.terms[1:]
    h = np.einsum("ia,iab,ib->i", first.values, first_inv[first.codes], first.values)
    if not rest:
        return h
    # Column of the rest block holding (term t, row i's level, column c), and the row's value there.
    index = np.concatenate([
        offset + t.codes[:, None] * t.k + np.arange(t.k)
        for offset, t in zip(np.cumsum([0] + [t.size for t in rest[:-1]]), rest)
    ], axis=1)
    values = np.concatenate([t.values for t in rest], axis=1)
    for a in range(first.k):
        gathered = first_rest[(first.codes * first.k + a)[:, None], index]
        h += 2.0 * first.values[:, a] * np.einsum("ij,ij->i", gathered, values)
    for j in range(index.shape[1]):
        h += values[:, j] * np.einsum("ij,ij->i", rest_inv[index[:, j][:, None], index], values)
    return h


def random_inverse_blocks(factor: WeightedFactor, rows: ThetaRows) -> list[np.ndarray]:
    """Per term, the diagonal k x k blocks of (Λ'Z'WZΛ + I)⁻¹ over its levels: (levels, k, k) each."""
    first_inv, _, rest_inv = factor.inverse_parts()
    blocks, start = [first_inv], 0
    for t in rows.terms[1:]:
        part = rest_inv[start:start + t.size, start:start + t.size].reshape(t.n_levels, t.k, t.n_levels, t.k)
        blocks.append(part[np.arange(t.n_levels), :, np.arange(t.n_levels), :])
        start += t.size
    return blocks


def _cholesky_blocks(blocks: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of (L, k, k) blocks (a square root when k = 1)."""
    if blocks.shape[1] == 1:
        if np.any(blocks <= 0.0):
            raise np.linalg.LinAlgError("a diagonal block is not positive definite")
        return np.sqrt(blocks)
    return np.linalg.cholesky(blocks)


def factorize(rows: ThetaRows, X: np.ndarray | None, weights: np.ndarray) -> WeightedFactor:
    """Factor M'WM + P for M = [ZΛ, X] (X None: u only); raises LinAlgError if not positive definite."""
    first, rest = rows.terms[0], rows.terms[1:]
    blocks = _level_blocks(first, weights)
    blocks[:, np.arange(first.k), np.arange(first.k)] += 1.0
    first_chol = _cholesky_blocks(blocks)

    q_rest = sum(t.size for t in rest)
    m = q_rest + (0 if X is None else X.shape[1])
    if m == 0:
        empty = np.zeros((0, first.size))
        return WeightedFactor(first.size, first.k, 0, first_chol, empty, empty.T, np.zeros((0, 0)))
    # Lower triangle of M_rest'WM_rest + P (rest = other terms' effects, then β), and C = M_rest'WM_1.
    dense = np.zeros((m, m))
    cross = np.empty((m, first.size))
    start = 0
    for i, t in enumerate(rest):
        stop = start + t.size
        cross[start:stop] = _cross_levels(t, first, weights)
        diagonal = _level_blocks(t, weights)
        diagonal[:, np.arange(t.k), np.arange(t.k)] += 1.0
        level_start = start + t.k * np.arange(t.n_levels)[:, None, None]
        columns = np.arange(t.k)
        dense[level_start + columns[:, None], level_start + columns[None, :]] = diagonal
        inner = stop
        for s in rest[i + 1:]:
            dense[inner:inner + s.size, start:stop] = _cross_levels(s, t, weights)
            inner += s.size
        start = stop
    if X is not None:
        cross[q_rest:] = (first.weighted_transpose(weights) @ X).T
        start = 0
        for t in rest:
            dense[q_rest:, start:start + t.size] = (t.weighted_transpose(weights) @ X).T
            start += t.size
        dense[q_rest:, q_rest:] = X.T @ (X * weights[:, None])

    if first.k == 1:
        first_solve_cross = cross.T / blocks[:, 0, :]
    else:
        shaped = cross.T.reshape(first.n_levels, first.k, m)
        first_solve_cross = np.linalg.solve(blocks, shaped).reshape(first.size, m)
    dense = np.tril(dense)
    schur = dense + np.tril(dense, -1).T - cross @ first_solve_cross
    return WeightedFactor(first.size, first.k, q_rest, first_chol, cross, first_solve_cross, np.linalg.cholesky(schur))

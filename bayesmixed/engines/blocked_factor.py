"""The blocked Cholesky factor of the weighted penalised least-squares system, shared by every engine.

With row weights w (W = diag w) and C = [Z_2 ... Z_m, X (, y)] the columns after the first random term:
    [Λ₁'Z₁'WZ₁Λ₁ + I, Λ₁'Z₁'WCΛ_C; ·, Λ_C'C'WCΛ_C + P] = L L',
Λ_C being Λ for the other terms' effects and the identity for X (and y), P = I on the other terms' effects.
The first (largest) term's block is block-diagonal over its levels, A_j = Λ₁'(Z₁'WZ₁)_jΛ₁ + I, so it is
factored level by level and eliminated; what remains is one dense Schur complement
    S = Λ_C'(C'WC - Σ_j G_j'M_jG_j)Λ_C + P,  G = Z₁'WC,  M_j = Λ₁A_j⁻¹Λ₁',
with its own dense Cholesky factor (MixedModels.jl's blocked Cholesky, whose GLMM wraps its LMM).

The engines differ only in the weights and in how they assemble the θ-independent cross-products
Z₁'WZ₁, G and C'WC into a `BlockedSystem`: the LMM once per design (unit or prior weights; y is C's last
column, so S's last diagonal element is r(θ); engines/lmm/system.py, which also precomputes Σ G_j'M_jG_j
as a sparse linear map of vec(M)), the GLMM at every PIRLS step from its working weights
(engines/glmm/system.py).  Everything θ-dependent - scaling by Λ, the factorisation, log-determinants,
solves and the blocks of the inverse - happens here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.linalg.lapack import dtrtri

from ..design.types import Design
from ..errors import BayesmixedError
from .lapack import cholesky_lower

# Levels of the first term handled at once in the inverse's blocks (bounds a q₁ x q_rest array).
LEVEL_CHUNK = 2048
# Where b11, b21, b22 go in a row-major symmetric 2 x 2 block.
_SYMMETRIC_TWO = np.array([0, 1, 1, 2])


class NotPositiveDefinite(BayesmixedError, np.linalg.LinAlgError):
    """The dense block's Cholesky factorisation failed.  A BayesmixedError for the LMM's callers (there
    only an aliased fixed-effects design can cause it), a LinAlgError for PIRLS, which reports it as a
    failed step."""


@dataclass(frozen=True, eq=False)
class LambdaPattern:
    """Where θ enters Λ, per design (θ- and weight-independent).

    first_slice: the first term's θ; first_k: its columns k₁.
    first_index: (k₁, k₁) indices into θe = [θ, 0] with Λ₁ = θe[first_index] (len(θ) means 0).
    first_kron_index: (a, b) with (Λ₁⊗Λ₁)[i*k+j, l*k+m] = Λ₁[i,l] Λ₁[j,m] = θe[a] θe[b].
    rest_index: θ index of Λ's diagonal entry for each of the other terms' effects (q_rest,).
    rest_offdiag: (row, col, θ index) of Λ's below-diagonal entries for the other terms.
    rest_shapes: (levels, columns) of each term after the first.
    q_rest: the number of the other terms' effects; rest_is_diagonal: whether their Λ has no rest_offdiag.
    """

    first_slice: slice
    first_k: int
    first_index: np.ndarray
    first_kron_index: tuple[np.ndarray, np.ndarray]
    rest_index: np.ndarray
    rest_offdiag: tuple[np.ndarray, np.ndarray, np.ndarray]
    rest_shapes: tuple[tuple[int, int], ...]
    q_rest: int
    rest_is_diagonal: bool

    def first_lambda(self, theta: np.ndarray) -> np.ndarray:
        """Λ₁, the first term's k₁ x k₁ block."""
        return np.append(theta, 0.0)[self.first_index]


def lambda_pattern(design: Design) -> LambdaPattern:
    """The LambdaPattern of `design` (needs at least one random term)."""
    first = design.terms[0]
    k = first.n_columns
    rows, cols = first.theta_pattern()
    first_index = np.full((k, k), design.n_theta)
    first_index[rows, cols] = design.theta_slices[0].start + np.arange(rows.size)
    kron_a = np.broadcast_to(first_index[:, None, :, None], (k, k, k, k)).reshape(k * k, k * k)
    kron_b = np.broadcast_to(first_index[None, :, None, :], (k, k, k, k)).reshape(k * k, k * k)
    diagonal, off_rows, off_cols, off_index = [], [], [], []
    start = 0
    for term, theta_slice in zip(design.terms[1:], design.theta_slices[1:]):
        kt = term.n_columns
        t_rows, t_cols = term.theta_pattern()
        theta_index = np.arange(theta_slice.start, theta_slice.stop)
        diag_index = np.empty(kt, dtype=np.int64)
        diag_index[t_rows[t_rows == t_cols]] = theta_index[t_rows == t_cols]
        level_offsets = start + kt * np.arange(term.n_levels)
        diagonal.append(np.tile(diag_index, term.n_levels))
        below = t_rows != t_cols
        if below.any():
            off_rows.append((level_offsets[:, None] + t_rows[below][None, :]).ravel())
            off_cols.append((level_offsets[:, None] + t_cols[below][None, :]).ravel())
            off_index.append(np.tile(theta_index[below], term.n_levels))
        start += term.size
    empty = np.array([], dtype=np.int64)
    return LambdaPattern(
        first_slice=design.theta_slices[0],
        first_k=k,
        first_index=first_index,
        first_kron_index=(kron_a.copy(), kron_b.copy()),
        rest_index=np.concatenate(diagonal).astype(np.int64) if diagonal else empty,
        rest_offdiag=tuple(np.concatenate(parts).astype(np.int64) if parts else empty
                           for parts in (off_rows, off_cols, off_index)),
        rest_shapes=tuple((t.n_levels, t.n_columns) for t in design.terms[1:]),
        q_rest=sum(t.size for t in design.terms[1:]),
        rest_is_diagonal=not off_rows,
    )


def column_products(matrix: np.ndarray) -> np.ndarray:
    """m_a m_b for each row m of an (n, k) matrix and a <= b, as (n, k(k+1)/2) in np.triu_indices order."""
    rows, cols = np.triu_indices(matrix.shape[1])
    return matrix[:, rows] * matrix[:, cols]


def level_crossprods(codes: np.ndarray, products: np.ndarray, n_levels: int, k: int,
                     weights: np.ndarray | None = None) -> np.ndarray:
    """Per-level Σ_i w_i m_i m_i' over the rows i of each level, (L, k, k), from column_products(m):
    O(n k²) by bincount (the products are θ- and weight-free, so a caller can keep them)."""
    out = np.empty((n_levels, k, k))
    j = 0
    for a in range(k):  # np.triu_indices's order, without its cost in PIRLS's inner loop
        for b in range(a, k):
            data = products[:, j] if weights is None else weights * products[:, j]
            out[:, a, b] = out[:, b, a] = np.bincount(codes, weights=data, minlength=n_levels)
            j += 1
    return out


@dataclass(frozen=True, eq=False)
class BlockedSystem:
    """The θ-independent weighted cross-products of one system, in the blocks the factor eliminates.

    first_crossprod: (L₁, k₁, k₁) per-level (Z₁'WZ₁)_j.
    first_rhs: G = Z₁'WC (q₁ x d, sparse CSR, rows level-major as in Z₁), or None where only
        `first_rhs_dense` holds it.
    schur_map: (d*d) x (L₁*k₁*k₁) map with schur_map @ vec(M) = lower triangle of Σ_j G_j'M_jG_j (sparse,
        or a dense array when small), or None: then `first_rhs_dense` holds G as (L₁, k₁, d).
    wtw: C'WC (d x d, dense), of which only the lower triangle is read.
    p: X's columns in C (after the other terms' effects; 0 where C holds no X).
    log_weights: Σ log wᵢ where w are a Gaussian model's prior weights (residual variance σ²/wᵢ), so that
        logdet_random is that of y's marginal covariance over σ² (lme4's ldL2 - ldW); 0 otherwise.
    """

    pattern: LambdaPattern
    first_crossprod: np.ndarray
    first_rhs: sp.csr_matrix | None
    schur_map: sp.csc_matrix | np.ndarray | None
    first_rhs_dense: np.ndarray | None
    wtw: np.ndarray
    p: int
    log_weights: float

    @property
    def d(self) -> int:
        """Size of the dense block: other terms' effects + C's remaining columns."""
        return self.wtw.shape[0]

    @property
    def q_rest(self) -> int:
        return self.pattern.q_rest

    @cached_property
    def first_crossprod_lower(self) -> np.ndarray:
        """first_crossprod's lower triangles row by row, (L₁, k₁(k₁+1)/2)."""
        rows, cols = np.tril_indices(self.pattern.first_k)
        return np.ascontiguousarray(self.first_crossprod[:, rows, cols])

    @property
    def rest_is_diagonal(self) -> bool:
        """Whether Λ restricted to the terms after the first is diagonal (a scaling, no mixing)."""
        return self.pattern.rest_is_diagonal

    def rest_scaling(self, theta: np.ndarray) -> np.ndarray:
        """Diagonal of Λ_C: Λ's diagonal for the other terms' effects, then 1 for X (and y) (length d)."""
        return np.concatenate([theta[self.pattern.rest_index], np.ones(self.d - self.q_rest)])

    def rest_lambda(self, theta: np.ndarray) -> sp.csr_matrix:
        """Λ_C as a sparse d x d matrix: block-diagonal Λ for the other terms, identity for X (and y)."""
        rows, cols, index = self.pattern.rest_offdiag
        diagonal = np.arange(self.d)
        return sp.csr_matrix(
            (np.concatenate([self.rest_scaling(theta), theta[index]]),
             (np.concatenate([diagonal, rows]), np.concatenate([diagonal, cols]))),
            shape=(self.d, self.d),
        )


@dataclass(frozen=True, eq=False)
class BlockedFactor:
    """L at θ for a BlockedSystem.

    block_inverse: (L₁, k₁, k₁) A_j⁻¹; first_inverse: (L₁, k₁, k₁) M_j = Λ₁A_j⁻¹Λ₁';
    dense: lower Cholesky factor (d x d) of the Schur complement S;
    rest_lambda: Λ_C - None where there are no other terms (Λ_C = I), its diagonal (d,) where that is
        all of it, else a sparse d x d matrix;
    logdet_random: log|Λ'Z'WZΛ + I| - log_weights (for the LMM with prior weights, log|W⁻¹| too: lme4's
        ldL2 - ldW); logdet_fixed: log|R_X|², REML's extra term.
    """

    system: BlockedSystem
    theta: np.ndarray
    block_inverse: np.ndarray
    first_inverse: np.ndarray
    dense: np.ndarray
    rest_lambda: np.ndarray | sp.csr_matrix | None
    logdet_random: float
    logdet_fixed: float

    @property
    def fixed_factor(self) -> np.ndarray:
        """R_X as a lower-triangular p x p matrix: vcov(β) = σ² (R_X R_X')⁻¹ (Λ_C is 1 on X)."""
        q_rest, p = self.system.q_rest, self.system.p
        return self.dense[q_rest:q_rest + p, q_rest:q_rest + p]

    @property
    def pwrss(self) -> float:
        """r²(θ) = min over β, u of ||y - Xβ - ZΛu||²_W + ||u||², where C's last column is y (the LMM)."""
        return float(self.dense[-1, -1]) ** 2

    def unscaled_vcov(self) -> np.ndarray:
        """(R_X R_X')⁻¹: X's block of S⁻¹ over [other effects, X], the covariance of β̂ divided by σ²."""
        inverse = sla.solve_triangular(self.fixed_factor, np.eye(self.system.p), lower=True, check_finite=False)
        return inverse.T @ inverse

    def _times_rest_lambda(self, matrix: np.ndarray | sp.spmatrix, transpose: bool = False) -> np.ndarray | sp.spmatrix:
        """matrix Λ_C (or matrix Λ_C') for a matrix, or a row vector, over C's first c columns (Λ_C's leading
        c x c block is Λ_C of those columns: Λ is block-diagonal by term, and 1 on X)."""
        lam = self.rest_lambda
        if lam is None:
            return matrix
        c = matrix.shape[-1]
        if isinstance(lam, np.ndarray):
            return matrix @ sp.diags(lam[:c]) if sp.issparse(matrix) else matrix * lam[:c]
        block = lam[:c, :c].T if transpose else lam[:c, :c]
        return matrix @ block if sp.issparse(matrix) else (block.T @ matrix.T).T

    def _first_solve(self, rhs: np.ndarray) -> np.ndarray:
        """blockdiag(A_j)⁻¹ rhs for rhs of length q₁."""
        levels, k = self.block_inverse.shape[:2]
        if k == 1:
            return self.block_inverse[:, 0, 0] * rhs
        return (self.block_inverse @ rhs.reshape(levels, k, 1)).reshape(-1)

    def _first_lambda_times(self, vector: np.ndarray, transpose: bool = False) -> np.ndarray:
        """blockdiag(Λ₁) v (or blockdiag(Λ₁') v) for v of length q₁."""
        lam = self.system.pattern.first_lambda(self.theta)
        if lam.shape[0] == 1:
            return lam[0, 0] * vector
        return (vector.reshape(-1, lam.shape[0]) @ (lam if transpose else lam.T)).reshape(-1)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """L L' x = rhs over [u₁, C's first c columns] for rhs of length q₁ + c, c = 0 or c >= q_rest
        (spherical coordinates; c = q_rest: Λ'Z'WZΛ + I alone, as β comes after the other terms' effects).

        Block elimination with t = A⁻¹b₁ (A = blockdiag A_j) and the coupling block Λ₁'GΛ_C:
        x_C = S⁻¹(b_C - Λ_C'G'Λ₁t), x₁ = A⁻¹(b₁ - Λ₁'GΛ_C x_C).
        """
        system = self.system
        q1 = self.block_inverse.shape[0] * self.block_inverse.shape[1]
        first, rest = rhs[:q1], rhs[q1:]
        if rest.size == 0:
            return self._first_solve(first)
        c = rest.size
        G = system.first_rhs[:, :c] if system.first_rhs is not None else system.first_rhs_dense.reshape(q1, -1)[:, :c]
        coupled = self._times_rest_lambda(G.T @ self._first_lambda_times(self._first_solve(first)))
        x_rest = sla.cho_solve((self.dense[:c, :c], True), rest - coupled, check_finite=False)
        back = self._first_lambda_times(G @ self._times_rest_lambda(x_rest, transpose=True), transpose=True)
        return np.concatenate([self._first_solve(first - back), x_rest])

    def _weighted_rest(self) -> sp.csr_matrix | np.ndarray:
        """blockdiag(M) G_r Λ_r (q₁ x q_rest) over the other terms' effects r."""
        system, q_rest = self.system, self.system.q_rest
        levels, k = self.first_inverse.shape[:2]
        if system.first_rhs is not None:  # sparse G: the product stays sparse however many levels
            block = sp.bsr_matrix((self.first_inverse, np.arange(levels), np.arange(levels + 1)),
                                  shape=(levels * k, levels * k))
            return sp.csr_matrix(self._times_rest_lambda(block @ system.first_rhs[:, :q_rest]))
        rest = system.first_rhs_dense[:, :, :q_rest]
        product = self.first_inverse * rest if k == 1 else self.first_inverse @ rest
        return self._times_rest_lambda(product.reshape(levels * k, q_rest))

    def _rest_root_inverse(self) -> np.ndarray:
        """L_r⁻¹, L_r the dense factor's block over the other terms' effects.  S_r >= I there, so
        ||L_r⁻¹|| <= 1: the explicit inverse loses nothing, and products with it beat triangular solves."""
        q_rest = self.system.q_rest
        inverse, _ = dtrtri(self.dense[:q_rest, :q_rest], lower=1)  # the factor is 0 above its diagonal
        return inverse

    def _first_covariance(self, weighted: sp.csr_matrix | np.ndarray, root_inverse: np.ndarray, start: int,
                          stop: int) -> tuple[np.ndarray, np.ndarray]:
        """For the first term's levels start..stop: E = blockdiag(M) G_r Λ_r L_r⁻ᵀ as (levels, k, q_rest)
        and the diagonal blocks M_j + E_jE_j' of V = Λ(Λ'Z'WZΛ + I)⁻¹Λ'."""
        k, q_rest = self.first_inverse.shape[1], self.system.q_rest
        rows = weighted[start * k:stop * k]
        rows = rows.toarray() if sp.issparse(rows) else rows
        E = (rows @ root_inverse.T).reshape(stop - start, k, q_rest)
        return E, self.first_inverse[start:stop] + E @ np.swapaxes(E, 1, 2)

    def covariance_blocks(self) -> list[np.ndarray]:
        """Per term, the diagonal blocks of V = Λ(Λ'Z'WZΛ + I)⁻¹Λ' over its levels, (levels, k, k) each:
        lme4's condVar over σ².  First term: M_j + E_jE_j'; the others: those of F'F with F = L_r⁻¹Λ_r'.
        The first term's levels go LEVEL_CHUNK at a time, so no q₁ x q_rest array is formed."""
        q_rest = self.system.q_rest
        if not q_rest:
            return [self.first_inverse.copy()]
        weighted, root_inverse = self._weighted_rest(), self._rest_root_inverse()
        levels = self.first_inverse.shape[0]
        first = np.concatenate([self._first_covariance(weighted, root_inverse, start, min(start + LEVEL_CHUNK, levels))[1]
                                for start in range(0, levels, LEVEL_CHUNK)])
        root, blocks, offset = self._times_rest_lambda(root_inverse, transpose=True), [first], 0
        for n_levels, k in self.system.pattern.rest_shapes:
            cols = root[:, offset:offset + n_levels * k].reshape(-1, n_levels, k)
            blocks.append(np.einsum("rla,rlb->lab", cols, cols))
            offset += n_levels * k
        return blocks

    def inverse_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """V = Λ(Λ'Z'WZΛ + I)⁻¹Λ' in pieces: the first term's diagonal blocks (L₁, k₁, k₁), the first-term x
        other-terms block V₁r = -E F (q₁ x q_rest) and the other terms' block F'F (q_rest x q_rest)."""
        q_rest = self.system.q_rest
        levels, k = self.first_inverse.shape[:2]
        if not q_rest:
            return self.first_inverse.copy(), np.zeros((levels * k, 0)), np.zeros((0, 0))
        root_inverse = self._rest_root_inverse()
        E, first = self._first_covariance(self._weighted_rest(), root_inverse, 0, levels)
        root = self._times_rest_lambda(root_inverse, transpose=True)  # F = L_r⁻¹Λ_r'
        return first, -E.reshape(-1, q_rest) @ root, root.T @ root


def factorize(system: BlockedSystem, theta: np.ndarray) -> BlockedFactor:
    """The blocked Cholesky factor of `system` at θ."""
    theta = np.asarray(theta, dtype=float)
    block_inverse, first_inverse, first_logdet, dense, rest_lambda = _factor_blocks(system, theta, True)
    if isinstance(rest_lambda, np.ndarray):  # Λ_r's diagonal: the factor keeps all of Λ_C's, 1 on X (and y)
        rest_lambda = system.rest_scaling(theta)
    return BlockedFactor(system, theta, block_inverse, first_inverse, dense, rest_lambda,
                         *_log_determinants(system, first_logdet, dense))


def criterion_terms(system: BlockedSystem, theta: np.ndarray) -> tuple[float, float, float]:
    """(logdet_random, logdet_fixed, pwrss) without building a BlockedFactor: the LMM optimiser's inner loop."""
    _, _, first_logdet, dense, _ = _factor_blocks(system, np.asarray(theta, dtype=float), False)
    return *_log_determinants(system, first_logdet, dense), float(dense[-1, -1]) ** 2


def _log_determinants(system: BlockedSystem, first_logdet: float, dense: np.ndarray) -> tuple[float, float]:
    """(logdet_random, logdet_fixed) from Σ log|A_j| and one log of the dense factor's diagonal."""
    if not dense.shape[0]:  # the first term alone
        return first_logdet - system.log_weights, 0.0
    q_rest, p = system.pattern.q_rest, system.p
    log_diagonal = np.log(dense.diagonal())
    logdet_random = first_logdet + 2.0 * float(log_diagonal[:q_rest].sum()) if q_rest else first_logdet
    return logdet_random - system.log_weights, 2.0 * float(log_diagonal[q_rest:q_rest + p].sum())


def _factor_blocks(system: BlockedSystem, theta: np.ndarray, with_inverse: bool) -> tuple:
    """The first term's A_j⁻¹ (None unless `with_inverse`), M_j and Σ log|A_j|, the Schur complement's
    lower Cholesky factor, and Λ_C as used for it (None: identity; Λ_r's diagonal; or sparse d x d)."""
    block_inverse, first_inverse, first_logdet = _first_term_blocks(system, theta, with_inverse)
    if not math.isfinite(first_logdet):
        raise NotPositiveDefinite("a diagonal block of the first random term is not positive definite at this θ")
    q_rest, d = system.pattern.q_rest, system.wtw.shape[0]
    if d == 0:  # the first term alone (PIRLS with β fixed, one random term): nothing left to factor
        return block_inverse, first_inverse, first_logdet, np.zeros((0, 0)), None
    schur = system.wtw - _eliminated_first_term(system, first_inverse)
    lam = None
    if q_rest:
        if system.rest_is_diagonal:
            lam = theta[system.pattern.rest_index]  # Λ_C's diagonal is 1 for X and y
            schur[:q_rest] *= lam[:, None]
            schur[:, :q_rest] *= lam
        else:
            lam = system.rest_lambda(theta)
            full = np.tril(schur)  # what lies above the diagonal is not C'WC's (see _eliminated_first_term)
            full += np.tril(schur, -1).T
            schur = np.tril(lam.T @ (lam.T @ full).T)
        schur.flat[:q_rest * (d + 1):d + 1] += 1.0  # + I on the other terms' diagonal
    # without the GIL, so that the Bayesian blocked route's chains factor their proposals side by side
    dense, info = cholesky_lower(schur)
    if info:
        if info > q_rest:
            raise NotPositiveDefinite(
                "the fixed-effects design is rank-deficient at this θ (Cholesky failed at column "
                f"{info}); check the fixed effects for columns that are constant within the data or aliased"
            )
        raise NotPositiveDefinite(
            f"the weighted cross-products of the random effects are not positive definite (Cholesky failed at column {info})"
        )
    return block_inverse, first_inverse, first_logdet, dense, lam


def _first_term_blocks(system: BlockedSystem, theta: np.ndarray, with_inverse: bool
                       ) -> tuple[np.ndarray | None, np.ndarray, float]:
    """A_j⁻¹ (only if `with_inverse`: the solves need it, the LMM's criterion does not), M_j = Λ₁ A_j⁻¹ Λ₁'
    and Σ_j log|A_j| with A_j = Λ₁'(Z₁'WZ₁)_j Λ₁ + I.

    With row-major vec, vec(Λ'CΛ) = (Λ'⊗Λ') vec(C), so all levels' A_j come from one product
    (L, k²) x (k², k²), and likewise the M_j from the A_j⁻¹.
    """
    pattern, crossprod = system.pattern, system.first_crossprod
    k, levels = pattern.first_k, crossprod.shape[0]
    if k == 1:
        t2 = theta[pattern.first_slice][0] ** 2
        a = t2 * crossprod[:, 0, 0] + 1.0
        inverse = (1.0 / a)[:, None, None] if with_inverse else None
        return inverse, (t2 / a)[:, None, None], float(np.log(a).sum())
    if k == 2:
        return _two_column_blocks(system, theta, with_inverse)
    extended = np.append(theta, 0.0)
    left, right = pattern.first_kron_index
    kron = extended[left] * extended[right]  # Λ⊗Λ
    a = crossprod.reshape(levels, k * k) @ kron
    a[:, ::k + 1] += 1.0
    chol = np.linalg.cholesky(a.reshape(levels, k, k))
    logdet = 2.0 * float(np.log(np.diagonal(chol, axis1=1, axis2=2)).sum())
    chol_inverse = np.linalg.inv(chol)
    inverse = np.swapaxes(chol_inverse, 1, 2) @ chol_inverse
    return inverse if with_inverse else None, (inverse.reshape(levels, k * k) @ kron.T).reshape(levels, k, k), logdet


def _two_column_blocks(system: BlockedSystem, theta: np.ndarray, with_inverse: bool
                       ) -> tuple[np.ndarray | None, np.ndarray, float]:
    """_first_term_blocks for k = 2 (the common (x | g)), with Λ₁ = [[t1, 0], [t2, t3]] in closed form.

    (a11, a21, a22) of A_j - I = Λ₁'C_jΛ₁ are linear in (c11, c21, c22), and M_j = Λ₁A_j⁻¹Λ₁' is linear
    in (b11, b21, b22) of A_j⁻¹, so both are one (L, 3) product; A_j is factored as lme4's Cholesky does.
    """
    t1, t2, t3 = theta[system.pattern.first_slice].tolist()
    to_a = np.array([[t1 * t1, 0.0, 0.0], [2.0 * t1 * t2, t1 * t3, 0.0], [t2 * t2, t2 * t3, t3 * t3]])
    a = system.first_crossprod_lower @ to_a  # (L, 3): a11, a21, a22 without the identity
    l11 = np.sqrt(a[:, 0] + 1.0)
    l21 = a[:, 1] / l11
    l22 = np.sqrt(a[:, 2] + 1.0 - l21 * l21)
    logdet = 2.0 * float(np.log(l11 * l22).sum())
    inv11, inv22 = 1.0 / l11, 1.0 / l22
    off = -l21 * inv11 * inv22  # (L⁻¹)₂₁
    inverse = np.empty_like(a)  # b11, b21, b22 of A⁻¹ = L⁻ᵀL⁻¹
    inverse[:, 0] = inv11 * inv11 + off * off
    inverse[:, 1] = off * inv22
    inverse[:, 2] = inv22 * inv22
    to_m = np.array([[t1 * t1, t1 * t2, t1 * t2, t2 * t2], [0.0, t1 * t3, t1 * t3, 2.0 * t2 * t3],
                     [0.0, 0.0, 0.0, t3 * t3]])
    blocks = inverse[:, _SYMMETRIC_TWO].reshape(-1, 2, 2) if with_inverse else None
    return blocks, (inverse @ to_m).reshape(-1, 2, 2), logdet


def _eliminated_first_term(system: BlockedSystem, first_inverse: np.ndarray) -> np.ndarray:
    """Σ_j G_j' M_j G_j (d x d): what eliminating the first term removes from C'WC.  Only its lower
    triangle is read; the Schur map holds only that, the dense route's product is left whole."""
    d = system.d
    if system.schur_map is not None:
        return (system.schur_map @ first_inverse.ravel()).reshape(d, d)
    G = system.first_rhs_dense  # (L, k, d)
    MG = first_inverse * G if G.shape[1] == 1 else first_inverse @ G  # (L, k, d)
    q1 = G.shape[0] * G.shape[1]
    return G.reshape(q1, d).T @ MG.reshape(q1, d)

"""β̂, the conditional modes of the random effects and their conditional variances, from the factor."""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from ...design.types import Design
from ...results.prediction import term_contribution
from .factor import BlockedFactor

# Levels of the first term handled at once in the conditional variances (bounds a q₁ x q_rest array).
LEVEL_CHUNK = 2048


def conditional_modes(factor: BlockedFactor, design: Design) -> tuple[np.ndarray, list[np.ndarray]]:
    """β̂ and the conditional modes b̂ = E(γ | y) of every term, each as (levels, columns).

    The dense factor's last row solves for [u_rest, β]; the first term follows level by level from
    b₁_j = M_j (Z₁'W(y - Xβ - Z_rest b_rest))_j with M_j = Λ₁ A_j⁻¹ Λ₁' (W: the prior weights).
    """
    system, dense = factor.system, factor.dense
    solution = sla.solve_triangular(dense[:-1, :-1], dense[-1, :-1], lower=True, trans="T", check_finite=False)
    q_rest = system.q_rest
    beta = solution[q_rest:] + system.beta_shift
    rest_effects = design.random_effects_from_spherical(factor.theta, solution[:q_rest], first=1)
    partial = design.y - design.offset - design.X @ beta
    for term, effects in zip(design.terms[1:], rest_effects):
        partial -= term_contribution(term.codes, term.matrix, effects)
    if design.weights is not None:
        partial *= design.weights
    first = design.terms[0]
    projected = np.column_stack(
        [np.bincount(first.codes, weights=first.matrix[:, c] * partial, minlength=first.n_levels)
         for c in range(first.n_columns)]
    )  # (L₁, k₁): Z₁'W(partial residual) per level
    first_effects = (factor.first_inverse @ projected[:, :, None])[:, :, 0]
    return beta, [first_effects, *rest_effects]


def conditional_covariances(factor: BlockedFactor, design: Design, sigma: float) -> list[np.ndarray]:
    """lme4's condVar: diagonal blocks of σ² Λ (Λ'Z'ZΛ + I)⁻¹ Λ', per term as (levels, columns, columns).

    With A = Λ'Z'ZΛ + I split into the first term and the rest (Schur complement S_r = L_r L_r'):
    first term, level j: M_j + E_j E_j' with E = blockdiag(M) G_rest Λ_r L_r⁻ᵀ; other terms: the
    diagonal blocks of (L_r⁻¹ Λ_r')'(L_r⁻¹ Λ_r').
    """
    system = factor.system
    q_rest = system.q_rest
    first_blocks = factor.first_inverse.copy()
    covariances = [first_blocks]
    if q_rest:
        chol_rest = factor.dense[:q_rest, :q_rest]
        lam_rest = system.rest_lambda(factor.theta)[:q_rest, :q_rest]
        k = system.first_k
        levels = system.first_levels
        weighted = sp.bsr_matrix(
            (factor.first_inverse, np.arange(levels), np.arange(levels + 1)), shape=(levels * k, levels * k)
        ) @ system.first_rhs[:, :q_rest] @ lam_rest  # (q₁, q_rest) sparse: blockdiag(M) G_rest Λ_r
        weighted = sp.csr_matrix(weighted)
        for start in range(0, levels, LEVEL_CHUNK):
            stop = min(start + LEVEL_CHUNK, levels)
            rows = weighted[start * k:stop * k].toarray()
            solved = sla.solve_triangular(chol_rest, rows.T, lower=True, check_finite=False)  # (q_rest, rows)
            per_level = solved.T.reshape(stop - start, k, q_rest)
            first_blocks[start:stop] += per_level @ np.swapaxes(per_level, 1, 2)
        inverse_part = sla.solve_triangular(chol_rest, lam_rest.T.toarray(), lower=True, check_finite=False)
        offset = 0
        for term in design.terms[1:]:
            kt = term.n_columns
            cols = inverse_part[:, offset:offset + term.size].reshape(q_rest, term.n_levels, kt)
            covariances.append(np.einsum("rla,rlb->lab", cols, cols))
            offset += term.size
    return [sigma**2 * c for c in covariances]

"""β̂, the conditional modes of the random effects and their conditional variances, from the factor."""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from ...design.types import Design
from ...results.prediction import term_contribution
from ..blocked_factor import BlockedFactor


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
    """lme4's condVar: diagonal blocks of σ² Λ (Λ'Z'ZΛ + I)⁻¹ Λ', per term as (levels, columns, columns)
    (the factor's `covariance_blocks`, whose Z and y carry the prior weights' √wᵢ)."""
    return [sigma**2 * c for c in factor.covariance_blocks()]

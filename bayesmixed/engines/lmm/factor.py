"""The blocked Cholesky factor of the penalised least-squares system at one θ.

L L' = [Λ'Z'ZΛ + I, Λ'Z'X, Λ'Z'y; ·, X'X, X'y; ·, ·, y'y] is held in two pieces: the first term's
per-level k₁ x k₁ blocks A_j = Λ₁'(Z₁'Z₁)_j Λ₁ + I (block-diagonal, O(levels) work), and the dense
Cholesky factor of the Schur complement that remains for [other terms' effects, X, y].  The last
diagonal element of that dense factor is r(θ), so r² is the penalised residual sum of squares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy.linalg.lapack import dpotrf

from ...errors import BayesmixedError
from .system import PlsSystem


@dataclass(frozen=True, eq=False)
class BlockedFactor:
    """Factor of the PLS system at θ.

    first_inverse: (L₁, k₁, k₁) M_j = Λ₁ A_j⁻¹ Λ₁' for the first term's levels.
    first_logdet: Σ_j log|A_j|.
    dense: lower Cholesky factor (d x d) of the Schur complement over [other effects, X, y].
    """

    system: PlsSystem
    theta: np.ndarray
    first_inverse: np.ndarray
    first_logdet: float
    dense: np.ndarray

    @property
    def _diagonal(self) -> np.ndarray:
        return np.diagonal(self.dense)

    @property
    def logdet_random(self) -> float:
        """log|L_θ|² = log|Λ'Z'ZΛ + I|."""
        q_rest = self.system.q_rest
        return self.first_logdet + 2.0 * float(np.log(self._diagonal[:q_rest]).sum())

    @property
    def logdet_fixed(self) -> float:
        """log|R_X|², R_X the Cholesky factor of X'V⁻¹X / σ² (REML's extra term)."""
        q_rest, p = self.system.q_rest, self.system.p
        return 2.0 * float(np.log(self._diagonal[q_rest:q_rest + p]).sum())

    @property
    def pwrss(self) -> float:
        """r²(θ) = min over β, u of ||y - Xβ - ZΛu||² + ||u||²."""
        return float(self.dense[-1, -1] ** 2)

    @property
    def fixed_factor(self) -> np.ndarray:
        """R_X as a lower-triangular p x p matrix: vcov(β) = σ² (R_X R_X')⁻¹."""
        q_rest, p = self.system.q_rest, self.system.p
        return self.dense[q_rest:q_rest + p, q_rest:q_rest + p]

    def unscaled_vcov(self) -> np.ndarray:
        """(R_X R_X')⁻¹, the covariance of β̂ divided by σ²."""
        inverse = sla.solve_triangular(self.fixed_factor, np.eye(self.system.p), lower=True, check_finite=False)
        return inverse.T @ inverse


def factorize(system: PlsSystem, theta: np.ndarray) -> BlockedFactor:
    """Blocked Cholesky factor of the PLS system at θ."""
    theta = np.asarray(theta, dtype=float)
    first_inverse, first_logdet = _first_term_blocks(system, theta)
    schur = system.wtw - _eliminated_first_term(system, first_inverse)
    if system.rest_is_diagonal:
        scale = system.rest_scaling(theta)
        schur *= scale[:, None] * scale[None, :]
    else:
        lam = system.rest_lambda(theta)
        full = schur + np.tril(schur, -1).T
        schur = np.tril(lam.T @ (lam.T @ full).T)
    q_rest = system.q_rest
    schur[np.arange(q_rest), np.arange(q_rest)] += 1.0
    dense, info = dpotrf(schur, lower=1, clean=1, overwrite_a=1)
    if info > 0:
        raise BayesmixedError(
            "the fixed-effects design is rank-deficient at this θ (Cholesky failed at column "
            f"{info}); check the fixed effects for columns that are constant within the data or aliased"
        )
    return BlockedFactor(system=system, theta=theta, first_inverse=first_inverse, first_logdet=first_logdet, dense=dense)


def _first_term_blocks(system: PlsSystem, theta: np.ndarray) -> tuple[np.ndarray, float]:
    """M_j = Λ₁ A_j⁻¹ Λ₁' and Σ_j log|A_j| with A_j = Λ₁'(Z₁'Z₁)_j Λ₁ + I."""
    crossprod = system.first_crossprod
    if system.first_k == 1:
        t2 = theta[system.first_slice][0] ** 2
        a = t2 * crossprod[:, 0, 0] + 1.0
        return (t2 / a)[:, None, None], float(np.log(a).sum())
    lam = system.first_lambda(theta)
    a = lam.T @ crossprod @ lam + np.eye(system.first_k)  # (L, k, k)
    chol = np.linalg.cholesky(a)
    logdet = 2.0 * float(np.log(np.diagonal(chol, axis1=1, axis2=2)).sum())
    half = np.linalg.solve(chol, np.broadcast_to(lam.T, a.shape))  # L_j⁻¹ Λ₁', (L, k, k)
    return np.swapaxes(half, 1, 2) @ half, logdet


def _eliminated_first_term(system: PlsSystem, first_inverse: np.ndarray) -> np.ndarray:
    """Lower triangle of Σ_j G_j' M_j G_j (d x d): what eliminating the first term removes from W'W."""
    d = system.d
    if system.schur_map is not None:
        return (system.schur_map @ first_inverse.ravel()).reshape(d, d)
    G = system.first_rhs_dense  # (L, k, d)
    MG = first_inverse @ G  # (L, k, d)
    return np.tril(G.reshape(-1, d).T @ MG.reshape(-1, d))

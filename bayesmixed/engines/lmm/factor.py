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
    dense: lower Cholesky factor (d x d) of the Schur complement over [other effects, X, y].
    logdet_random: log|L_θ|² - Σ log wᵢ = log|Λ'Z'WZΛ + I| + log|W⁻¹|, the log-determinant of the
        marginal covariance of y over σ² (lme4's ldL2 - ldW; W = I without prior weights);
    logdet_fixed: log|R_X|² (REML's extra term);
    pwrss: r²(θ) = min over β, u of ||y - Xβ - ZΛu||² + ||u||².
    """

    system: PlsSystem
    theta: np.ndarray
    first_inverse: np.ndarray
    dense: np.ndarray
    logdet_random: float
    logdet_fixed: float
    pwrss: float

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
    first_inverse, first_logdet, dense = _factor_blocks(system, theta)
    logdet_random, logdet_fixed, pwrss = _criterion_terms(system, first_logdet, dense)
    return BlockedFactor(system, theta, first_inverse, dense, logdet_random, logdet_fixed, pwrss)


def criterion_terms(system: PlsSystem, theta: np.ndarray) -> tuple[float, float, float]:
    """(log|L_θ|², log|R_X|², r²(θ)) without building a BlockedFactor: the optimiser's inner loop."""
    _, first_logdet, dense = _factor_blocks(system, np.asarray(theta, dtype=float))
    return _criterion_terms(system, first_logdet, dense)


def _criterion_terms(system: PlsSystem, first_logdet: float, dense: np.ndarray) -> tuple[float, float, float]:
    q_rest, p = system.q_rest, system.p
    log_diagonal = np.log(dense.diagonal())
    logdet_random = first_logdet + 2.0 * float(log_diagonal[:q_rest].sum()) if q_rest else first_logdet
    logdet_random -= system.log_weights
    return logdet_random, 2.0 * float(log_diagonal[q_rest:q_rest + p].sum()), float(dense[-1, -1]) ** 2


def _factor_blocks(system: PlsSystem, theta: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """The first term's M_j and Σ log|A_j|, and the dense block's lower Cholesky factor."""
    first_inverse, first_logdet = _first_term_blocks(system, theta)
    schur = system.wtw - _eliminated_first_term(system, first_inverse)
    q_rest = system.q_rest
    if q_rest:
        if system.rest_is_diagonal:
            scale = theta[system.scaling_index[:q_rest]]  # Λ_W's diagonal is 1 for X and y
            schur[:q_rest] *= scale[:, None]
            schur[:, :q_rest] *= scale
        else:
            lam = system.rest_lambda(theta)
            full = schur + np.tril(schur, -1).T
            schur = np.tril(lam.T @ (lam.T @ full).T)
        schur.flat[:q_rest * (system.d + 1):system.d + 1] += 1.0  # + I on the other terms' diagonal
    try:
        # numpy's Cholesky releases the GIL (scipy's dpotrf wrapper holds it), so factorisations in threads
        # run in parallel: the Bayesian blocked route evaluates its chains' proposals that way
        dense = np.linalg.cholesky(schur)
    except np.linalg.LinAlgError:
        _, info = dpotrf(schur, lower=1)
        raise BayesmixedError(
            "the fixed-effects design is rank-deficient at this θ (Cholesky failed at column "
            f"{info}); check the fixed effects for columns that are constant within the data or aliased"
        ) from None
    return first_inverse, first_logdet, dense


def _first_term_blocks(system: PlsSystem, theta: np.ndarray) -> tuple[np.ndarray, float]:
    """M_j = Λ₁ A_j⁻¹ Λ₁' and Σ_j log|A_j| with A_j = Λ₁'(Z₁'Z₁)_j Λ₁ + I.

    With row-major vec, vec(Λ'CΛ) = (Λ'⊗Λ') vec(C), so all levels' A_j come from one product
    (L, k²) x (k², k²), and likewise the M_j from the A_j⁻¹.
    """
    k, crossprod = system.first_k, system.first_crossprod
    levels = crossprod.shape[0]
    if k == 1:
        t2 = theta[system.first_slice][0] ** 2
        a = t2 * crossprod[:, 0, 0] + 1.0
        return (t2 / a)[:, None, None], float(np.log(a).sum())
    if k == 2:
        return _two_column_blocks(system, theta)
    extended = np.append(theta, 0.0)
    left, right = system.first_kron_index
    kron = extended[left] * extended[right]  # Λ⊗Λ
    a = crossprod.reshape(levels, k * k) @ kron
    a[:, ::k + 1] += 1.0
    chol = np.linalg.cholesky(a.reshape(levels, k, k))
    logdet = 2.0 * float(np.log(np.diagonal(chol, axis1=1, axis2=2)).sum())
    chol_inverse = np.linalg.inv(chol)
    inverse = (np.swapaxes(chol_inverse, 1, 2) @ chol_inverse).reshape(levels, k * k)
    return (inverse @ kron.T).reshape(levels, k, k), logdet


def _two_column_blocks(system: PlsSystem, theta: np.ndarray) -> tuple[np.ndarray, float]:
    """_first_term_blocks for k = 2 (the common (x | g)), with Λ₁ = [[t1, 0], [t2, t3]] in closed form.

    (a11, a21, a22) of A_j - I = Λ₁'C_jΛ₁ are linear in (c11, c21, c22), and M_j = Λ₁A_j⁻¹Λ₁' is linear
    in (b11, b21, b22) of A_j⁻¹, so both are one (L, 3) product; A_j is factored as lme4's Cholesky does.
    """
    t1, t2, t3 = theta[system.first_slice].tolist()
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
    return (inverse @ to_m).reshape(-1, 2, 2), logdet


def _eliminated_first_term(system: PlsSystem, first_inverse: np.ndarray) -> np.ndarray:
    """Lower triangle of Σ_j G_j' M_j G_j (d x d): what eliminating the first term removes from W'W."""
    d = system.d
    if system.schur_map is not None:
        return (system.schur_map @ first_inverse.ravel()).reshape(d, d)
    G = system.first_rhs_dense  # (L, k, d)
    MG = first_inverse @ G  # (L, k, d)
    return np.tril(G.reshape(-1, d).T @ MG.reshape(-1, d))


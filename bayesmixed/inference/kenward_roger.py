"""Kenward-Roger F-tests of fixed-effect contrasts, as pbkrtest computes them (vcovAdj, .KR_adjust).

Var(y) = Σ(γ) = Σ_r γ_r G_r, with γ the covariance parameters (each random term's covariance entries,
lower triangle by columns, then σ²) and G_r = Z(I ⊗ E_r)Z' (the residual's G = W⁻¹, W the prior weights).
Φ = vcov(β̂) is corrected for the uncertainty in γ̂ (Φ_A = Φ + 2ΦUΦ, Kenward & Roger 1997), and an F
statistic for H0: Lβ = 0 is scaled and given denominator df that match the first two moments of an F.

The matrices are n x n: this is for the small data sets where the correction matters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from ..errors import BayesmixedError

# Largest number of observations for the dense n x n matrices (each G_r, Σ⁻¹ and G_rΣ⁻¹).
MAX_OBSERVATIONS = 3000
# pbkrtest: W = 2 IE⁻¹ by a generalised inverse when IE's smallest |eigenvalue| is below this.
INFORMATION_CONDITION = 1e-10


@dataclass(frozen=True, eq=False)
class KenwardRoger:
    """pbkrtest's adjusted covariance Φ_A with the pieces .KR_adjust needs (P_r and W)."""

    vcov: np.ndarray
    vcov_adjusted: np.ndarray
    P: tuple[np.ndarray, ...]
    W: np.ndarray

    def f_test(self, L: np.ndarray, beta: np.ndarray) -> tuple[float, float, float, int]:
        """(unscaled F, scaling, denominator df, numerator df) for H0: Lβ = 0 (pbkrtest's .KR_adjust)."""
        phi = self.vcov
        theta = L.T @ np.linalg.solve(L @ phi @ L.T, L)
        theta_phi = theta @ phi
        u = [theta_phi @ P @ phi for P in self.P]
        A1 = A2 = 0.0
        for i in range(len(u)):
            for j in range(i, len(u)):
                weight = (1.0 if i == j else 2.0) * self.W[i, j]
                A1 += weight * np.trace(u[i]) * np.trace(u[j])
                A2 += weight * np.sum(u[i] * u[j].T)
        q = int(np.linalg.matrix_rank(L))
        B = (A1 + 6.0 * A2) / (2.0 * q)
        g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
        denominator = 3.0 * q + 2.0 * (1.0 - g)
        c1, c2, c3 = g / denominator, (q - g) / denominator, (q + 2 - g) / denominator
        V0 = 1.0 + c1 * B
        V0 = 0.0 if abs(V0) < 1e-10 else V0
        V1, V2 = 1.0 - c2 * B, 1.0 - c3 * B
        ratio = 1.0 if abs(1.0 - A2 / q) < 1e-14 and abs(V1) < 1e-14 else (1.0 - A2 / q) / V1
        rho = ratio**2 * V0 / (q * V2)
        ddf = 4.0 + (q + 2.0) / (q * rho - 1.0)
        scaling = 1.0 if abs(ddf - 2.0) < 1e-2 else ddf * (1.0 - A2 / q) / (ddf - 2.0)
        estimate = L @ beta
        wald = float(estimate @ np.linalg.solve(L @ self.vcov_adjusted @ L.T, estimate))
        return wald / q, float(scaling), float(ddf), q


def covariance_structure(fit) -> tuple[list[np.ndarray], np.ndarray]:
    """The G_r of each covariance parameter and the parameters γ (covariance entries, then σ²)."""
    design = fit.design
    if design.n > MAX_OBSERVATIONS:
        raise BayesmixedError(f"Kenward-Roger works with n x n matrices; n = {design.n} is more than "
                              f"{MAX_OBSERVATIONS}: use ddf='Satterthwaite'")
    G, gamma = [], []
    for term, block in zip(design.terms, fit.covariance_blocks):
        Z = term.Z.toarray()
        k = term.n_columns
        by_column = [Z[:, c::k] for c in range(k)]
        rows, cols = term.theta_pattern()
        for r, c in zip(rows, cols):
            product = by_column[r] @ by_column[c].T
            G.append(product if r == c else product + product.T)
            gamma.append(block[r, c])
    weights = getattr(design, "weights", None)
    G.append(np.eye(design.n) if weights is None else np.diag(1.0 / np.asarray(weights, dtype=float)))
    gamma.append(fit.sigma**2)
    return G, np.array(gamma)


def kenward_roger(fit) -> KenwardRoger:
    """pbkrtest's vcovAdj for a REML fit: Φ_A = Φ + 2Φ U Φ, with Φ = vcov(β̂)."""
    if not getattr(fit, "reml", False):
        raise BayesmixedError("Kenward-Roger's method is defined for REML fits; refit with REML=True (lmer's "
                              "default) or use ddf='Satterthwaite'")
    G, gamma = covariance_structure(fit)
    X = np.asarray(fit.design.X, dtype=float)
    sigma_y = sum(g * m for g, m in zip(gamma, G))
    inverse = linalg.cho_solve(linalg.cho_factor(sigma_y), np.eye(X.shape[0]))
    phi = np.asarray(fit.vcov, dtype=float)
    T = inverse @ X
    H = [m @ inverse for m in G]
    O = [h @ X for h in H]
    P = [-(o.T @ T) for o in O]
    P = [(p + p.T) / 2.0 for p in P]
    count = len(G)
    Q = {(r, s): O[r].T @ inverse @ O[s] for r in range(count) for s in range(r, count)}
    information = np.empty((count, count))
    for i in range(count):
        phi_p = phi @ P[i]
        for j in range(i, count):
            information[i, j] = information[j, i] = (np.sum(H[i].T * H[j]) - 2.0 * np.sum(phi * Q[i, j])
                                                     + np.sum(phi_p * (P[j] @ phi)))
    smallest = np.min(np.abs(np.linalg.eigvalsh(information)))
    W = 2.0 * (np.linalg.inv(information) if smallest > INFORMATION_CONDITION else np.linalg.pinv(information))
    W = (W + W.T) / 2.0
    U = np.zeros_like(phi)
    for i in range(count - 1):
        for j in range(i + 1, count):
            U += W[i, j] * (Q[i, j] - P[i] @ phi @ P[j])
    U = U + U.T
    for i in range(count):
        U += W[i, i] * (Q[i, i] - P[i] @ phi @ P[i])
    return KenwardRoger(vcov=phi, vcov_adjusted=phi + 2.0 * phi @ U @ phi, P=tuple(P), W=W)

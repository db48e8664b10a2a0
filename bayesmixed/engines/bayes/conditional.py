"""After sampling a marginal route: γ from its exact conditional, and per-group marginal log-likelihoods.

Given β, σ, C: u_i | y ~ N(w_i, σ² M_i⁻¹) with M_i = σ²I + C'Z_i'Z_iC, w_i = M_i⁻¹C'Z_i'r_i, and γ_i = C u_i.
The joint route has the same form with one "group" holding every term: u | y ~ N(M⁻¹c, σ²M⁻¹), γ = Λu (joint.py).
"""

from __future__ import annotations

import math

import numpy as np

from .factors import LOG_2PI, assemble_factors, cholesky_inplace, compiled, lower_inverse
from .joint import apply_factor, effect_positions, joint_factors, joint_system, residual_cross
from .nuts import random_normal
from .layout import HEADER_GROUPS, HEADER_K, HEADER_P, HEADER_SIGMA_INDEX


@compiled
def group_system(A, b, C, v, AC, M, Linv, u, z, w):
    """One group's M = σ²I + C'AC (AC = A C, A = Z_i'Z_i, C lower triangular), u = C'b, Linv = chol(M)⁻¹,
    z = Linv u (so u'M⁻¹u = z'z) and w = M⁻¹u = Linv'z; returns |M|, or −1 (the rest unset) if M is not
    positive definite. kernels.marginal_logp_grad computes the same inline (a call per group measured slower)."""
    K = b.shape[0]
    for a in range(K):
        for c in range(K):
            s = 0.0
            for m in range(c, K):
                s += A[a, m] * C[m, c]
            AC[a, c] = s
    for a in range(K):
        for c in range(a + 1):
            s = 0.0
            for m in range(a, K):
                s += C[m, a] * AC[m, c]
            M[a, c] = s
            M[c, a] = s
        M[a, a] += v
    for a in range(K):
        s = 0.0
        for m in range(a, K):
            s += C[m, a] * b[m]
        u[a] = s
    det = cholesky_inplace(M, K)
    if det < 0.0:
        return det
    lower_inverse(M, Linv, K)
    for a in range(K):
        s = 0.0
        for m in range(a + 1):
            s += Linv[a, m] * u[m]
        z[a] = s
    for a in range(K):
        s = 0.0
        for m in range(a, K):
            s += Linv[m, a] * z[m]
        w[a] = s
    return det


@compiled
def marginal_ranef_draws(draws, model, rng, gamma):
    """Fill gamma (S, G, K) with one draw of γ_i per draw of (β, σ, C) and group i (NaN where M_i is singular)."""
    ints, priors, _, _, _, _, _, _, ZtZ, ZtX, Zty, _, _ = model
    p, sigma_index, G, K = ints[HEADER_P], ints[HEADER_SIGMA_INDEX], ints[HEADER_GROUPS], ints[HEADER_K]
    C, L, sd = np.zeros((K, K)), np.zeros((K, K)), np.zeros(K)
    AC, M, Linv = np.empty((K, K)), np.empty((K, K)), np.zeros((K, K))
    b, u, z, w, e = np.empty(K), np.empty(K), np.empty(K), np.empty(K), np.empty(K)
    for s in range(draws.shape[0]):
        x = draws[s]
        assemble_factors(x, ints, priors, C, L, sd)
        sigma = math.exp(x[sigma_index])
        for i in range(G):
            residual_cross(Zty[i], ZtX[i], x[:p], b)  # one group's Z_i'r_i
            if group_system(ZtZ[i], b, C, sigma * sigma, AC, M, Linv, u, z, w) < 0.0:
                gamma[s, i, :] = np.nan
                continue
            for a in range(K):  # u = w + σ Linv' e, e ~ N(0, I): covariance σ² M⁻¹
                e[a] = random_normal(rng)
            for a in range(K):
                acc = 0.0
                for m in range(a, K):
                    acc += Linv[m, a] * e[m]
                u[a] = w[a] + sigma * acc
            for a in range(K):  # γ_i = C u
                acc = 0.0
                for m in range(a + 1):
                    acc += C[a, m] * u[m]
                gamma[s, i, a] = acc


@compiled
def joint_ranef_draws(draws, model, rng, gamma):
    """Fill gamma (S, q) with one draw of all terms' γ = Λu, u ~ N(M⁻¹c, σ²M⁻¹), per draw of (β, σ, C)
    (NaN where M is not positive definite); with the fixed effects integrated out, their standardised
    (β − m)/s follow in the last columns."""
    ints, priors, _, _, _, _, _, _, ZtZ, ZtX, Zty, _, _ = model
    p, sigma_index = ints[HEADER_P], ints[HEADER_SIGMA_INDEX]
    A = ZtZ[0]
    q = A.shape[0]
    positions = effect_positions(ints, q)
    AL, M = np.empty((q, q)), np.empty((q, q))
    b, c, z, u = np.empty(q), np.empty(q), np.empty(q), np.empty(q)
    for s in range(draws.shape[0]):
        x = draws[s]
        C = joint_factors(x, ints, priors)[0]
        sigma = math.exp(x[sigma_index])
        residual_cross(Zty[0], ZtX[0], x[:p], b)
        if joint_system(C, A, b, sigma * sigma, positions, AL, M, c) == -np.inf:
            gamma[s, :] = np.nan
            continue
        for a in range(q):  # z = chol⁻¹c (forward substitution) + σe, then u = chol⁻ᵀz: N(M⁻¹c, σ²M⁻¹)
            acc = c[a]
            for m in range(a):
                acc -= M[a, m] * z[m]
            z[a] = acc / M[a, a]
        for a in range(q):
            z[a] += sigma * random_normal(rng)
        for a in range(q - 1, -1, -1):
            acc = z[a]
            for m in range(a + 1, q):
                acc -= M[m, a] * u[m]
            u[a] = acc / M[a, a]
        apply_factor(C, positions, u, gamma[s])


@compiled
def marginal_group_loglik(draws, model, group_loglik):
    """Fill group_loglik (S, G) with log p(y_i | β, σ, C) less its −r_i'r_i/(2σ²) term (group totals of r'r
    are not among the statistics: add_group_residual_sums adds them)."""
    ints, priors, _, _, _, _, _, _, ZtZ, ZtX, Zty, _, vec = model
    p, sigma_index, G, K = ints[HEADER_P], ints[HEADER_SIGMA_INDEX], ints[HEADER_GROUPS], ints[HEADER_K]
    C, L, sd = np.zeros((K, K)), np.zeros((K, K)), np.zeros(K)
    AC, M, Linv = np.empty((K, K)), np.empty((K, K)), np.zeros((K, K))
    b, u, z, w = np.empty(K), np.empty(K), np.empty(K), np.empty(K)
    for s in range(draws.shape[0]):
        x = draws[s]
        assemble_factors(x, ints, priors, C, L, sd)
        v = math.exp(2.0 * x[sigma_index])
        for i in range(G):
            residual_cross(Zty[i], ZtX[i], x[:p], b)  # one group's Z_i'r_i
            det_M = group_system(ZtZ[i], b, C, v, AC, M, Linv, u, z, w)
            if det_M <= 0.0:
                group_loglik[s, i] = -np.inf
                continue
            quad = 0.0  # u'M⁻¹u
            for a in range(K):
                quad += z[a] * z[a]
            n_i = vec[p + 2 + i]
            group_loglik[s, i] = -0.5 * (n_i * LOG_2PI + (n_i - K) * math.log(v) + math.log(det_M) - quad / v)


def add_group_residual_sums(group_loglik: np.ndarray, beta: np.ndarray, sigma: np.ndarray, X: np.ndarray,
                            y: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Add −r_i'r_i/(2σ²) per group to group_loglik (S, G); r = y − Xβ per draw, done in chunks of draws."""
    for start in range(0, beta.shape[0], 256):
        stop = min(start + 256, beta.shape[0])
        resid = y[None, :] - beta[start:stop] @ X.T  # (chunk, n)
        sums = np.zeros((stop - start, n_groups))
        for s in range(stop - start):
            sums[s] = np.bincount(codes, weights=resid[s] ** 2, minlength=n_groups)
        group_loglik[start:stop] -= 0.5 * sums / sigma[start:stop, None] ** 2
    return group_loglik

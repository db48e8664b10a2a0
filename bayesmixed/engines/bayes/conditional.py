"""After sampling the marginal route: γ from its exact conditional, and per-group marginal log-likelihoods.

Given β, σ, C: u_i | y ~ N(w_i, σ² M_i⁻¹) with M_i = σ²I + C'Z_i'Z_iC, w_i = M_i⁻¹C'Z_i'r_i, and γ_i = C u_i.
"""

from __future__ import annotations

import math

import numpy as np

from .kernels import LOG_2PI, assemble_factors, cholesky_product, compiled, lower_inverse
from .nuts import random_normal


@compiled
def marginal_ranef_draws(draws, model, rng, gamma, group_loglik):
    """Fill gamma (S, G, K) with conditional draws of γ and group_loglik (S, G) with log p(y_i | β, σ, C)
    less its −r_i'r_i/(2σ²) term (group totals of r'r are not among the statistics: add_group_residual_sums)."""
    ints, priors, _, _, _, _, _, _, ZtZ, ZtX, Zty, XtX, vec = model
    p, sigma_index, G, K = ints[2], ints[4], ints[5], ints[6]
    C = np.zeros((K, K))
    L = np.zeros((K, K))
    sd = np.zeros(K)
    M = np.empty((K, K))
    Linv = np.zeros((K, K))
    b = np.empty(K)
    u = np.empty(K)
    w = np.empty(K)
    z = np.empty(K)
    for s in range(draws.shape[0]):
        x = draws[s]
        assemble_factors(x, ints, priors, C, L, sd)
        sigma = math.exp(x[sigma_index])
        v = sigma * sigma
        for i in range(G):
            n_i = vec[p + 2 + i]
            for a in range(K):
                acc = Zty[i, a]
                for j in range(p):
                    acc -= ZtX[i, a, j] * x[j]
                b[a] = acc
            for a in range(K):
                acc = 0.0
                for m in range(a, K):
                    acc += C[m, a] * b[m]
                u[a] = acc
            for a in range(K):  # M = σ²I + C'AC
                for c in range(a + 1):
                    acc = 0.0
                    for m in range(a, K):
                        for l in range(c, K):
                            acc += C[m, a] * ZtZ[i, m, l] * C[l, c]
                    M[a, c] = acc
                    M[c, a] = acc
                M[a, a] += v
            det_M = cholesky_product(M, K)
            lower_inverse(M, Linv, K)
            for a in range(K):  # w = M⁻¹u = Linv'(Linv u)
                acc = 0.0
                for m in range(a + 1):
                    acc += Linv[a, m] * u[m]
                z[a] = acc
            quad = 0.0
            for a in range(K):
                quad += z[a] * z[a]
            for a in range(K):
                acc = 0.0
                for m in range(a, K):
                    acc += Linv[m, a] * z[m]
                w[a] = acc
            for a in range(K):  # u = w + σ Linv' e, e ~ N(0, I): covariance σ² M⁻¹
                z[a] = random_normal(rng)
            for a in range(K):
                acc = 0.0
                for m in range(a, K):
                    acc += Linv[m, a] * z[m]
                u[a] = w[a] + sigma * acc
            for a in range(K):
                acc = 0.0
                for m in range(a + 1):
                    acc += C[a, m] * u[m]
                gamma[s, i, a] = acc
            group_loglik[s, i] = -0.5 * (n_i * LOG_2PI + (n_i - K) * math.log(v) + math.log(det_M) - quad / v)
    return gamma


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

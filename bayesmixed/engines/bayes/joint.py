"""The marginal route for any Gaussian structure (crossed, nested, several terms): γ of every term integrated out jointly.

y ~ N(Xβ, σ²W⁻¹ + ZΛΛ'Z'), Λ (q x q) block-diagonal with each term's C_t = diag(sd_t) L_t repeated over its levels
(q = Σ_t levels_t k_t, random effects in Design.Z's order: term by term, level-major). With A = Z'WZ, b = Z'Wr,
r = y − Xβ, M = σ²I + Λ'AΛ, c = Λ'b and w = M⁻¹c (Woodbury and the determinant lemma):
    log|V| = (n − q) log σ² + log|M| − Σ log wᵢ,    r'V⁻¹r = (r'Wr − c'w) / σ².
The data enter only through Z'WZ, Z'WX, Z'Wy, X'WX, X'Wy, y'Wy, computed once (layout.joint_statistics).
Gradient (matrix calculus; no derivative of the mode): ∂ℓ/∂Λ = −AΛM⁻¹ + (b − AΛw)w'/σ², read on Λ's pattern and
summed over each term's levels into ∂ℓ/∂C_t; ∂ℓ/∂σ² = −½[(n − q)/σ² + tr M⁻¹ − (r'Wr − c'w)/σ⁴ + w'w/σ²];
∂ℓ/∂β = (X'Wr − (Z'WX)'Λw)/σ². One dense Cholesky of M per evaluation, O(q³): the route serves models with up to
layout.JOINT_MAX_Q random effects.
Fixed effects with Normal(m_j, s_j) priors can be integrated out the same way (layout.integrated_beta_model): X's
columns scaled by s_j join Z with an identity block of Λ, y becomes y − Xm, and the sampler sees σ and the sds only.
"""

from __future__ import annotations

import math

import numpy as np

from .factors import LOG_2PI, assemble_factors, backward_factors, compiled, fixed_and_sigma_priors
from .layout import (HEADER_GROUPS, HEADER_INTS, HEADER_K, HEADER_N_TERMS, HEADER_P, HEADER_SIGMA_INDEX,
                    TERM_COLUMN_OFFSET, TERM_INTS, TERM_K, TERM_N_LEVELS)


@compiled
def effect_positions(ints, q):
    """Per random effect i: (first index of its level block, its column a within the term, the term's k,
    the term's first column in the block-diagonal C). Λ[i, j] = C[off + a_i, off + a_j] within a block, a_j <= a_i."""
    start = np.empty(q, dtype=np.int64)
    column = np.empty(q, dtype=np.int64)
    width = np.empty(q, dtype=np.int64)
    offset = np.empty(q, dtype=np.int64)
    i = 0
    for t in range(ints[HEADER_N_TERMS]):
        term = ints[HEADER_INTS + TERM_INTS * t : HEADER_INTS + TERM_INTS * (t + 1)]
        k, n_levels, off = term[TERM_K], term[TERM_N_LEVELS], term[TERM_COLUMN_OFFSET]
        for _ in range(n_levels):
            for a in range(k):
                start[i], column[i], width[i], offset[i] = i - a, a, k, off
                i += 1
    while i < q:  # integrated fixed effects: Λ's block is the identity, C[K, K] = 1
        start[i], column[i], width[i], offset[i] = i, 0, 1, ints[HEADER_K]
        i += 1
    return start, column, width, offset


@compiled
def joint_factors(x, ints, priors):
    """(C, L, sd, log priors) of all terms, C (K', K') with K' = K + 1 when fixed effects are integrated out
    (C[K, K] = 1: their Λ block, the prior sds being folded into their columns of Z)."""
    K = ints[HEADER_K]
    size = K + 1 if ints[HEADER_GROUPS] > 0 else K
    C = np.zeros((size, size))
    L = np.zeros((size, size))
    sd = np.zeros(size)
    lp = assemble_factors(x, ints, priors, C[:K, :K], L[:K, :K], sd[:K])
    if size > K:
        C[K, K] = 1.0
    return C, L, sd, lp


@compiled
def cholesky_logdet(M):
    """Lower Cholesky factor of M in place (upper triangle zeroed); returns log|M|, or −inf if M is not
    positive definite (a sum of logs: a product of q pivots would overflow)."""
    q = M.shape[0]
    logdet = 0.0
    for j in range(q):
        s = M[j, j]
        for m in range(j):
            s -= M[j, m] * M[j, m]
        if not s > 0.0:
            return -np.inf
        logdet += math.log(s)
        d = math.sqrt(s)
        M[j, j] = d
        for i in range(j + 1, q):
            s = M[i, j]
            for m in range(j):
                s -= M[i, m] * M[j, m]
            M[i, j] = s / d
        for i in range(j):
            M[i, j] = 0.0
    return logdet


@compiled
def joint_system(C, A, b, v, positions, AL, M, c):
    """AL = AΛ (q,q), M = chol(σ²I + Λ'AΛ) in place, c = Λ'b; returns log|σ²I + Λ'AΛ| (−inf if not positive definite).

    Λ is never formed: its column j has entries C[off + a, off + a_j] at rows start_j + a, a_j <= a < k_j."""
    start, column, width, offset = positions
    q = A.shape[0]
    for r in range(q):  # (q, q) times block-diagonal (q, q): q² k
        for j in range(q):
            s = 0.0
            off, a_j, first = offset[j], column[j], start[j]
            for a in range(a_j, width[j]):
                s += A[r, first + a] * C[off + a, off + a_j]
            AL[r, j] = s
    for j in range(q):  # M = σ²I + Λ'(AΛ), lower triangle then mirrored
        off, a_j, first = offset[j], column[j], start[j]
        for m in range(j + 1):
            s = 0.0
            for a in range(a_j, width[j]):
                s += C[off + a, off + a_j] * AL[first + a, m]
            M[j, m] = s
            M[m, j] = s
        M[j, j] += v
        s = 0.0
        for a in range(a_j, width[j]):
            s += C[off + a, off + a_j] * b[first + a]
        c[j] = s
    return cholesky_logdet(M)


@compiled
def transposed_lower_inverse(Lc, T):
    """T = Lc⁻ᵀ (upper triangle written) for a lower-triangular Lc, by forward substitution along T's rows."""
    q = Lc.shape[0]
    for j in range(q):
        T[j, j] = 1.0 / Lc[j, j]
        for i in range(j + 1, q):
            s = 0.0
            for m in range(j, i):
                s -= Lc[i, m] * T[j, m]
            T[j, i] = s / Lc[i, i]


@compiled
def apply_factor(C, positions, u, out):
    """out = Λu: out_i = Σ_{a <= a_i} C[off + a_i, off + a] u[start_i + a]."""
    start, column, _, offset = positions
    for i in range(u.shape[0]):
        s = 0.0
        off, a_i, first = offset[i], column[i], start[i]
        for a in range(a_i + 1):
            s += C[off + a_i, off + a] * u[first + a]
        out[i] = s


@compiled
def residual_cross(Zty, ZtX, beta, b):
    """b = Z'Wr = Z'Wy − Z'WX β."""
    for i in range(b.shape[0]):
        s = Zty[i]
        for j in range(beta.shape[0]):
            s -= ZtX[i, j] * beta[j]
        b[i] = s


@compiled
def joint_logp_grad(x, grad, model):
    """log p(β, σ, sd, R | y) with every term's γ integrated out; ℓ = −½[n log2π + (n−q) log σ² + log|M| − Σlog wᵢ
    + (r'Wr − c'M⁻¹c)/σ²]; its gradient is written into grad."""
    ints, priors, _, _, _, _, _, _, ZtZ, ZtX, Zty, XtX, vec = model
    p, sigma_index, K = ints[HEADER_P], ints[HEADER_SIGMA_INDEX], ints[HEADER_K]
    A = ZtZ[0]
    q = A.shape[0]
    grad[:] = 0.0
    lp = fixed_and_sigma_priors(x, grad, ints, priors)
    C, L, sd, lp_factors = joint_factors(x, ints, priors)
    lp += lp_factors
    beta = x[:p]
    v = math.exp(2.0 * x[sigma_index])  # σ²
    Xtr = vec[:p].copy()  # (p,) X'Wr = X'Wy − X'WXβ (loops: p may be 0, β integrated out)
    rtr = vec[p]  # r'Wr = y'Wy − 2β'X'Wy + β'X'WXβ
    for j in range(p):
        for m in range(p):
            Xtr[j] -= XtX[j, m] * beta[m]
    for j in range(p):
        rtr -= beta[j] * (vec[j] + Xtr[j])
    n_total, sum_log_weights = vec[p + 1], vec[p + 2]
    positions = effect_positions(ints, q)
    start, column, width, offset = positions
    b = np.empty(q)
    residual_cross(Zty[0], ZtX[0], beta, b)
    AL = np.empty((q, q))
    M = np.empty((q, q))
    c = np.empty(q)
    logdet = joint_system(C, A, b, v, positions, AL, M, c)
    if logdet == -np.inf:
        return -np.inf
    T = np.zeros((q, q))  # chol(M)⁻ᵀ, upper triangular: rows are contiguous where chol(M)⁻¹'s columns are not
    transposed_lower_inverse(M, T)
    W = np.empty((q, q))  # M⁻¹ = chol⁻ᵀ chol⁻¹: W[i, j] = Σ_m T[i, m] T[j, m], m >= max(i, j), two contiguous rows
    for i in range(q):
        for j in range(i + 1):
            s = 0.0
            for m in range(i, q):
                s += T[i, m] * T[j, m]
            W[i, j] = s
            W[j, i] = s
    w = W @ c  # (q,)
    quad = c @ w
    trace_W = 0.0
    for i in range(q):
        trace_W += W[i, i]
    ALw = AL @ w  # (q,) AΛw
    grad_C = np.zeros(C.shape)
    for j in range(q):  # ∂ℓ/∂Λ[i, j] = −(AΛW)[i, j] + (b_i − (AΛw)_i) w_j / σ², on Λ's pattern only
        off, a_j, first = offset[j], column[j], start[j]
        for a in range(a_j, width[j]):
            i = first + a
            s = 0.0
            for m in range(q):  # (AΛW)[i, j], W symmetric: two contiguous rows
                s += AL[i, m] * W[j, m]
            grad_C[off + a, off + a_j] += -s + (b[i] - ALw[i]) * w[j] / v
    Lw = np.empty(q)
    apply_factor(C, positions, w, Lw)
    resid_quad = rtr - quad
    lp += -0.5 * (n_total * LOG_2PI + (n_total - q) * math.log(v) + logdet - sum_log_weights + resid_quad / v)
    dll_dv = -0.5 * ((n_total - q) / v + trace_W - resid_quad / (v * v) + (w @ w) / v)
    grad[sigma_index] += dll_dv * 2.0 * v
    for j in range(p):  # (Z'WX)'Λw, column by column
        s = 0.0
        for i in range(q):
            s += ZtX[0, i, j] * Lw[i]
        grad[j] += (Xtr[j] - s) / v
    backward_factors(x, grad, ints, priors, L[:K, :K], sd[:K], grad_C[:K, :K])
    return lp

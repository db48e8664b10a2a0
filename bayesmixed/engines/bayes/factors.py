"""Compiled building blocks of the log densities (numba, cached on disk): kernel priors, each term's
covariance factor C_t = diag(sd_t) L_t from the unconstrained vector and its backward pass, small dense Cholesky.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .layout import (HEADER_INTS, HEADER_N_TERMS, HEADER_P, HEADER_SIGMA_INDEX, TERM_COLUMN_OFFSET, TERM_CORRELATED,
                    TERM_CORR_INDEX, TERM_INTS, TERM_K, TERM_PRIOR_ROW, TERM_SD_INDEX)

compiled = njit(cache=True, nogil=True, error_model="numpy")  # numpy error model: no zero-division branches

LOG_2PI = math.log(2.0 * math.pi)
LOG_2 = math.log(2.0)



@compiled
def prior_logp_grad(row, value):
    """(log p(value), d log p / d value) for one kernel prior row (code, a, b, c); see prior.py for codes."""
    code = int(row[0])
    if code == 0:  # Normal(mu=a, sigma=b)
        z = (value - row[1]) / row[2]
        return -0.5 * z * z - math.log(row[2]) - 0.5 * LOG_2PI, -z / row[2]
    if code == 1 or code == 3:  # StudentT(nu=a, mu=b, sigma=c) / HalfStudentT(nu=a, sigma=b)
        nu = row[1]
        mu = row[2] if code == 1 else 0.0
        scale = row[3] if code == 1 else row[2]
        d = value - mu
        lp = (math.lgamma(0.5 * (nu + 1.0)) - math.lgamma(0.5 * nu) - 0.5 * math.log(nu * math.pi)
              - math.log(scale) - 0.5 * (nu + 1.0) * math.log1p(d * d / (nu * scale * scale)))
        if code == 3:
            lp += LOG_2
        return lp, -(nu + 1.0) * d / (nu * scale * scale + d * d)
    if code == 2:  # HalfNormal(sigma=a)
        z = value / row[1]
        return LOG_2 - 0.5 * z * z - math.log(row[1]) - 0.5 * LOG_2PI, -z / row[1]
    if code == 4:  # Exponential(lam=a)
        return math.log(row[1]) - row[1] * value, -row[1]
    if code == 6:  # InverseSqrtHalfNormal(sigma=a): 1/√value ~ HalfNormal(a), density ½ value^(−3/2) HalfNormal(value^(−½))
        inverse = 1.0 / (value * row[1] * row[1])  # (1/√value)² / a²
        return (-0.5 * inverse - math.log(row[1]) - 0.5 * LOG_2PI - 1.5 * math.log(value),
                (0.5 * inverse - 1.5) / value)
    return 0.0, 0.0


@compiled
def digamma(x):
    """ψ(x) for x > 0: recurrence ψ(x) = ψ(x + 1) − 1/x up to x ≥ 10, then the asymptotic series (error < 1e-13)."""
    shift = 0.0
    while x < 10.0:
        shift -= 1.0 / x
        x += 1.0
    inv2 = 1.0 / (x * x)
    return shift + math.log(x) - 0.5 / x - inv2 * (1.0 / 12.0 - inv2 * (1.0 / 120.0 - inv2 * (1.0 / 252.0 - inv2 * (
        1.0 / 240.0 - inv2 * (1.0 / 132.0)))))


@compiled
def negbin_logp_grad(y, eta, theta, log_theta):
    """NB2 log p(y | μ = e^η, θ) less log y!, = lgamma(y+θ) − lgamma(θ) + θ log θ + yη − (y+θ) log(θ+μ), with its
    derivatives d/dη = y − (y+θ)s and d/dlog θ = θ[ψ(y+θ) − ψ(θ) − log(1 + μ/θ) + s] − y(1−s), s = μ/(θ+μ)."""
    gap = eta - log_theta  # log(μ/θ)
    log1p_ratio = gap + math.log1p(math.exp(-gap)) if gap > 0 else math.log1p(math.exp(gap))  # log(1 + μ/θ)
    share = 1.0 / (1.0 + math.exp(-gap))  # s
    lp = (math.lgamma(y + theta) - math.lgamma(theta) + y * (eta - log_theta) - (y + theta) * log1p_ratio)
    grad_eta = y - (y + theta) * share
    grad_log_theta = theta * (digamma(y + theta) - digamma(theta) - log1p_ratio + share) - y * (1.0 - share)
    return lp, grad_eta, grad_log_theta


@compiled
def log_sech2(z):
    """log(1 − tanh²z), stable for large |z|."""
    a = abs(z)
    return 2.0 * (LOG_2 - a - math.log1p(math.exp(-2.0 * a)))


@compiled
def term_factor(x, term, priors, C, L, sd):
    """Fill sd (k), L (k,k), C = diag(sd) L; return the sd and LKJ log priors plus the log Jacobian."""
    k, correlated, prior_row = term[TERM_K], term[TERM_CORRELATED], term[TERM_PRIOR_ROW]
    sd_index, corr_index = term[TERM_SD_INDEX], term[TERM_CORR_INDEX]
    lp = 0.0
    for a in range(k):
        sd[a] = math.exp(x[sd_index + a])
        lp_a, _ = prior_logp_grad(priors[prior_row + a], sd[a])
        lp += lp_a + x[sd_index + a]
    L[:, :] = 0.0
    for a in range(k):
        L[a, a] = 1.0
    if correlated:
        eta = priors[prior_row + k, 1]
        for i in range(1, k):
            base = corr_index + i * (i - 1) // 2
            sum_sq = 0.0
            for j in range(i):
                partial = math.tanh(x[base + j])
                L[i, j] = partial * math.sqrt(1.0 - sum_sq)
                lp += 0.5 * math.log(1.0 - sum_sq) + log_sech2(x[base + j])
                sum_sq += L[i, j] * L[i, j]
            L[i, i] = math.sqrt(max(1.0 - sum_sq, 1e-300))
            lp += ((k - i - 1) + 2.0 * (eta - 1.0)) * math.log(L[i, i])
    for a in range(k):
        for b in range(k):
            C[a, b] = sd[a] * L[a, b]
    return lp


@compiled
def term_factor_backward(x, term, priors, L, sd, grad_C, grad, sums):
    """Add d/dx of [term_factor's log terms + a function with gradient grad_C wrt C] into grad."""
    k, correlated, prior_row = term[TERM_K], term[TERM_CORRELATED], term[TERM_PRIOR_ROW]
    sd_index, corr_index = term[TERM_SD_INDEX], term[TERM_CORR_INDEX]
    for a in range(k):
        grad_sd = 0.0
        for b in range(a + 1):
            grad_sd += grad_C[a, b] * L[a, b]
        _, dprior = prior_logp_grad(priors[prior_row + a], sd[a])
        grad[sd_index + a] += (grad_sd + dprior) * sd[a] + 1.0
    if not correlated:
        return
    eta = priors[prior_row + k, 1]
    for i in range(1, k):
        base = corr_index + i * (i - 1) // 2
        sum_sq = 0.0
        for j in range(i):  # sums[j]: Σ_{m<j} L[i,m]², the running sum before element j
            sums[j] = sum_sq
            sum_sq += L[i, j] * L[i, j]
        grad_diag = sd[i] * grad_C[i, i] + ((k - i - 1) + 2.0 * (eta - 1.0)) / L[i, i]
        grad_sum = grad_diag * (-0.5 / L[i, i])  # L_ii = sqrt(1 − S)
        for j in range(i - 1, -1, -1):
            partial = math.tanh(x[base + j])
            root = math.sqrt(1.0 - sums[j])
            grad_Lij = sd[i] * grad_C[i, j] + grad_sum * 2.0 * L[i, j]
            grad[base + j] += grad_Lij * root * (1.0 - partial * partial) - 2.0 * partial
            grad_sum += grad_Lij * (-0.5 * partial / root) - 0.5 / (1.0 - sums[j])


@compiled
def fixed_and_sigma_priors(x, grad, ints, priors):
    """Log priors of β and σ (with log σ's Jacobian), gradients written into grad."""
    p, sigma_index = ints[HEADER_P], ints[HEADER_SIGMA_INDEX]
    lp = 0.0
    for j in range(p):
        lp_j, g_j = prior_logp_grad(priors[j], x[j])
        lp += lp_j
        grad[j] = g_j
    if sigma_index >= 0:
        sigma = math.exp(x[sigma_index])
        lp_s, g_s = prior_logp_grad(priors[p], sigma)
        lp += lp_s + x[sigma_index]
        grad[sigma_index] = g_s * sigma + 1.0
    return lp


@compiled
def cholesky_inplace(M, K):
    """Lower Cholesky factor of M's K x K block in place (upper triangle zeroed); returns |M|, the product of
    the squared pivots (one log per caller, not one per column), or −1 if M is not positive definite."""
    det = 1.0
    for j in range(K):
        s = M[j, j]
        for m in range(j):
            s -= M[j, m] * M[j, m]
        if s <= 0.0:
            return -1.0
        det *= s
        d = math.sqrt(s)
        M[j, j] = d
        for i in range(j + 1, K):
            s = M[i, j]
            for m in range(j):
                s -= M[i, m] * M[j, m]
            M[i, j] = s / d
        for i in range(j):
            M[i, j] = 0.0
    return det


@compiled
def lower_inverse(Lm, out, K):
    """out = Lm⁻¹ for a lower-triangular K x K Lm (lower triangle of out written)."""
    for j in range(K):
        out[j, j] = 1.0 / Lm[j, j]
        for i in range(j + 1, K):
            s = 0.0
            for m in range(j, i):
                s -= Lm[i, m] * out[m, j]
            out[i, j] = s / Lm[i, i]


@compiled
def assemble_factors(x, ints, priors, C, L, sd):
    """Block-diagonal C (K,K) of all terms into C; returns their log priors."""
    lp = 0.0
    n_terms = ints[HEADER_N_TERMS]
    C[:, :] = 0.0
    for t in range(n_terms):
        term = ints[HEADER_INTS + TERM_INTS * t : HEADER_INTS + TERM_INTS * (t + 1)]
        off, k = term[TERM_COLUMN_OFFSET], term[TERM_K]
        lp += term_factor(x, term, priors, C[off:off + k, off:off + k], L[off:off + k, off:off + k], sd[off:off + k])
    return lp


@compiled
def backward_factors(x, grad, ints, priors, L, sd, grad_C):
    """Push grad_C (d/dC of the block-diagonal factor) back through every term's term_factor into grad."""
    sums = np.empty(L.shape[0])
    for t in range(ints[HEADER_N_TERMS]):
        term = ints[HEADER_INTS + TERM_INTS * t : HEADER_INTS + TERM_INTS * (t + 1)]
        off, k = term[TERM_COLUMN_OFFSET], term[TERM_K]
        term_factor_backward(x, term, priors, L[off:off + k, off:off + k], sd[off:off + k],
                             grad_C[off:off + k, off:off + k], grad, sums)

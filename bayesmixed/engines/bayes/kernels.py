"""Compiled log posterior densities and their analytic gradients (numba, cached on disk).

Every route reads the packed model of layout.pack_model, so one compilation serves every model:
  marginal (gaussian, one grouping): y_i ~ N(X_iβ, σ²I + Z_i C C' Z_i'), γ integrated out, evaluated from
      per-group sufficient statistics in O(G K³) with Woodbury and the determinant lemma (DESIGN.md §4);
  joint marginal (gaussian, any crossed or nested terms): joint.py;
  full (any family): γ_j = C_t u_j with u_j ~ N(0, I) (non-centred), or centred α_j ~ N(μ_j, C_tC_t') with the
      fixed effects constant within the term's levels in μ_j (layout.level_means), up to a data-only constant.
C_t = diag(sd_t) L_t, L_t the Cholesky factor of the term's correlation (identity for `||` terms).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import types
from numba.core.types import WrapperAddressProtocol

from .factors import (LOG_2PI, assemble_factors, backward_factors, cholesky_inplace, compiled,
                      fixed_and_sigma_priors, lower_inverse, negbin_logp_grad)
from .joint import joint_logp_grad
from .layout import (FULL, HEADER_FAMILY, HEADER_GROUPS, HEADER_INTS, HEADER_K, HEADER_N_TERMS, HEADER_P,
                     HEADER_ROUTE, HEADER_SIGMA_INDEX, MARGINAL, MARGINAL_JOINT, TERM_CENTRED, TERM_COLUMN_OFFSET,
                     TERM_INTS, TERM_K, TERM_N_LEVELS, TERM_U_INDEX)


@compiled
def group_two_columns(A, b, C, v, w, grad_C):
    """One group's marginal terms for K = 2: returns (log|M|, u'M⁻¹u, tr M⁻¹, w'w), writes w = M⁻¹u and
    adds −AC(W + ww'/σ²) + bw'/σ² to grad_C's lower triangle (the loops of marginal_logp_grad, unrolled)."""
    c00, c10, c11 = C[0, 0], C[1, 0], C[1, 1]
    a00, a01, a11 = A[0, 0], A[0, 1], A[1, 1]
    ac00, ac01 = a00 * c00 + a01 * c10, a01 * c11  # AC = A C
    ac10, ac11 = a01 * c00 + a11 * c10, a11 * c11
    m00 = c00 * ac00 + c10 * ac10 + v  # M = C'AC + σ²I
    m01 = c00 * ac01 + c10 * ac11
    m11 = c11 * ac11 + v
    det = m00 * m11 - m01 * m01
    if det <= 0.0 or m00 <= 0.0:
        return -np.inf, 0.0, 0.0, 0.0
    w00, w01, w11 = m11 / det, -m01 / det, m00 / det  # W = M⁻¹
    u0, u1 = c00 * b[0] + c10 * b[1], c11 * b[1]  # u = C'b
    w[0] = w00 * u0 + w01 * u1
    w[1] = w01 * u0 + w11 * u1
    acw0 = ac00 * w[0] + ac01 * w[1]
    acw1 = ac10 * w[0] + ac11 * w[1]
    grad_C[0, 0] += -(ac00 * w00 + ac01 * w01) + (b[0] - acw0) * w[0] / v
    grad_C[1, 0] += -(ac10 * w00 + ac11 * w01) + (b[1] - acw1) * w[0] / v
    grad_C[1, 1] += -(ac10 * w01 + ac11 * w11) + (b[1] - acw1) * w[1] / v
    return math.log(det), u0 * w[0] + u1 * w[1], w00 + w11, w[0] * w[0] + w[1] * w[1]


@compiled
def marginal_logp_grad(x, grad, model):
    """log p(β, σ, sd, R | y) with γ integrated out; ℓ_i = −½[n_i log2π + (n_i−K) log σ² + log|M_i| + (r_i'r_i − u'M_i⁻¹u)/σ²]."""
    ints, priors, _, _, _, _, _, _, ZtZ, ZtX, Zty, XtX, vec = model
    p, sigma_index, G, K = ints[HEADER_P], ints[HEADER_SIGMA_INDEX], ints[HEADER_GROUPS], ints[HEADER_K]
    grad[:] = 0.0
    lp = fixed_and_sigma_priors(x, grad, ints, priors)
    C = np.zeros((K, K))
    L = np.zeros((K, K))
    sd = np.zeros(K)
    lp += assemble_factors(x, ints, priors, C, L, sd)
    beta = x[:p]
    v = math.exp(2.0 * x[sigma_index])  # σ²
    Xtr = vec[:p] - XtX @ beta  # (p,) X'r
    rtr = vec[p] - beta @ vec[:p] - beta @ Xtr  # r'r = y'y − 2β'X'y + β'X'Xβ
    n_total = vec[p + 1]
    AC = np.empty((K, K))
    M = np.empty((K, K))
    W = np.empty((K, K))
    b = np.empty(K)
    u = np.empty(K)
    w = np.empty(K)
    Cw = np.empty(K)
    Linv = np.zeros((K, K))
    grad_C = np.zeros((K, K))
    ZtX_Cw = np.zeros(p)  # Σ_i (Z_i'X_i)' C w_i
    sum_logdet, sum_Q, sum_trW, sum_ww = 0.0, 0.0, 0.0, 0.0
    for i in range(G):
        A = ZtZ[i]
        for a in range(K):  # b = Z_i'r_i = Z_i'y_i − Z_i'X_i β
            s = Zty[i, a]
            for j in range(p):
                s -= ZtX[i, a, j] * beta[j]
            b[a] = s
        if K == 2:  # the common (1 + x | g): closed forms, several times faster than the loops below
            contributions = group_two_columns(ZtZ[i], b, C, v, w, grad_C)
            if contributions[0] == -np.inf:
                return -np.inf
            sum_logdet += contributions[0]
            sum_Q += contributions[1]
            sum_trW += contributions[2]
            sum_ww += contributions[3]
            Cw0, Cw1 = C[0, 0] * w[0], C[1, 0] * w[0] + C[1, 1] * w[1]
            for j in range(p):
                ZtX_Cw[j] += ZtX[i, 0, j] * Cw0 + ZtX[i, 1, j] * Cw1
            continue
        # conditional.group_system computes the same AC, M, u, chol(M) and w; written out here, where a call per
        # group measured 5-10% slower
        for a in range(K):  # AC = A C (C lower triangular)
            for c in range(K):
                s = 0.0
                for m in range(c, K):
                    s += A[a, m] * C[m, c]
                AC[a, c] = s
        for a in range(K):  # M = σ²I + C'AC
            for c in range(a + 1):
                s = 0.0
                for m in range(a, K):
                    s += C[m, a] * AC[m, c]
                M[a, c] = s
                M[c, a] = s
            M[a, a] += v
        for a in range(K):  # u = C'b
            s = 0.0
            for m in range(a, K):
                s += C[m, a] * b[m]
            u[a] = s
        det_M = cholesky_inplace(M, K)  # |M|, one log per group below
        if det_M <= 0.0:
            return -np.inf
        sum_logdet += math.log(det_M)
        lower_inverse(M, Linv, K)
        for a in range(K):  # W = M⁻¹ = Linv' Linv, w = W u
            for c in range(a + 1):
                s = 0.0
                for m in range(a, K):
                    s += Linv[m, a] * Linv[m, c]
                W[a, c] = s
                W[c, a] = s
        for a in range(K):
            s = 0.0
            for m in range(K):
                s += W[a, m] * u[m]
            w[a] = s
        for a in range(K):
            sum_Q += u[a] * w[a]
            sum_trW += W[a, a]
            sum_ww += w[a] * w[a]
        for a in range(K):  # Cw = C w
            s = 0.0
            for m in range(a + 1):
                s += C[a, m] * w[m]
            Cw[a] = s
        for j in range(p):
            s = 0.0
            for a in range(K):
                s += ZtX[i, a, j] * Cw[a]
            ZtX_Cw[j] += s
        # d ℓ_i / dC = −AC (W + w w'/σ²) + b w'/σ²
        for a in range(K):
            ACw = 0.0
            for m in range(K):
                ACw += AC[a, m] * w[m]
            for c in range(a + 1):
                s = 0.0
                for m in range(K):
                    s += AC[a, m] * W[m, c]
                grad_C[a, c] += -s + (b[a] - ACw) * w[c] / v
    quad = rtr - sum_Q
    lp += -0.5 * (n_total * LOG_2PI + (n_total - G * K) * math.log(v) + sum_logdet + quad / v)
    dll_dv = -0.5 * ((n_total - G * K) / v + sum_trW - quad / (v * v) + sum_ww / v)
    grad[sigma_index] += dll_dv * 2.0 * v
    for j in range(p):
        grad[j] += (Xtr[j] - ZtX_Cw[j]) / v
    backward_factors(x, grad, ints, priors, L, sd, grad_C)
    return lp



@compiled
def term_effects(x, ints, C, gamma):
    """γ of every term into gamma, laid out as x[u_start:]: γ_j = C_t u_j, or x itself for a centred term."""
    u_start = ints[HEADER_INTS + TERM_U_INDEX]
    for t in range(ints[HEADER_N_TERMS]):
        term = ints[HEADER_INTS + TERM_INTS * t : HEADER_INTS + TERM_INTS * (t + 1)]
        k, n_levels, u_index = term[TERM_K], term[TERM_N_LEVELS], term[TERM_U_INDEX]
        off, centred = term[TERM_COLUMN_OFFSET], term[TERM_CENTRED]
        for lev in range(n_levels):
            base = u_index + lev * k
            for a in range(k):
                if centred:
                    gamma[base - u_start + a] = x[base + a]
                    continue
                s = 0.0
                for c in range(a + 1):
                    s += C[off + a, off + c] * x[base + c]
                gamma[base - u_start + a] = s


@compiled
def full_logp_grad(x, grad, model):
    """log p(β, σ, sd, R, u | y) for the non-centred model (γ for centred terms), up to a data-only constant.

    One pass over the rows: η_r = offset_r + X_r β + Σ_t m_t[r] · γ_t[code_t[r]], its log-likelihood, and
    d/dη_r pushed to β and to each term's γ.
    """
    ints, priors, X, y, trials, offset, codes, zmat, _, level_means, _, _, _ = model
    family, p, sigma_index = ints[HEADER_FAMILY], ints[HEADER_P], ints[HEADER_SIGMA_INDEX]
    n_terms, K = ints[HEADER_N_TERMS], ints[HEADER_K]
    n = X.shape[0]
    grad[:] = 0.0
    lp = fixed_and_sigma_priors(x, grad, ints, priors)
    C = np.zeros((K, K))
    L = np.zeros((K, K))
    sd = np.zeros(K)
    lp += assemble_factors(x, ints, priors, C, L, sd)
    u_start = ints[HEADER_INTS + TERM_U_INDEX] if n_terms else x.shape[0]
    gamma = np.empty(x.shape[0] - u_start)  # all terms' γ, laid out as x[u_start:]
    grad_gamma = np.zeros(x.shape[0] - u_start)
    term_effects(x, ints, C, gamma)
    term_k = np.empty(n_terms, dtype=np.int64)
    term_base = np.empty(n_terms, dtype=np.int64)
    term_column = np.empty(n_terms, dtype=np.int64)
    for t in range(n_terms):
        term_k[t] = ints[HEADER_INTS + TERM_INTS * t + TERM_K]
        term_base[t] = ints[HEADER_INTS + TERM_INTS * t + TERM_U_INDEX] - u_start
        term_column[t] = ints[HEADER_INTS + TERM_INTS * t + TERM_COLUMN_OFFSET]
    v = math.exp(2.0 * x[sigma_index]) if family == 0 else 1.0
    log_theta = x[sigma_index] if family == 3 else 0.0  # NB2's size θ on the log scale, in σ's slot
    theta = math.exp(log_theta)
    sum_sq = 0.0
    for r in range(n):
        eta = offset[r]
        for j in range(p):
            eta += X[r, j] * x[j]
        for t in range(n_terms):
            base = term_base[t] + codes[r, t] * term_k[t]
            for a in range(term_k[t]):
                eta += zmat[r, term_column[t] + a] * gamma[base + a]
        if family == 0:  # trials holds the prior weights (ones when unweighted): residual variance σ²/wᵣ
            resid = y[r] - eta
            sum_sq += trials[r] * resid * resid
            grad_eta = trials[r] * resid / v
        elif family == 1:
            log1p_exp = eta + math.log1p(math.exp(-eta)) if eta > 0 else math.log1p(math.exp(eta))
            lp += y[r] * eta - trials[r] * log1p_exp
            grad_eta = y[r] - trials[r] / (1.0 + math.exp(-eta))
        elif family == 3:
            lp_r, grad_eta, grad_log_theta = negbin_logp_grad(y[r], eta, theta, log_theta)
            lp += lp_r
            grad[sigma_index] += grad_log_theta
        else:
            mean = math.exp(eta)
            lp += y[r] * eta - mean
            grad_eta = y[r] - mean
        for j in range(p):
            grad[j] += X[r, j] * grad_eta
        for t in range(n_terms):
            base = term_base[t] + codes[r, t] * term_k[t]
            for a in range(term_k[t]):
                grad_gamma[base + a] += zmat[r, term_column[t] + a] * grad_eta
    if family == 0:
        lp += -0.5 * sum_sq / v - n * x[sigma_index]
        grad[sigma_index] += sum_sq / v - n
    grad_C = np.zeros((K, K))
    for t in range(n_terms):
        term = ints[HEADER_INTS + TERM_INTS * t : HEADER_INTS + TERM_INTS * (t + 1)]
        k, n_levels, u_index = term[TERM_K], term[TERM_N_LEVELS], term[TERM_U_INDEX]
        off, centred = term[TERM_COLUMN_OFFSET], term[TERM_CENTRED]
        grad_gamma_t = grad_gamma[u_index - u_start : u_index - u_start + n_levels * k].reshape((n_levels, k))
        if centred:
            lp += centred_prior(x, grad, u_index, n_levels, k, C[off:off + k, off:off + k], grad_gamma_t,
                                grad_C[off:off + k, off:off + k], level_means[u_index - u_start:], p)
            continue
        for lev in range(n_levels):
            base = u_index + lev * k
            for c in range(k):  # d/du_j = C_t' dγ_j − u_j (standard-normal prior)
                s = 0.0
                for a in range(c, k):
                    s += C[off + a, off + c] * grad_gamma_t[lev, a]
                u = x[base + c]
                grad[base + c] += s - u
                lp -= 0.5 * u * u
            for a in range(k):  # dC_t[a, c] += dγ_j[a] u_j[c]
                for c in range(a + 1):
                    grad_C[off + a, off + c] += grad_gamma_t[lev, a] * x[base + c]
    backward_factors(x, grad, ints, priors, L, sd, grad_C)
    return lp


@compiled
def centred_prior(x, grad, index, n_levels, k, C, grad_gamma, grad_C, means, p):
    """Σ_j log N(α_j | μ_j, CC') less its 2π constant, α_j = x[index + j k : ...], μ_j[a] = means[j k + a, 0] · β
    (hierarchical centring: the fixed effects constant within the term's levels move into the effects' mean;
    zero rows where none do, and then α = γ); adds d/dα (with the likelihood's grad_gamma) and d/dβ to grad and
    d/dC = Σ_j w_j z_j' − n_levels diag(1/C_aa) to grad_C, z = C⁻¹(α_j − μ_j), w = C⁻ᵀz."""
    z = np.empty(k)
    w = np.empty(k)
    lp = 0.0
    for a in range(k):
        lp -= n_levels * math.log(C[a, a])
        grad_C[a, a] -= n_levels / C[a, a]
    for lev in range(n_levels):
        base = index + lev * k
        for a in range(k):  # forward substitution C z = α − μ
            s = x[base + a]
            for j in range(p):
                s -= means[lev * k + a, 0, j] * x[j]
            for m in range(a):
                s -= C[a, m] * z[m]
            z[a] = s / C[a, a]
        for a in range(k - 1, -1, -1):  # back substitution C' w = z
            s = z[a]
            for m in range(a + 1, k):
                s -= C[m, a] * w[m]
            w[a] = s / C[a, a]
        for a in range(k):
            lp -= 0.5 * z[a] * z[a]
            grad[base + a] += grad_gamma[lev, a] - w[a]
            for j in range(p):
                grad[j] += w[a] * means[lev * k + a, 0, j]
            for c in range(a + 1):
                grad_C[a, c] += w[a] * z[c]
    return lp


# The packed model's numba type (layout.pack_model: 13 writeable C-contiguous arrays) and the one signature every
# route's log density has, so that the sampler (nuts.py) receives any of them as the same first-class function type.
_VECTOR, _MATRIX, _CUBE = types.float64[::1], types.float64[:, ::1], types.float64[:, :, ::1]
PACKED_MODEL = types.Tuple((types.int64[::1], _MATRIX, _MATRIX, _VECTOR, _VECTOR, _VECTOR, types.int64[:, ::1], _MATRIX,
                            _CUBE, _CUBE, _MATRIX, _MATRIX, _VECTOR))
LOG_DENSITY_SIGNATURE = types.float64(_VECTOR, _VECTOR, PACKED_MODEL)


# One entry point per route, each a kernel above (or joint.py's) with the signature LOG_DENSITY_SIGNATURE, so a fit
# compiles its own route only. They may return NaN or +inf where the density is not finite: their callers map
# that to −inf (log_density below, nuts.evaluate), rather than a wrapper per route that numba would compile,
# link with the kernel and optimise a second time.
ROUTE_LOG_DENSITIES = {MARGINAL: marginal_logp_grad, MARGINAL_JOINT: joint_logp_grad, FULL: full_logp_grad}


def route_log_density(model: tuple):
    """The compiled log density of the packed model's route (a numba dispatcher, f(x, grad, model) -> lp, writing
    the gradient into grad; lp may be NaN or +inf where not finite)."""
    route = int(model[0][HEADER_ROUTE])
    if route not in ROUTE_LOG_DENSITIES:
        raise ValueError(f"no compiled log density for route {route}")
    return ROUTE_LOG_DENSITIES[route]


def log_density(x: np.ndarray, grad: np.ndarray, model: tuple) -> float:
    """Log posterior (up to a constant) at unconstrained x, −inf where not finite; its gradient is written into
    grad. For Python callers (the Laplace start, tests); the sampler takes log_density_pointer(model)."""
    lp = route_log_density(model)(x, grad, model)
    return lp if math.isfinite(lp) else -math.inf


class LogDensityPointer(WrapperAddressProtocol):
    """A route's log density as a numba first-class function of type FunctionType(LOG_DENSITY_SIGNATURE).

    The sampler takes it as an argument and calls it through its address (the compiled function's C wrapper),
    so the sampler is compiled and cached once for every route, and numba never links the kernel into the
    sampler and re-optimises it there. A dispatcher passed as an argument instead would be typed by its
    identity, and the sampler compiled again in every process. An exception raised inside the kernel would not
    cross the C wrapper (numba prints it as unraisable); the kernels raise none on a packed model.
    """

    def __init__(self, dispatcher):
        from numba.experimental.function_type import _get_wrapper_address

        self.dispatcher = dispatcher
        # compiles the kernel for the signature, or loads it from numba's cache
        self.address = _get_wrapper_address(dispatcher, LOG_DENSITY_SIGNATURE)

    def signature(self):
        return LOG_DENSITY_SIGNATURE

    def __wrapper_address__(self) -> int:
        return self.address


@functools.cache
def _pointer(dispatcher) -> LogDensityPointer:
    return LogDensityPointer(dispatcher)


def log_density_pointer(model: tuple) -> LogDensityPointer:
    """The log density of the packed model's route as a first-class function, for nuts.run_iterations."""
    return _pointer(route_log_density(model))


def _check_cache() -> None:
    from .compiled_cache import drop_stale_entries

    drop_stale_entries(marginal_logp_grad)


_check_cache()  # before any compiled function of kernels, nuts or conditional loads from the cache

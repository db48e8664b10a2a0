"""No-U-turn sampler in numba (multinomial NUTS as in Stan, iterative tree build as in NumPyro).

Compiled once and cached on disk, independently of the kernels: the log density arrives as a first-class
function (kernels.log_density_pointer: a numba FunctionType argument, called through a function pointer) with
its packed model, so the sampler never recompiles for new data or another route, and numba never links and
re-optimises a kernel inside it. Warm-up follows Stan: dual-averaging step size (target
acceptance δ), a metric estimated in doubling windows (75 / 25, 50, ... / 50 iterations), diagonal or
dense. Each chain owns an xoshiro256** stream seeded from numpy's SeedSequence, so results do not
depend on which thread runs a chain.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import kernels  # noqa: F401  (its import drops stale cached entries before any of this module's load)
from .factors import cholesky_inplace
from .prebuilt import use_prebuilt
from .sample_stats import ACCEPTANCE_RATE, DIVERGING, ENERGY, LOG_DENSITY, N_STEPS, STEP_SIZE, TREE_DEPTH

# numba compiles every called function on its own, then again inside each caller that links it in; the helpers
# below are called from compiled code only, so they get neither a Python nor a C wrapper (code numba would
# otherwise generate and compile for each of them, and again in each caller), and the one entry point,
# run_iterations, no C wrapper. This and the function pointer to the kernel keep the sampler's first
# compilation to about 4 s of CPU (docs/bayes.md, "Cold start").
OPTIONS = dict(cache=True, nogil=True, error_model="numpy")  # as factors.compiled
internal = njit(**OPTIONS, no_cpython_wrapper=True, no_cfunc_wrapper=True)

# Indices into a chain's float state.
LP, STEP, MU, S_BAR, X_BAR, DA_COUNT, WELFORD_N, WARMUP_STEPS = range(8)


@internal
def _rotl(value, shift):
    return (value << np.uint64(shift)) | (value >> np.uint64(64 - shift))


@internal
def random_uniform(rng):
    """Uniform [0, 1) from xoshiro256** state rng (4 uint64), advanced in place."""
    result = _rotl(rng[1] * np.uint64(5), 7) * np.uint64(9)
    t = rng[1] << np.uint64(17)
    rng[2] ^= rng[0]
    rng[3] ^= rng[1]
    rng[1] ^= rng[2]
    rng[0] ^= rng[3]
    rng[2] ^= t
    rng[3] = _rotl(rng[3], 45)
    return float(result >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@internal
def random_normal(rng):
    """Standard normal by Box–Muller."""
    u1 = 1.0 - random_uniform(rng)
    u2 = random_uniform(rng)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@internal
def velocity(p, inv_diag, inv_dense, dense, out):
    """out = M⁻¹p; returns the kinetic energy ½ p'M⁻¹p."""
    D = p.shape[0]
    if dense:
        for i in range(D):
            s = 0.0
            for j in range(D):
                s += inv_dense[i, j] * p[j]
            out[i] = s
    else:
        for i in range(D):
            out[i] = inv_diag[i] * p[i]
    kinetic = 0.0
    for i in range(D):
        kinetic += p[i] * out[i]
    return 0.5 * kinetic


@internal
def draw_momentum(p, rng, inv_diag, chol_dense, dense, z):
    """p ~ N(0, M) with M = (inverse metric)⁻¹: p = z/√diag, or solve L'p = z for inverse metric LL'."""
    D = p.shape[0]
    for i in range(D):
        z[i] = random_normal(rng)
    if dense:
        for i in range(D - 1, -1, -1):
            s = z[i]
            for m in range(i + 1, D):
                s -= chol_dense[m, i] * p[m]
            p[i] = s / chol_dense[i, i]
    else:
        for i in range(D):
            p[i] = z[i] / math.sqrt(inv_diag[i])


@internal
def is_turning(p_start, p_end, rho, inv_diag, inv_dense, dense, tmp):
    """Generalised no-U-turn criterion: turning unless both M⁻¹p_start·ρ > 0 and M⁻¹p_end·ρ > 0."""
    velocity(p_start, inv_diag, inv_dense, dense, tmp)
    if np.dot(tmp, rho) <= 0.0:
        return True
    velocity(p_end, inv_diag, inv_dense, dense, tmp)
    return np.dot(tmp, rho) <= 0.0


@internal
def copy_into(out, values):
    """out[:] = values as a loop: numba's slice assignment checks shapes and links in code to format the error."""
    for i in range(out.shape[0]):
        out[i] = values[i]


@internal
def copy_state(x_to, p_to, g_to, x, p, g):
    """Copies a point (position, momentum, gradient) in one loop."""
    for i in range(x.shape[0]):
        x_to[i] = x[i]
        p_to[i] = p[i]
        g_to[i] = g[i]


@internal
def log_add_exp(a, b):
    if a == -np.inf:
        return b
    if b == -np.inf:
        return a
    hi = max(a, b)
    return hi + math.log(math.exp(a - hi) + math.exp(b - hi))


@internal
def evaluate(log_density, x, grad, model):
    """log_density(x, grad, model), −inf where it is not finite (the kernels may return NaN or +inf there)."""
    lp = log_density(x, grad, model)
    return lp if math.isfinite(lp) else -np.inf


@internal
def leapfrog(x, p, grad, step, inv_diag, inv_dense, dense, tmp, log_density, model):
    """One leapfrog step in place; returns the new log density log_density(x, grad, model)."""
    for i in range(x.shape[0]):
        p[i] += 0.5 * step * grad[i]
    velocity(p, inv_diag, inv_dense, dense, tmp)
    for i in range(x.shape[0]):
        x[i] += step * tmp[i]
    lp = evaluate(log_density, x, grad, model)
    for i in range(x.shape[0]):
        p[i] += 0.5 * step * grad[i]
    return lp


@internal
def transition(x, grad, lp, step, inv_diag, inv_dense, chol_dense, dense, rng, max_depth, log_density, model, work,
               ckpt_p, ckpt_rho):
    """One NUTS draw from x (updated in place with grad); returns (lp, acceptance, depth, steps, diverging, energy)."""
    (p, x_left, p_left, g_left, x_right, p_right, g_right, x_leaf, p_leaf, g_leaf,
     x_prop, g_prop, p_prop, x_sub, g_sub, p_sub, rho, rho_sub, rho_tmp, tmp) = (
        work[0], work[1], work[2], work[3], work[4], work[5], work[6], work[7], work[8], work[9], work[10],
        work[11], work[12], work[13], work[14], work[15], work[16], work[17], work[18], work[19])
    draw_momentum(p, rng, inv_diag, chol_dense, dense, tmp)
    H0 = -lp + velocity(p, inv_diag, inv_dense, dense, tmp)
    copy_state(x_left, p_left, g_left, x, p, grad)
    copy_state(x_right, p_right, g_right, x, p, grad)
    copy_state(x_prop, p_prop, g_prop, x, p, grad)
    lp_prop, lp_left, lp_right = lp, lp, lp
    copy_into(rho, p)
    log_w_total = 0.0
    depth, n_steps, accept_sum, diverging = 0, 0, 0.0, False
    while depth < max_depth:
        direction = 1.0 if random_uniform(rng) < 0.5 else -1.0
        if direction > 0:
            copy_state(x_leaf, p_leaf, g_leaf, x_right, p_right, g_right)
            lp_leaf = lp_right
        else:
            copy_state(x_leaf, p_leaf, g_leaf, x_left, p_left, g_left)
            lp_leaf = lp_left
        depth += 1
        log_w_sub, lp_sub, sub_turning = -np.inf, 0.0, False
        rho_sub[:] = 0.0
        for n in range(1 << (depth - 1)):
            lp_leaf = leapfrog(x_leaf, p_leaf, g_leaf, direction * step, inv_diag, inv_dense, dense, tmp, log_density,
                               model)
            n_steps += 1
            H = -lp_leaf + velocity(p_leaf, inv_diag, inv_dense, dense, tmp)
            log_w = H0 - H if math.isfinite(H) else -np.inf
            accept_sum += 1.0 if log_w > 0.0 else math.exp(log_w)
            if log_w < -1000.0:
                diverging = True
                break
            for i in range(rho_sub.shape[0]):
                rho_sub[i] += p_leaf[i]
            log_w_new = log_add_exp(log_w_sub, log_w)
            if math.log(random_uniform(rng)) < log_w - log_w_new:  # uniform progressive sampling within the subtree
                copy_state(x_sub, p_sub, g_sub, x_leaf, p_leaf, g_leaf)
                lp_sub = lp_leaf
            log_w_sub = log_w_new
            # U-turn checks on every aligned sub-subtree ending at leaf n, through checkpoints (NumPyro's scheme)
            bits, trailing = n >> 1, 0
            idx_max = 0
            while bits:
                idx_max += bits & 1
                bits >>= 1
            if n % 2 == 0:
                copy_into(ckpt_p[idx_max], p_leaf)
                copy_into(ckpt_rho[idx_max], rho_sub)
            else:
                m = n
                while m & 1:
                    trailing += 1
                    m >>= 1
                for i in range(idx_max, idx_max - trailing, -1):
                    for j in range(rho_tmp.shape[0]):
                        rho_tmp[j] = rho_sub[j] - ckpt_rho[i, j] + ckpt_p[i, j]
                    if is_turning(ckpt_p[i], p_leaf, rho_tmp, inv_diag, inv_dense, dense, tmp):
                        sub_turning = True
                        break
                if sub_turning:
                    break
        if diverging or sub_turning:
            break
        if math.log(random_uniform(rng)) < log_w_sub - log_w_total:  # biased progressive sampling across subtrees
            copy_state(x_prop, p_prop, g_prop, x_sub, p_sub, g_sub)
            lp_prop = lp_sub
        log_w_total = log_add_exp(log_w_total, log_w_sub)
        if direction > 0:
            copy_state(x_right, p_right, g_right, x_leaf, p_leaf, g_leaf)
            lp_right = lp_leaf
        else:
            copy_state(x_left, p_left, g_left, x_leaf, p_leaf, g_leaf)
            lp_left = lp_leaf
        for i in range(rho.shape[0]):
            rho[i] += rho_sub[i]
        if is_turning(p_left, p_right, rho, inv_diag, inv_dense, dense, tmp):
            break
    copy_into(x, x_prop)
    copy_into(grad, g_prop)
    energy = -lp_prop + velocity(p_prop, inv_diag, inv_dense, dense, tmp)
    return lp_prop, accept_sum / max(n_steps, 1), depth, n_steps, diverging, energy


@internal
def find_reasonable_step(x, grad, lp, step, inv_diag, inv_dense, chol_dense, dense, rng, log_density, model, work):
    """Stan's init_stepsize: double or halve the step until one leapfrog's acceptance crosses 0.8."""
    p, x_new, g_new, tmp, z = work[0], work[7], work[9], work[19], work[18]
    direction = 0
    for _ in range(100):
        draw_momentum(p, rng, inv_diag, chol_dense, dense, z)
        H0 = -lp + velocity(p, inv_diag, inv_dense, dense, tmp)
        copy_into(x_new, x)
        copy_into(g_new, grad)
        lp_new = leapfrog(x_new, p, g_new, step, inv_diag, inv_dense, dense, tmp, log_density, model)
        H = -lp_new + velocity(p, inv_diag, inv_dense, dense, tmp)
        delta = H0 - H if math.isfinite(H) else -np.inf
        if direction == 0:
            direction = 1 if delta > math.log(0.8) else -1
        if direction == 1 and not delta > math.log(0.8):
            break
        if direction == -1 and not delta < math.log(0.8):
            break
        step = step * 2.0 if direction == 1 else step * 0.5
        if step > 1e7 or step < 1e-10:
            break
    return step


@njit(**OPTIONS, no_cfunc_wrapper=True)
def run_iterations(log_density, model, x, grad, scalars, inv_diag, inv_dense, chol_dense, welford_mean, welford_m2,
                   welford_m2_dense, rng, dense, schedule, target_accept, max_depth, start, stop, n_tune,
                   out_draws, out_stats):
    """Iterations [start, stop) of one chain: warm-up adaptation while it < n_tune, then stored draws.

    log_density: the route's log density as a first-class function (kernels.log_density_pointer(model)).

    schedule: (n_tune + 2,) ints: [first slow iteration, end of slow phase, then 1 where a metric window ends].
    """
    D = x.shape[0]
    work = np.empty((20, D))
    ckpt_p = np.empty((max_depth + 1, D))
    ckpt_rho = np.empty((max_depth + 1, D))
    if start == 0:
        scalars[LP] = evaluate(log_density, x, grad, model)
        scalars[STEP] = find_reasonable_step(x, grad, scalars[LP], scalars[STEP], inv_diag, inv_dense, chol_dense,
                                             dense, rng, log_density, model, work)
        scalars[MU] = math.log(10.0 * scalars[STEP])
    for it in range(start, stop):
        lp, accept, depth, n_steps, diverging, energy = transition(
            x, grad, scalars[LP], scalars[STEP], inv_diag, inv_dense, chol_dense, dense, rng, max_depth, log_density,
            model, work, ckpt_p, ckpt_rho)
        scalars[LP] = lp
        if it < n_tune:
            scalars[WARMUP_STEPS] += n_steps
            # dual averaging (Hoffman & Gelman 2014, Stan's constants γ = 0.05, t0 = 10, κ = 0.75)
            scalars[DA_COUNT] += 1.0
            count = scalars[DA_COUNT]
            eta = 1.0 / (count + 10.0)
            scalars[S_BAR] = (1.0 - eta) * scalars[S_BAR] + eta * (target_accept - min(accept, 1.0))
            log_step = scalars[MU] - scalars[S_BAR] * math.sqrt(count) / 0.05
            weight = count ** -0.75
            scalars[X_BAR] = (1.0 - weight) * scalars[X_BAR] + weight * log_step
            scalars[STEP] = math.exp(log_step)
            if schedule[0] <= it < schedule[1]:
                welford_update(x, scalars, welford_mean, welford_m2, welford_m2_dense, dense)
            if schedule[2 + it] == 1:
                update_metric(scalars, welford_mean, welford_m2, welford_m2_dense, inv_diag, inv_dense, chol_dense, dense)
                scalars[STEP] = find_reasonable_step(x, grad, lp, scalars[STEP], inv_diag, inv_dense, chol_dense,
                                                     dense, rng, log_density, model, work)
                scalars[MU] = math.log(10.0 * scalars[STEP])
                scalars[S_BAR], scalars[X_BAR], scalars[DA_COUNT] = 0.0, 0.0, 0.0
            if it == n_tune - 1:
                scalars[STEP] = math.exp(scalars[X_BAR])
        else:
            row = it - n_tune
            copy_into(out_draws[row], x)
            out_stats[row, TREE_DEPTH] = depth
            out_stats[row, N_STEPS] = n_steps
            out_stats[row, DIVERGING] = 1.0 if diverging else 0.0
            out_stats[row, ENERGY] = energy
            out_stats[row, STEP_SIZE] = scalars[STEP]
            out_stats[row, ACCEPTANCE_RATE] = accept
            out_stats[row, LOG_DENSITY] = lp


use_prebuilt(run_iterations)  # the portable build shipped in prebuilt/, where it applies


@internal
def welford_update(x, scalars, mean, m2, m2_dense, dense):
    scalars[WELFORD_N] += 1.0
    n = scalars[WELFORD_N]
    D = x.shape[0]
    delta = np.empty(D)
    for i in range(D):
        delta[i] = x[i] - mean[i]
    for i in range(D):
        mean[i] += delta[i] / n
    for i in range(D):
        m2[i] += delta[i] * (x[i] - mean[i])
    if dense:
        for i in range(D):
            for j in range(D):
                m2_dense[i, j] += delta[i] * (x[j] - mean[j])


@internal
def update_metric(scalars, mean, m2, m2_dense, inv_diag, inv_dense, chol_dense, dense):
    """Inverse metric = window covariance shrunk towards 1e-3·I as Stan does: (n/(n+5))Σ + 1e-3(5/(n+5))I."""
    n = scalars[WELFORD_N]
    if n < 3:
        return
    D = mean.shape[0]
    shrink, ridge = n / (n + 5.0), 1e-3 * 5.0 / (n + 5.0)
    for i in range(D):
        inv_diag[i] = shrink * m2[i] / (n - 1.0) + ridge
    if dense:
        for i in range(D):
            for j in range(D):
                inv_dense[i, j] = shrink * m2_dense[i, j] / (n - 1.0) + (ridge if i == j else 0.0)
        for i in range(D):
            copy_into(chol_dense[i], inv_dense[i])
        if cholesky_inplace(chol_dense, D) < 0.0:  # not positive definite: fall back to the diagonal
            inv_dense[:, :] = 0.0
            chol_dense[:, :] = 0.0
            for i in range(D):
                inv_dense[i, i] = inv_diag[i]
                chol_dense[i, i] = math.sqrt(inv_diag[i])
    mean[:] = 0.0
    m2[:] = 0.0
    m2_dense[:, :] = 0.0
    scalars[WELFORD_N] = 0.0


def warmup_schedule(n_tune: int) -> np.ndarray:
    """Stan's windows: fast 75, slow windows 25, 50, 100, ... (the last stretched), fast 50; scaled down when short."""
    schedule = np.zeros(n_tune + 2, dtype=np.int64)
    if n_tune < 20:
        schedule[0], schedule[1] = n_tune, n_tune
        return schedule
    if n_tune >= 150:
        init, term, window = 75, 50, 25
    else:
        init, term = int(0.15 * n_tune), int(0.1 * n_tune)
        window = n_tune - init - term
    slow_end = n_tune - term
    schedule[0], schedule[1] = init, slow_end
    start = init
    while start < slow_end:
        end = start + window
        if end + 2 * window > slow_end:
            end = slow_end
        schedule[2 + end - 1] = 1
        start, window = end, 2 * window
    return schedule

"""The blocked marginal route: Gaussian models with more random effects than the joint route's dense algebra takes.

Sampled: x = (log σ, each term's log sds and correlation z's), the joint route's coordinates without β. Density:
log p(y | θ, σ) with γ and β integrated out (β under its Normal(m, S) prior), from the blocked Cholesky that
REML/ML and PIRLS use too, at θ = C/σ (first term level by level, the rest one dense block;
engines/blocked_factor.py), whose last p + 1 rows hold P = [X ỹ]'V̄⁻¹[X ỹ] with V = σ²V̄ the marginal covariance
of ỹ = y − offset − Xβ_shift:
    log p(y | θ, σ) = −½[n log 2πσ² + log|V̄| + P_yy/σ² + m̃'S⁻¹m̃ − c'A⁻¹c + log|S| + log|A|],
    A = P_xx/σ² + S⁻¹, c = P_xy/σ² + S⁻¹m̃, m̃ = m − β_shift;  β̃ | θ, σ, y ~ N(A⁻¹c, A⁻¹).
With a flat prior (S⁻¹ → 0) this is the REML likelihood, as on the joint route.

Sampler: independence Metropolis–Hastings. The posterior of these few coordinates is close to normal when a
model has this many random effects, and a gradient would cost the dense block's inverse (about three
factorisations), so each step proposes from a fixed distribution and costs one factorisation: the Laplace
approximation's t at first, then a normal mixture refitted to the warm-up draws (MixtureProposal), each with a
wide defensive t. β and γ are drawn at each accepted
proposal from their exact conditionals: β̃ as above, then u = H⁻¹[Λ'Z'(ỹ − Xβ̃ + σε₁) + σε₂] ~ N(E(u | y, β), σ²H⁻¹)
with H = Λ'Z'ZΛ + I (ε standard normal), solved with the same blocked factor, and γ = Λu.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from threadpoolctl import threadpool_limits

from ...errors import BayesmixedError
from ...progress import progress_display
from ..blocked_factor import BlockedFactor, factorize
from ..lmm.system import PlsSystem, build_system
from .factors import assemble_factors, fixed_and_sigma_priors
from .layout import IntegratedBeta, partial_correlations
from .sample_stats import ACCEPTANCE_RATE, ENERGY, LOG_DENSITY, N_STATS, N_STEPS, STEP_SIZE
from .seeds import CHAIN, START, generator

PROPOSAL_DF = 5.0  # t proposal: heavier tails than the near-normal posterior, so the weights stay bounded
PROPOSAL_INFLATION = 1.2  # proposal covariance over the posterior's: a little wider than the target
# The fitted proposal: a normal mixture follows a skewed posterior (an sd with a long tail towards zero), and a
# defensive t with DEFENSIVE_INFLATION x the covariance bounds π/q in the tails. Measured on pastes forced onto this
# route (sd(batch): skew −1.8 on the log scale), 6 seeds, 4 x 1000 after 1000: one Laplace t refitted once gave
# min tail ESS 114 and R-hat 1.012; 3 components, weight 0.1, x4, refitted once 303; refitted after each of 4
# stages 263; 5 components, weight 0.2, x6, 4 stages: R-hat ≤ 1.003, min bulk ESS 1,825, tail 1,419; 8 stages
# 1,742 / 1,256. A (x | s) term whose slope variance is 0 (150 x 80 crossed, seeds 1-3): 4 stages min tail ESS
# 225-726, 8 stages 498-1,138 (8 components instead: 71-406). The stages cost nothing: the same warm-up draws.
MIXTURE_COMPONENTS = 5
DEFENSIVE_WEIGHT, DEFENSIVE_INFLATION = 0.2, 6.0
WARMUP_STAGES = 8
NEWTON_STEPS = 6
FD_STEP = 1e-4  # finite-difference step on the unconstrained (log) scale


@dataclass
class Evaluation:
    """One point's log posterior and what the draws at that point need."""

    lp: float
    sigma: float
    factor: BlockedFactor
    beta_mean: np.ndarray  # (p,) E(β̃ | θ, σ, y), shifted β
    beta_root: np.ndarray  # (p, p) upper R with A = R'R: β̃ = mean + R⁻¹e


class BlockedPosterior:
    """log p(σ, sds, correlations | y) with γ and β integrated out, on the integrated layout's coordinates."""

    def __init__(self, design, integrated: IntegratedBeta, system: PlsSystem | None = None):
        self.design = design
        self.layout = integrated.layout
        self.ints, self.prior_rows = integrated.model[0], integrated.model[1]
        self.system = system if system is not None else build_system(design)
        self.prior_mean = integrated.mean - self.system.beta_shift  # prior of the system's shifted β̃
        self.prior_precision = 1.0 / integrated.sd**2
        self.log_prior_variance = float(np.log(integrated.sd**2).sum())
        self.K = sum(t.k for t in self.layout.terms)
        slots = self.system.response_slots
        centred = design.y - design.offset
        if slots.root_weights is not None:
            centred = centred * slots.root_weights
        self.response = centred - slots.X @ self.system.beta_shift  # ỹ, rows scaled by √w
        q_rest = self.system.q_rest
        # fixed pieces of H = Λ'Z'ZΛ + I for the conditional draws: Z₁'Z_r, its transpose, Z_r'
        self.first_rest = self.system.first_rhs[:, :q_rest].tocsr()
        self.rest_first = self.first_rest.T.tocsr()
        self.rest_transpose = slots.fixed_transpose[:q_rest].tocsr()

    def theta_sigma(self, x: np.ndarray) -> tuple[np.ndarray, float, float]:
        """(θ in lme4's order, σ, the log priors of σ and the covariance parameters with their Jacobians)."""
        C, L, sd = np.zeros((self.K, self.K)), np.zeros((self.K, self.K)), np.zeros(self.K)
        lp = fixed_and_sigma_priors(x, np.zeros(x.size), self.ints, self.prior_rows)
        lp += assemble_factors(x, self.ints, self.prior_rows, C, L, sd)
        sigma = math.exp(x[self.layout.sigma_index])
        theta = np.empty(self.design.n_theta)
        for term, lt, where in zip(self.design.terms, self.layout.terms, self.design.theta_slices):
            rows, cols = term.theta_pattern()
            theta[where] = C[lt.column_offset + rows, lt.column_offset + cols] / sigma
        return theta, sigma, lp

    def evaluate(self, x: np.ndarray) -> Evaluation | None:
        """The log posterior at x (None where θ or σ is not finite or the factor fails)."""
        if not np.all(np.isfinite(x)):
            return None
        theta, sigma, lp = self.theta_sigma(x)
        if not (np.all(np.isfinite(theta)) and np.isfinite(lp) and sigma > 0):
            return None
        try:
            factor = factorize(self.system, theta)
        except (BayesmixedError, np.linalg.LinAlgError, ValueError):
            return None
        system, v = self.system, sigma * sigma
        q_rest, p = system.q_rest, system.p
        tail = factor.dense[q_rest:, q_rest:]  # lower factor of P: [[R_X, 0], [t', r]]
        R_X, t, r = tail[:p, :p], tail[p, :p], tail[p, p]
        A = R_X @ R_X.T / v + np.diag(self.prior_precision)
        c = R_X @ t / v + self.prior_precision * self.prior_mean
        try:
            root = sla.cholesky(A, lower=False, check_finite=False)  # A = R'R
        except np.linalg.LinAlgError:
            return None
        z = sla.solve_triangular(root, c, trans="T", check_finite=False)  # R'z = c: c'A⁻¹c = z'z
        quad = (t @ t + r * r) / v + self.prior_precision @ self.prior_mean**2 - z @ z
        log_likelihood = -0.5 * (system.n * math.log(2.0 * math.pi * v) + factor.logdet_random + quad
                                 + self.log_prior_variance + 2.0 * float(np.log(np.diag(root)).sum()))
        total = lp + log_likelihood
        if not math.isfinite(total):
            return None
        mean = sla.solve_triangular(root, z, check_finite=False)
        return Evaluation(total, sigma, factor, mean, root)

    def log_density(self, x: np.ndarray) -> float:
        evaluation = self.evaluate(x)
        return -np.inf if evaluation is None else evaluation.lp

    # ---- draws of β and γ at one evaluated point
    def draw_effects(self, evaluation: Evaluation, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(β (p,), γ of all terms (q,) in Z's column order): one draw from their exact conditional."""
        system, design, factor, sigma = self.system, self.design, evaluation.factor, evaluation.sigma
        shifted_beta = evaluation.beta_mean + sla.solve_triangular(evaluation.beta_root, rng.standard_normal(system.p),
                                                                   check_finite=False)
        slots = system.response_slots
        perturbed = self.response - slots.X @ shifted_beta + sigma * rng.standard_normal(system.n)
        lambdas = design.lambda_blocks(factor.theta)
        first, q_rest = design.terms[0], system.q_rest
        k = first.n_columns
        lambda_first = lambdas[0]
        # g = Λ'Z'(perturbed) + σε₂, by term: the first's per level (L, k), the rest's as one vector
        g_first = (slots.first_transpose @ perturbed).reshape(first.n_levels, k) @ lambda_first
        g_first += sigma * rng.standard_normal(g_first.shape)
        if q_rest:
            if system.rest_is_diagonal:
                scale = system.rest_scaling(factor.theta)[:q_rest]
                rest_lambda, rest_lambda_t = (lambda v: scale * v), (lambda v: scale * v)
            else:
                matrix = system.rest_lambda(factor.theta)[:q_rest, :q_rest].tocsr()
                rest_lambda, rest_lambda_t = matrix.dot, matrix.T.tocsr().dot
            g_rest = rest_lambda_t(self.rest_transpose @ perturbed) + sigma * rng.standard_normal(q_rest)
        # H = [[blockdiag A_j, B], [B', H₂₂]] with B = Λ₁'Z₁'Z_rΛ_r; the Schur complement's factor is the dense
        # block's leading q_rest rows
        A = lambda_first.T @ system.first_crossprod @ lambda_first + np.eye(k)  # (L, k, k)
        w_first = solve_blocks(A, g_first)
        if q_rest:
            spread = (w_first @ lambda_first.T).reshape(-1)  # Λ₁w per level, flattened as Z₁'s columns
            schur_rhs = g_rest - rest_lambda_t(self.rest_first @ spread)
            L22 = factor.dense[:q_rest, :q_rest]
            u_rest = sla.solve_triangular(L22, sla.solve_triangular(L22, schur_rhs, lower=True, check_finite=False),
                                          lower=True, trans="T", check_finite=False)
            back = (self.first_rest @ rest_lambda(u_rest)).reshape(first.n_levels, k) @ lambda_first
            u_first = solve_blocks(A, g_first - back)
            u = np.concatenate([u_first.reshape(-1), u_rest])
        else:
            u = w_first.reshape(-1)
        gamma = np.concatenate([e.reshape(-1) for e in design.random_effects_from_spherical(factor.theta, u)])
        return shifted_beta + system.beta_shift, gamma


def solve_blocks(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x with A[j] x[j] = b[j] for (L, k, k) blocks and (L, k) right-hand sides (k = 1 without a LAPACK call)."""
    if A.shape[1] == 1:
        return b / A[:, :, 0]
    return np.linalg.solve(A, b[:, :, None])[:, :, 0]


# ---- the proposal
@dataclass(frozen=True)
class TProposal:
    """Multivariate t (ν) with location mean and scale matrix root @ root'."""

    mean: np.ndarray
    root: np.ndarray  # lower Cholesky factor of the scale matrix
    df: float = PROPOSAL_DF

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal(self.mean.size)
        return self.mean + (self.root @ z) * math.sqrt(self.df / rng.chisquare(self.df))

    def log_density(self, x: np.ndarray) -> float:
        """Normalised, so that mixtures of t's with different scales weigh correctly."""
        D = self.mean.size
        z = sla.solve_triangular(self.root, x - self.mean, lower=True, check_finite=False)
        return (math.lgamma(0.5 * (self.df + D)) - math.lgamma(0.5 * self.df) - 0.5 * D * math.log(self.df * math.pi)
                - float(np.log(np.diag(self.root)).sum()) - 0.5 * (self.df + D) * math.log1p(z @ z / self.df))

    @classmethod
    def around(cls, mean: np.ndarray, covariance: np.ndarray, inflation: float = PROPOSAL_INFLATION) -> TProposal:
        """Scale chosen so the t's covariance is inflation x covariance (a t's covariance is scale x ν/(ν − 2))."""
        scale = covariance * inflation * (PROPOSAL_DF - 2.0) / PROPOSAL_DF
        return cls(mean.copy(), np.linalg.cholesky(positive_definite(scale)))


@dataclass(frozen=True)
class MixtureProposal:
    """Σ_k w_k t_k(x): components fitted to the warm-up draws, one of them a wide defensive t."""

    components: tuple[TProposal, ...]
    weights: np.ndarray

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        return self.components[rng.choice(len(self.components), p=self.weights)].draw(rng)

    def log_density(self, x: np.ndarray) -> float:
        terms = np.log(self.weights) + np.array([c.log_density(x) for c in self.components])
        top = float(terms.max())
        return top + math.log(float(np.exp(terms - top).sum()))

    @classmethod
    def laplace(cls, mode: np.ndarray, covariance: np.ndarray) -> MixtureProposal:
        """The Laplace approximation's t with the defensive wide t."""
        components = (TProposal.around(mode, covariance), TProposal.around(mode, covariance, DEFENSIVE_INFLATION))
        return cls(components, np.array([1.0 - DEFENSIVE_WEIGHT, DEFENSIVE_WEIGHT]))

    @classmethod
    def fitted(cls, draws: np.ndarray, rng: np.random.Generator) -> MixtureProposal:
        """MIXTURE_COMPONENTS normal components by EM (skewed or curved posteriors), each widened into a t, plus
        a t DEFENSIVE_INFLATION times as wide as the draws' covariance with weight DEFENSIVE_WEIGHT, which
        bounds the importance weight π/q in the tails (Hesterberg's defensive mixture)."""
        mean, covariance = draws.mean(axis=0), np.cov(draws, rowvar=False).reshape(draws.shape[1], -1)
        weights, means, covariances = gaussian_mixture(draws, MIXTURE_COMPONENTS, rng)
        components = [TProposal.around(m, c) for m, c in zip(means, covariances)]
        components.append(TProposal.around(mean, covariance, DEFENSIVE_INFLATION))
        mixture = np.append((1.0 - DEFENSIVE_WEIGHT) * weights, DEFENSIVE_WEIGHT)
        return cls(tuple(components), mixture / mixture.sum())


def gaussian_mixture(draws: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 100
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights, means, covariances) of a k-component normal mixture fitted by EM, started from k draws."""
    S, D = draws.shape
    floor = 1e-6 * np.diag(np.atleast_2d(np.cov(draws, rowvar=False))).max() * np.eye(D)
    means = draws[rng.choice(S, size=k, replace=False)]
    covariances = np.repeat(np.atleast_2d(np.cov(draws, rowvar=False))[None], k, axis=0) + floor
    weights = np.full(k, 1.0 / k)
    previous = -np.inf
    for _ in range(iterations):
        log_r = np.empty((S, k))
        for j in range(k):
            root = np.linalg.cholesky(covariances[j])
            z = sla.solve_triangular(root, (draws - means[j]).T, lower=True, check_finite=False)
            log_r[:, j] = np.log(weights[j]) - np.log(np.diag(root)).sum() - 0.5 * (z * z).sum(axis=0)
        top = log_r.max(axis=1, keepdims=True)
        total = top[:, 0] + np.log(np.exp(log_r - top).sum(axis=1))
        responsibility = np.exp(log_r - total[:, None])
        counts = responsibility.sum(axis=0) + 1e-12
        weights = counts / S
        means = (responsibility.T @ draws) / counts[:, None]
        for j in range(k):
            centred = draws - means[j]
            covariances[j] = (responsibility[:, j, None] * centred).T @ centred / counts[j] + floor
        if total.sum() - previous < 1e-8 * S:
            break
        previous = total.sum()
    return weights, means, covariances


def positive_definite(matrix: np.ndarray) -> np.ndarray:
    """The symmetric part with eigenvalues raised to at least 1e-8 of the largest (and of 1e-12)."""
    values, vectors = np.linalg.eigh(0.5 * (matrix + matrix.T))
    floor = max(1e-8 * float(np.abs(values).max()), 1e-12)
    return (vectors * np.maximum(values, floor)) @ vectors.T


def laplace(posterior: BlockedPosterior, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mode, covariance = (−Hessian)⁻¹) by damped Newton with central-difference derivatives."""
    x, lp = x0.copy(), posterior.log_density(x0)
    if not np.isfinite(lp):
        raise BayesmixedError("the blocked marginal route's starting point has zero posterior density; "
                              "use marginalize=False (the full route)")
    precision = np.eye(x.size)
    for _ in range(NEWTON_STEPS):
        gradient, hessian = derivatives(posterior.log_density, x, lp)
        precision = positive_definite(-hessian)
        step = np.linalg.solve(precision, gradient)
        scale, improved = 1.0, False
        while scale > 1e-4:
            trial = x + scale * step
            lp_trial = posterior.log_density(trial)
            if lp_trial > lp - 1e-10:
                x, lp, improved = trial, lp_trial, True
                break
            scale *= 0.5
        if not improved or float(gradient @ step) < 1e-8:
            break
    return x, np.linalg.inv(precision)


def derivatives(f, x: np.ndarray, fx: float) -> tuple[np.ndarray, np.ndarray]:
    """Central-difference gradient and Hessian of f at x (fx = f(x))."""
    D, h = x.size, FD_STEP
    gradient, hessian = np.empty(D), np.empty((D, D))
    plus, minus = np.empty(D), np.empty(D)
    for i in range(D):
        e = np.zeros(D)
        e[i] = h
        plus[i], minus[i] = f(x + e), f(x - e)
        gradient[i] = (plus[i] - minus[i]) / (2 * h)
        hessian[i, i] = (plus[i] - 2 * fx + minus[i]) / h**2
    for i in range(D):
        for j in range(i):
            e_i, e_j = np.zeros(D), np.zeros(D)
            e_i[i], e_j[j] = h, h
            hessian[i, j] = hessian[j, i] = (f(x + e_i + e_j) - f(x + e_i - e_j) - f(x - e_i + e_j)
                                             + f(x - e_i - e_j)) / (4 * h * h)
    return gradient, hessian


# ---- the sampler
@dataclass
class BlockedOutput:
    draws: np.ndarray  # (chains, draws, p + D): β in front, then the integrated layout's coordinates
    stats: np.ndarray  # (chains, draws, N_STATS)
    gamma: np.ndarray  # (chains, draws, q)
    evaluations: int


def sample_blocked(posterior: BlockedPosterior, x0: np.ndarray, *, chains: int, tune: int, draws: int,
                   seed: int | None, cores: int | None = None, progressbar: bool | None = None) -> BlockedOutput:
    """Independence MH. Warm-up in WARMUP_STAGES stages: the first proposes from the Laplace t mixed with a wide
    defensive t; after each stage the proposal is refitted (MixtureProposal.fitted) to all warm-up draws so far, so
    a skewed posterior the Laplace approximation misses is followed within a few stages. Sampling keeps the last."""
    mode, covariance = laplace(posterior, x0)
    proposal = MixtureProposal.laplace(mode, covariance)
    D, p, q = mode.size, posterior.design.p, posterior.design.q
    out_draws = np.empty((chains, draws, p + D))
    out_stats = np.zeros((chains, draws, N_STATS))
    out_gamma = np.empty((chains, draws, q))
    warm = np.empty((chains, tune, D))
    states: list = [None] * chains  # per chain (x, evaluation, log q(x), (β, γ) drawn at x or None)
    rngs = [generator(seed, CHAIN, c) for c in range(chains)]
    counts = np.zeros(chains, dtype=np.int64)

    def start(c: int, law: MixtureProposal) -> None:
        rng = generator(seed, START, c)
        for _ in range(100):
            x = law.draw(rng)
            evaluation = posterior.evaluate(x)
            counts[c] += 1
            if evaluation is not None:
                states[c] = (x, evaluation, law.log_density(x), None)
                return
        raise BayesmixedError("the blocked marginal route found no starting point with positive posterior density")

    def step(c: int, law: MixtureProposal) -> float:
        """One MH step of chain c from states[c]; returns the acceptance probability."""
        x, evaluation, log_q, effects = states[c]
        rng = rngs[c]
        candidate = law.draw(rng)
        proposed = posterior.evaluate(candidate)
        counts[c] += 1
        if proposed is None:
            return 0.0
        log_q_candidate = law.log_density(candidate)
        log_ratio = proposed.lp - evaluation.lp + log_q - log_q_candidate
        probability = 1.0 if log_ratio >= 0 else math.exp(log_ratio)
        if rngs[c].uniform() < probability:
            states[c] = (candidate, proposed, log_q_candidate, None)
        return probability

    def warm_up(c: int, first: int, last: int, law: MixtureProposal, bar) -> None:
        if states[c] is None:
            start(c, law)
        else:  # the proposal changed: the current point's density under it
            x, evaluation, _, effects = states[c]
            states[c] = (x, evaluation, law.log_density(x), effects)
        for i in range(first, last):
            step(c, law)
            warm[c, i] = states[c][0]
            bar.advance(1)

    def run(c: int, law: MixtureProposal, bar) -> None:
        x, evaluation, _, effects = states[c]
        states[c] = (x, evaluation, law.log_density(x), effects)
        for i in range(draws):
            probability = step(c, law)
            x, evaluation, log_q, effects = states[c]
            if effects is None:  # a new point: draw β and γ from its conditional once, kept while it stays
                effects = posterior.draw_effects(evaluation, rngs[c])
                states[c] = (x, evaluation, log_q, effects)
            out_draws[c, i, :p], out_draws[c, i, p:] = effects[0], x
            out_gamma[c, i] = effects[1]
            out_stats[c, i, [N_STEPS, ACCEPTANCE_RATE, LOG_DENSITY]] = 1.0, probability, evaluation.lp
            bar.advance(1)

    workers = max(1, min(chains, cores or os.cpu_count() or 1))
    # one BLAS thread per chain: the chains' factorisations run side by side in threads (numpy's Cholesky
    # releases the GIL), and BLAS threads on top of them would oversubscribe the cores
    blas_threads = threadpool_limits(limits=1, user_api="blas") if workers > 1 else nullcontext()
    stage_ends = np.unique(np.linspace(0, tune, WARMUP_STAGES + 1).round().astype(int))
    with progress_display(f"Sampling {chains} chains (blocked marginal)", chains * (tune + draws), progressbar) as bar, \
            blas_threads, ThreadPoolExecutor(max_workers=workers) as pool:
        for first, last in zip(stage_ends[:-1], stage_ends[1:]):
            list(pool.map(lambda c: warm_up(c, first, last, proposal, bar), range(chains)))
            so_far = warm[:, :last].reshape(-1, D)
            if np.unique(so_far, axis=0).shape[0] >= 10 * MIXTURE_COMPONENTS * (D + 1):  # enough distinct points
                proposal = MixtureProposal.fitted(so_far, generator(seed, START, chains + last))
        for c in range(chains):
            if states[c] is None:  # tune = 0
                start(c, proposal)
        list(pool.map(lambda c: run(c, proposal, bar), range(chains)))
    out_stats[..., ENERGY] = np.nan  # no Hamiltonian: no energy, step size or tree
    out_stats[..., STEP_SIZE] = np.nan
    return BlockedOutput(out_draws, out_stats, out_gamma, int(counts.sum()))


def reml_fit(design):
    """The REML fit whose estimates start the Laplace search (and whose PLS system the route reuses)."""
    import warnings

    from ..lmm.fit import fit_lmm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_lmm(design, check_derivatives=False)


def reml_point(design, layout, reml) -> np.ndarray:
    """The REML estimates (σ, sds, correlations) on the integrated layout's unconstrained coordinates; sds on
    the boundary are lifted to 1% of σ so that their logarithm exists (the Laplace search moves them)."""
    sigma = float(reml.sigma)
    x = np.zeros(layout.size)
    x[layout.sigma_index] = math.log(sigma)
    for lt, block in zip(layout.terms, design.lambda_blocks(reml.theta)):
        C = np.asarray(block) * sigma
        sd = np.maximum(np.sqrt((C**2).sum(axis=1)), 0.01 * sigma)
        x[lt.sd_index:lt.sd_index + lt.k] = np.log(sd)
        if lt.correlated:  # partial correlations kept within ±0.99, off the boundary
            limit = math.atanh(0.99)
            x[lt.corr_index:lt.corr_index + lt.n_corr] = np.clip(partial_correlations(C / sd[:, None]), -limit, limit)
    return x

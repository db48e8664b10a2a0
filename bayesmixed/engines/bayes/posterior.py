"""Draw-level quantities of a Bayesian fit: named parameter draws, γ draws, linear predictors, log-likelihoods.

Arrays carry draws flattened to S = chains x draws in front unless said otherwise.  `PosteriorDraws` is the
part of a BayesFit that holds the draws; prediction.py and inference_data.py read them through it.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ...errors import BayesmixedError
from .layout import (MARGINAL, MARGINAL_JOINT, ParameterLayout, absorbed_means, constrain_draws, correlation_cholesky, is_marginal,
                     pack_model)
from .prior import correlation_name, sd_name
from .seeds import RANEF, compiled_state

if TYPE_CHECKING:
    from ...design.types import Design

CHUNK = 256  # draws per block when an (S, n) array would be large


class PosteriorDraws:
    """The draws of a Bayesian fit (unconstrained (chains, draws, D) in the layout), constrained and named.

    `model` is the kernel's packed model (layout.pack_model), packed on first use when the sampler did not;
    `ranef` the per-term γ draws (S, levels, k) where the sampler drew them (the blocked marginal route).
    """

    def __init__(self, design: Design, layout: ParameterLayout, priors, unconstrained: np.ndarray,
                 seed: int | None, model: tuple | None = None, ranef: list[np.ndarray] | None = None):
        self.design = design
        self.layout = layout
        self.priors = priors
        self.unconstrained = unconstrained
        self.seed = seed
        self._model = model
        if ranef is not None:
            self.ranef = ranef  # fills the cached property
        self.named = named_draws(layout, design, unconstrained)  # {name: (chains, draws)}

    @property
    def n_chains(self) -> int:
        return self.unconstrained.shape[0]

    @property
    def n_draws(self) -> int:
        return self.unconstrained.shape[1]

    @property
    def size(self) -> int:
        """S = chains x draws."""
        return self.n_chains * self.n_draws

    @property
    def flat(self) -> np.ndarray:
        """(S, D) unconstrained draws."""
        return self.unconstrained.reshape(-1, self.unconstrained.shape[-1])

    def flat_named(self, name: str) -> np.ndarray:
        return self.named[name].reshape(-1)

    @property
    def packed_model(self) -> tuple:
        if self._model is None:
            self._model = pack_model(self.design, self.layout, self.priors)
        return self._model

    @property
    def beta(self) -> np.ndarray:
        """(S, p) fixed-effect draws."""
        if not self.design.p:
            return np.zeros((self.size, 0))
        return np.stack([self.flat_named(n) for n in self.design.fixef_names], axis=1)

    @property
    def sigma(self) -> np.ndarray | None:
        """(S,) residual sd draws; None for families without one."""
        return self.flat_named("sigma") if "sigma" in self.named else None

    @property
    def dispersion(self) -> np.ndarray | None:
        """(S,) draws of the family's scalar parameter: σ (gaussian), θ (negative binomial); None otherwise."""
        return self.flat_named(self.layout.scale_name) if self.layout.sigma_index >= 0 else None

    def correlation_cholesky(self, term) -> np.ndarray:
        """(S, k, k) Cholesky factors of a correlated layout term's correlation matrix."""
        return correlation_cholesky(self.flat[:, term.corr_index:term.corr_index + term.n_corr], term.k)

    def correlations(self, term) -> np.ndarray:
        """(S, k, k) correlation matrices of a layout term (identity when uncorrelated)."""
        if not term.correlated:
            return np.broadcast_to(np.eye(term.k), (self.size, term.k, term.k))
        return correlation_matrices(self.correlation_cholesky(term))

    def sds(self, term) -> np.ndarray:
        """(S, k) random-effect sd draws of a layout term."""
        return np.stack([self.flat_named(sd_name(term.group, c)) for c in term.columns], axis=1)

    def covariances(self) -> list[np.ndarray]:
        """Per term the (S, k, k) covariance of one level's γ, diag(sd) R diag(sd)."""
        out = []
        for t in self.layout.terms:
            sd = self.sds(t)
            out.append(self.correlations(t) * sd[:, :, None] * sd[:, None, :])
        return out

    @cached_property
    def ranef(self) -> list[np.ndarray]:
        """Per term γ draws (S, levels, k), seeded from the fit's seed."""
        model = self.packed_model if is_marginal(self.layout.route) else None
        return ranef_draws(self.layout, self.design, model, self.unconstrained, self.seed)


def named_draws(layout: ParameterLayout, design: Design, unconstrained: np.ndarray) -> dict[str, np.ndarray]:
    """{parameter name as summary() prints it: (chains, draws)} for β, σ or θ, every sd and every correlation."""
    c = constrain_draws(layout, unconstrained)
    out = {name: c["beta"][..., j] for j, name in enumerate(design.fixef_names)}
    if layout.sigma_index >= 0:
        out[layout.scale_name] = c[layout.scale_name]
    for i, t in enumerate(layout.terms):
        for a, column in enumerate(t.columns):
            out[sd_name(t.group, column)] = c[f"sd{i}"][..., a]
        if t.correlated:
            R = correlation_matrices(c[f"chol{i}"])
            for b in range(t.k):
                for a in range(b + 1, t.k):
                    out[correlation_name(t.group, t.columns[b], t.columns[a])] = R[..., a, b]
    return out


def correlation_matrices(chol: np.ndarray) -> np.ndarray:
    """R = L L' for (..., k, k) Cholesky factors."""
    return np.einsum("...ik,...jk->...ij", chol, chol)


def covariance_factors(layout: ParameterLayout, unconstrained: np.ndarray) -> list[np.ndarray]:
    """Per term C_t = diag(sd) L, (S, k, k), with γ_j = C_t u_j."""
    flat = unconstrained.reshape(-1, unconstrained.shape[-1])
    return factors_of(constrain_draws(layout, flat), len(layout.terms))


def factors_of(constrained: dict[str, np.ndarray], n_terms: int) -> list[np.ndarray]:
    """covariance_factors from constrain_draws's output on flat (S, size) draws."""
    return [constrained[f"sd{i}"][:, :, None] * constrained[f"chol{i}"] for i in range(n_terms)]


def ranef_draws(layout: ParameterLayout, design: Design, model: tuple | None, unconstrained: np.ndarray,
                seed: int | None) -> list[np.ndarray]:
    """Per term γ draws (S, levels, k): from the exact conditional (marginal routes) or C_t u_t (full route)."""
    flat = unconstrained.reshape(-1, unconstrained.shape[-1])
    if layout.route == MARGINAL:
        from .conditional import marginal_ranef_draws

        G, K = layout.terms[0].n_levels, sum(t.k for t in layout.terms)
        gamma = np.empty((flat.shape[0], G, K))
        marginal_ranef_draws(np.ascontiguousarray(flat), model, compiled_state(seed, RANEF), gamma)
        return [gamma[:, :, t.column_offset:t.column_offset + t.k] for t in layout.terms]
    if layout.route == MARGINAL_JOINT:
        from .conditional import joint_ranef_draws

        gamma = np.empty((flat.shape[0], sum(t.n_levels * t.k for t in layout.terms)))
        joint_ranef_draws(np.ascontiguousarray(flat), model, compiled_state(seed, RANEF), gamma)
        bounds = np.cumsum([0] + [t.n_levels * t.k for t in layout.terms])
        return [gamma[:, start:stop].reshape(-1, t.n_levels, t.k) for t, start, stop in zip(layout.terms, bounds, bounds[1:])]
    c = constrain_draws(layout, flat)
    gammas = [c[f"u{i}"] if t.centred else np.einsum("sak,slk->sla", C, c[f"u{i}"])
              for i, (t, C) in enumerate(zip(layout.terms, factors_of(c, len(layout.terms))))]
    for i, mean in enumerate(absorbed_means(design, layout, c["beta"])):
        if mean is not None:  # hierarchically centred: α_j = x_j'β + γ_j (a copy: u is a view of the draws)
            gammas[i] = gammas[i].copy()
            gammas[i][:, :, 0] -= mean
    return gammas


def eta_chunks(beta: np.ndarray, gammas: list[np.ndarray], X: np.ndarray, offset: np.ndarray,
               per_term: list[tuple[np.ndarray, np.ndarray]]):
    """Yield (start, η (chunk, n)) with η = Xβ + offset + Σ_t Σ_c m_t[:, c] γ_t[code, c]; code −1 adds nothing."""
    for start in range(0, beta.shape[0], CHUNK):
        stop = min(start + CHUNK, beta.shape[0])
        eta = beta[start:stop] @ X.T + offset  # (chunk, n)
        for gamma, (codes, matrix) in zip(gammas, per_term):
            seen = codes >= 0
            picked = gamma[start:stop][:, codes[seen], :]  # (chunk, n_seen, k)
            eta[:, seen] += np.einsum("snk,nk->sn", picked, matrix[seen])
        yield start, eta


def inverse_link(family: str, eta: np.ndarray) -> np.ndarray:
    if family == "binomial":
        return 1.0 / (1.0 + np.exp(-eta))
    if family in ("poisson", "negbin"):
        return np.exp(eta)
    return eta


def residual_scale(sigma: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """(chunk, 1) or (chunk, n) sd of a Gaussian y: σ, or σ/√w with prior weights w."""
    return sigma[:, None] if weights is None else sigma[:, None] / np.sqrt(weights)[None, :]


def pointwise_loglik(family: str, eta: np.ndarray, y: np.ndarray, trials: np.ndarray | None,
                     dispersion: np.ndarray | None, weights: np.ndarray | None = None) -> np.ndarray:
    """log p(y_n | η_n) per draw and observation, constants included: (chunk, n); `dispersion` holds each draw's
    σ (gaussian) or θ (negbin: log p = lnΓ(y+θ) − lnΓ(θ) − ln y! + θ ln(θ/(θ+μ)) + y ln(μ/(θ+μ)))."""
    from scipy.special import gammaln

    if family == "negbin":
        theta = dispersion[:, None]
        log_total = np.logaddexp(np.log(theta), eta)  # log(θ + μ)
        return (gammaln(y + theta) - gammaln(theta) - gammaln(y + 1) + theta * (np.log(theta) - log_total)
                + y * (eta - log_total))
    if family == "gaussian":
        scale = residual_scale(dispersion, weights)
        z = (y - eta) / scale
        return -0.5 * z * z - np.log(scale) - 0.5 * np.log(2 * np.pi)
    if family == "binomial":
        log_choose = gammaln(trials + 1) - gammaln(y + 1) - gammaln(trials - y + 1)
        return log_choose + y * eta - trials * np.logaddexp(0.0, eta)
    return y * eta - np.exp(eta) - gammaln(y + 1)


def unit_deviance(family: str, y: np.ndarray, mu: np.ndarray, trials: np.ndarray | None) -> np.ndarray:
    """Squared deviance residuals at means μ: 2 n [y log(y/μ) + (1−y) log((1−y)/(1−μ))] (binomial, y the observed
    proportion of n trials) or 2 [y log(y/μ) − (y − μ)] (poisson)."""
    from scipy.special import xlogy

    if family == "negbin":
        raise BayesmixedError("deviance residuals of a negative binomial Bayesian fit are not available (the unit "
                              "deviance needs θ); use residuals(kind='pearson') or kind='response'")
    if family == "poisson":
        return 2.0 * (xlogy(y, y) - xlogy(y, mu) - (y - mu))
    return 2.0 * trials * (xlogy(y, y) - xlogy(y, mu) + xlogy(1.0 - y, 1.0 - y) - xlogy(1.0 - y, 1.0 - mu))


def draw_response(family: str, eta: np.ndarray, trials: np.ndarray | None, dispersion: np.ndarray | None,
                  rng: np.random.Generator, weights: np.ndarray | None = None) -> np.ndarray:
    """Simulated responses for each draw's η (chunk, n); `dispersion` as in pointwise_loglik."""
    if family == "gaussian":
        return eta + residual_scale(dispersion, weights) * rng.standard_normal(eta.shape)
    if family == "negbin":  # NB2 as a gamma mixture of Poissons: λ ~ Gamma(θ, μ/θ)
        theta = dispersion[:, None]
        return rng.poisson(rng.gamma(theta, np.exp(np.minimum(eta, 700.0)) / theta)).astype(float)
    if family == "binomial":
        return rng.binomial(trials.astype(np.int64), inverse_link(family, eta)).astype(float)
    return rng.poisson(np.exp(np.minimum(eta, 700.0))).astype(float)


def new_level_effects(layout: ParameterLayout, unconstrained: np.ndarray, labels_per_term: list[np.ndarray],
                      rng: np.random.Generator) -> list[np.ndarray]:
    """Per term, γ for each distinct unseen level label drawn from N(0, C C') for every draw: (S, new levels, k)."""
    factors = covariance_factors(layout, unconstrained)
    out = []
    for C, labels in zip(factors, labels_per_term):
        z = rng.standard_normal((C.shape[0], len(labels), C.shape[1]))
        out.append(np.einsum("sak,slk->sla", C, z))
    return out

"""Response families and links for the GLMM engine: means, working weights, deviance and log-likelihood.

The response is held as lme4 holds it: y is the proportion of successes with prior weights = trials
for the binomial, the count with weight 1 for the Poisson.  Every function works elementwise on (n,)
arrays and stays finite where μ reaches 0 or 1 in floating point (separation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from ...errors import BayesmixedError

# R's glm links clamp μ this far from 0 and 1 so that weights and variances stay positive.
MU_EPS = np.finfo(float).eps
# exp() beyond this overflows; the log link's linear predictor is clamped here.
MAX_LOG_MU = 700.0

LINKS = {"binomial": ("logit", "probit", "cloglog"), "poisson": ("log",)}


def _softplus(eta: np.ndarray) -> np.ndarray:
    """log(1 + exp(η)) without overflow (faster than np.logaddexp)."""
    return np.maximum(eta, 0.0) + np.log1p(np.exp(-np.abs(eta)))


@dataclass(frozen=True)
class Link:
    """A link g with inverse μ = g⁻¹(η), its derivative dμ/dη, and log μ, log(1 - μ) computed stably."""

    name: str

    def evaluate(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(μ, dμ/dη) at η; μ kept in [ε, 1 - ε] for the binomial links and dμ/dη floored at ε, as R's links do."""
        if self.name == "log":
            mu = np.maximum(np.exp(np.minimum(eta, MAX_LOG_MU)), MU_EPS)
            return mu, mu
        if self.name == "logit":
            with np.errstate(over="ignore"):
                mu = 1.0 / (1.0 + np.exp(-eta))  # exp overflow gives μ = 0, clipped to ε below
            mu_eta = mu * (1.0 - mu)
        elif self.name == "probit":
            mu = special.ndtr(eta)
            mu_eta = np.exp(-0.5 * eta**2) / np.sqrt(2.0 * np.pi)
        else:  # cloglog: μ = 1 - exp(-exp(η))
            exp_eta = np.exp(np.minimum(eta, MAX_LOG_MU))
            mu = -np.expm1(-exp_eta)
            mu_eta = exp_eta * np.exp(-exp_eta)
        return np.clip(mu, MU_EPS, 1.0 - MU_EPS), np.maximum(mu_eta, MU_EPS)

    def inverse(self, eta: np.ndarray) -> np.ndarray:
        """μ = g⁻¹(η)."""
        return self.evaluate(eta)[0]

    def second_derivative(self, eta: np.ndarray, mu: np.ndarray, mu_eta: np.ndarray) -> np.ndarray:
        """d²μ/dη² given μ and dμ/dη at η."""
        if self.name == "log":
            return mu
        if self.name == "logit":
            return mu_eta * (1.0 - 2.0 * mu)
        if self.name == "probit":
            return -eta * mu_eta
        return mu_eta * (1.0 - np.exp(np.minimum(eta, MAX_LOG_MU)))

    def log_mu_pair(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(log μ, log(1 - μ)) without cancellation (binomial links only)."""
        if self.name == "logit":
            softplus = _softplus(eta)
            return eta - softplus, -softplus
        if self.name == "probit":
            return special.log_ndtr(eta), special.log_ndtr(-eta)
        exp_eta = np.exp(np.minimum(eta, MAX_LOG_MU))
        return np.log(-np.expm1(-exp_eta)), -exp_eta


@dataclass(frozen=True)
class Family:
    """A GLM family: response distribution and link.

    `y` below is the response in lme4's form (binomial: proportion; Poisson: count) and `weights` the
    prior weights (binomial: trials; Poisson: 1).
    """

    name: str
    link: Link

    def variance(self, mu: np.ndarray) -> np.ndarray:
        """V(μ): μ(1 - μ) for the binomial, μ for the Poisson."""
        return mu * (1.0 - mu) if self.name == "binomial" else mu

    def variance_derivative(self, mu: np.ndarray) -> np.ndarray:
        """dV/dμ."""
        return 1.0 - 2.0 * mu if self.name == "binomial" else np.ones_like(mu)

    def weight_derivative(self, eta: np.ndarray, mu: np.ndarray, mu_eta: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """d/dη of the working weight w = wt μ'²/V(μ): wt (2μ'μ''/V - μ'³V'/V²)."""
        variance = self.variance(mu)
        return weights * mu_eta * (
            2.0 * self.link.second_derivative(eta, mu, mu_eta) / variance
            - mu_eta**2 * self.variance_derivative(mu) / variance**2
        )

    def log_density(self, y: np.ndarray, eta: np.ndarray, weights: np.ndarray, log_norm: np.ndarray) -> np.ndarray:
        """log p(y_i | η_i) with its normalising constant `log_norm` (log binomial coefficient or -log y!)."""
        if self.name == "poisson":
            eta = np.minimum(eta, MAX_LOG_MU)
            return y * eta - np.exp(eta) + log_norm
        if self.link.name == "logit":
            # successes · log μ + failures · log(1 - μ) = trials · (y η - log(1 + e^η))
            return weights * (y * eta - _softplus(eta)) + log_norm
        log_mu, log_1m_mu = self.link.log_mu_pair(eta)
        successes = weights * y
        # 0 · log 0 = 0: a row with no successes (failures) does not see log μ (log(1 - μ)).
        return (
            np.where(successes > 0, successes * log_mu, 0.0)
            + np.where(weights - successes > 0, (weights - successes) * log_1m_mu, 0.0)
            + log_norm
        )

    def normalising_constant(self, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """log C(trials, successes) for the binomial, -log y! for the Poisson (per row)."""
        if self.name == "poisson":
            return -special.gammaln(y + 1.0)
        successes = weights * y
        return special.gammaln(weights + 1.0) - special.gammaln(successes + 1.0) - special.gammaln(weights - successes + 1.0)

    def saturated_log_density(self, y: np.ndarray, weights: np.ndarray, log_norm: np.ndarray) -> np.ndarray:
        """log p(y_i | μ_i = y_i): the deviance residual is 2 (this - log p(y_i | μ_i))."""
        if self.name == "poisson":
            return special.xlogy(y, y) - y + log_norm
        return weights * (special.xlogy(y, y) + special.xlogy(1.0 - y, 1.0 - y)) + log_norm

    def unit_deviance(self, y: np.ndarray, mu: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Deviance residuals squared: 2 wt [y log(y/μ) + (1-y) log((1-y)/(1-μ))] or 2 [y log(y/μ) - (y - μ)]."""
        if self.name == "poisson":
            return 2.0 * (special.xlogy(y, y) - special.xlogy(y, mu) - (y - mu))
        return 2.0 * weights * (
            special.xlogy(y, y) - special.xlogy(y, mu) + special.xlogy(1.0 - y, 1.0 - y) - special.xlogy(1.0 - y, 1.0 - mu)
        )

    def sample(self, mu: np.ndarray, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draws of the response in the design's form: successes out of `weights` trials, or counts."""
        if self.name == "poisson":
            return rng.poisson(mu).astype(float)
        return rng.binomial(np.round(weights).astype(np.int64), mu).astype(float)


def make_family(name: str, link: str | None = None) -> Family:
    """The family `name` with `link` (default: the canonical link, logit or log)."""
    if name not in LINKS:
        raise BayesmixedError(f"the GLMM engine fits binomial and Poisson models, not {name!r}")
    choice = LINKS[name][0] if link is None else str(link).lower()
    if choice not in LINKS[name]:
        raise BayesmixedError(f"link {link!r} is not available for the {name} family; choose one of {', '.join(LINKS[name])}")
    return Family(name, Link(choice))

"""The binomial family: successes out of trials, y the proportion with prior weights = trials (lme4's form)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

from .base import Family
from .links import softplus


# The variance of the standard logistic, normal and Gumbel errors of the latent-variable reading of each link.
LATENT_VARIANCE = {"logit": np.pi**2 / 3, "probit": 1.0, "cloglog": np.pi**2 / 6}


@dataclass(frozen=True)
class Binomial(Family):
    """V(μ) = μ(1 - μ); links logit (canonical), probit, cloglog."""

    name = "binomial"
    links = ("logit", "probit", "cloglog")
    canonical_link = "logit"
    bounded_mean = True
    has_trials = True
    has_distribution_variance = True

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return mu * (1.0 - mu)

    def variance_derivative(self, mu: np.ndarray) -> np.ndarray:
        return 1.0 - 2.0 * mu

    def distribution_variance(self, sigma: np.ndarray | float | None, null_mean: Callable[[], float]) -> float:
        """σ²_d = the latent residual variance of the link: π²/3 (logit), 1 (probit), π²/6 (cloglog)."""
        return LATENT_VARIANCE[self.link.name]

    def distribution_note(self) -> str:
        value = {"logit": "π²/3", "probit": "1", "cloglog": "π²/6"}[self.link.name]
        return f"σ²_d = {value}, the {self.link.name} link's latent variance"

    def log_density(self, y: np.ndarray, eta: np.ndarray, weights: np.ndarray, log_norm: np.ndarray) -> np.ndarray:
        """successes · log μ + failures · log(1 - μ) + log C(trials, successes)."""
        if self.link.name == "logit":
            # = trials · (y η - log(1 + e^η))
            return weights * (y * eta - softplus(eta)) + log_norm
        log_mu, log_1m_mu = self.link.log_mu_pair(eta)
        successes = weights * y
        # 0 · log 0 = 0: a row with no successes (failures) does not see log μ (log(1 - μ)).
        return (
            np.where(successes > 0, successes * log_mu, 0.0)
            + np.where(weights - successes > 0, (weights - successes) * log_1m_mu, 0.0)
            + log_norm
        )

    def normalising_constant(self, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """log C(trials, successes)."""
        successes = weights * y
        return special.gammaln(weights + 1.0) - special.gammaln(successes + 1.0) - special.gammaln(weights - successes + 1.0)

    def saturated_log_density(self, y: np.ndarray, weights: np.ndarray, log_norm: np.ndarray) -> np.ndarray:
        return weights * (special.xlogy(y, y) + special.xlogy(1.0 - y, 1.0 - y)) + log_norm

    def unit_deviance(self, y: np.ndarray, mu: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """2 wt [y log(y/μ) + (1-y) log((1-y)/(1-μ))]."""
        return 2.0 * weights * (
            special.xlogy(y, y) - special.xlogy(y, mu) + special.xlogy(1.0 - y, 1.0 - y) - special.xlogy(1.0 - y, 1.0 - mu)
        )

    def response_form(self, counts: np.ndarray, trials: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(proportion of successes, trials); a row with 0 trials has proportion 0."""
        trials = np.asarray(trials, dtype=float)
        return np.divide(counts, trials, out=np.zeros_like(counts), where=trials > 0), trials

    def start_eta(self, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """g((wt y + 1/2) / (wt + 1)): R's mustart for the binomial."""
        return self.link.link((weights * y + 0.5) / (weights + 1.0))

    def sample(self, mu: np.ndarray, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return rng.binomial(np.round(weights).astype(np.int64), mu).astype(float)

    def on_boundary(self, mu: np.ndarray, tol: float) -> np.ndarray:
        return (mu < tol) | (mu > 1.0 - tol)

    def extreme_outcome(self, y: np.ndarray) -> np.ndarray:
        return (y <= 0.0) | (y >= 1.0)

"""The Poisson family: counts, V(μ) = μ, log link."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from .base import Family
from .links import MAX_LOG_MU


@dataclass(frozen=True)
class Poisson(Family):
    """log p(y | μ) = y log μ - μ - log y!."""

    name = "poisson"
    links = ("log",)
    canonical_link = "log"
    fixed_variance_counts = True
    lognormal_variance = True

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return mu

    def variance_derivative(self, mu: np.ndarray) -> np.ndarray:
        return np.ones_like(mu)

    def log_density(self, y: np.ndarray, eta: np.ndarray, weights: np.ndarray, log_norm: np.ndarray) -> np.ndarray:
        eta = np.minimum(eta, MAX_LOG_MU)
        return y * eta - np.exp(eta) + log_norm

    def normalising_constant(self, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """-log y!."""
        return -special.gammaln(y + 1.0)

    def saturated_log_density(self, y: np.ndarray, weights: np.ndarray, log_norm: np.ndarray) -> np.ndarray:
        return special.xlogy(y, y) - y + log_norm

    def unit_deviance(self, y: np.ndarray, mu: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """2 [y log(y/μ) - (y - μ)]."""
        return 2.0 * (special.xlogy(y, y) - special.xlogy(y, mu) - (y - mu))

    def start_eta(self, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return np.log(y + 0.1)

    def sample(self, mu: np.ndarray, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return rng.poisson(mu).astype(float)

    def on_boundary(self, mu: np.ndarray, tol: float) -> np.ndarray:
        return mu < tol

    def extreme_outcome(self, y: np.ndarray) -> np.ndarray:
        return y <= 0.0

"""The Gaussian family (identity link): y ~ N(μ, σ²/wt). Its σ is profiled by the LMM engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .base import Family


@dataclass(frozen=True)
class Gaussian(Family):
    """V(μ) = 1; the unit deviance is (y - μ)² (σ² = 1 in the methods below: the LMM engine scales)."""

    name = "gaussian"
    links = ("identity",)
    canonical_link = "identity"
    profiled_scale = True
    has_residual_sd = True
    has_distribution_variance = True

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return np.ones_like(mu)

    def distribution_variance(self, sigma: np.ndarray | float | None, null_mean: Callable[[], float]) -> np.ndarray | float:
        """σ²_d = σ², the residual variance."""
        return np.asarray(sigma, dtype=float) ** 2

    def distribution_note(self) -> str:
        return "σ²_d = σ² (the residual variance)"

    def variance_derivative(self, mu: np.ndarray) -> np.ndarray:
        return np.zeros_like(mu)

    def log_density(self, y: np.ndarray, eta: np.ndarray, weights: np.ndarray, log_norm: np.ndarray) -> np.ndarray:
        return -0.5 * weights * (y - eta) ** 2 + log_norm

    def normalising_constant(self, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return 0.5 * (np.log(weights) - np.log(2.0 * np.pi))

    def saturated_log_density(self, y: np.ndarray, weights: np.ndarray, log_norm: np.ndarray) -> np.ndarray:
        return log_norm

    def unit_deviance(self, y: np.ndarray, mu: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return weights * (y - mu) ** 2

    def start_eta(self, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return np.asarray(y, dtype=float)

    def sample(self, mu: np.ndarray, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return mu + rng.standard_normal(mu.shape) / np.sqrt(weights)

"""Link functions g: μ = g⁻¹(η), dμ/dη and d²μ/dη², kept finite where μ reaches the edge of its range."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

# R's glm links clamp μ this far from 0 and 1 so that weights and variances stay positive.
MU_EPS = np.finfo(float).eps
# exp() beyond this overflows; the log link's linear predictor is clamped here.
MAX_LOG_MU = 700.0


def softplus(eta: np.ndarray) -> np.ndarray:
    """log(1 + exp(η)) without overflow (faster than np.logaddexp)."""
    return np.maximum(eta, 0.0) + np.log1p(np.exp(-np.abs(eta)))


@dataclass(frozen=True)
class Link:
    """A link g with inverse μ = g⁻¹(η), its derivative dμ/dη, and log μ, log(1 - μ) computed stably."""

    name: str

    def evaluate(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(μ, dμ/dη) at η; μ kept in [ε, 1 - ε] for the binomial links and dμ/dη floored at ε, as R's links do."""
        if self.name == "identity":
            return eta, np.ones_like(eta)
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

    def link(self, mu: np.ndarray) -> np.ndarray:
        """η = g(μ)."""
        if self.name == "identity":
            return np.asarray(mu, dtype=float)
        if self.name == "log":
            return np.log(mu)
        if self.name == "logit":
            return special.logit(mu)
        if self.name == "probit":
            return special.ndtri(mu)
        return np.log(-np.log1p(-mu))

    def second_derivative(self, eta: np.ndarray, mu: np.ndarray, mu_eta: np.ndarray) -> np.ndarray:
        """d²μ/dη² given μ and dμ/dη at η."""
        if self.name == "identity":
            return np.zeros_like(eta)
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
            soft = softplus(eta)
            return eta - soft, -soft
        if self.name == "probit":
            return special.log_ndtr(eta), special.log_ndtr(-eta)
        exp_eta = np.exp(np.minimum(eta, MAX_LOG_MU))
        return np.log(-np.expm1(-exp_eta)), -exp_eta

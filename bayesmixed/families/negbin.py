"""The negative binomial family NB2: counts with Var(y | μ) = μ + μ²/θ, log link (glmmTMB's nbinom2, glmer.nb).

log p(y | μ, θ) = log Γ(y + θ) - log Γ(θ) - log y! + θ log θ + y log μ - (y + θ) log(θ + μ).

The PIRLS weights are by default the observed information -d² log p/dη² = (y + θ) s(1 - s), s = μ/(θ + μ),
not the Fisher weight θμ/(θ + μ): the log link is not canonical here, and the observed information is what
makes the Laplace approximation glmmTMB's (its Hessian is exact).  `laplace_weights="fisher"` gives lme4's
glmer.nb instead (PIRLS by Fisher scoring, its Laplace determinant from the Fisher weights).  Both weights are
positive and agree in mean; the two optima differ by ~0.1 in log-likelihood on typical data.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import special

from ..errors import BayesmixedError
from .base import Family
from .links import MAX_LOG_MU, softplus

# Where the dispersion θ starts when the data give no moment estimate (no overdispersion seen).
DEFAULT_START = 10.0
START_RANGE = (0.05, 1e3)
LAPLACE_WEIGHTS = ("observed", "fisher")
# A size θ beyond this adds under 1e-4 · μ² to the variance: the fit is the Poisson's in all but name.
POISSON_LIKE_SIZE = 1e4


@dataclass(frozen=True)
class NegativeBinomial(Family):
    """NB2 with size θ = `dispersion` (θ → ∞ is the Poisson); `laplace_weights` "observed" (glmmTMB) or "fisher" (glmer.nb)."""

    laplace_weights: str = "observed"

    name = "negbin"
    links = ("log",)
    canonical_link = ""  # the canonical link log(μ/(μ + θ)) depends on θ; the log link is used
    has_dispersion = True
    lognormal_variance = True  # σ²_d = log(1 + 1/λ + 1/θ), insight's nbinom2
    supports_bayes = True
    dispersion_name = "theta (size)"

    @property
    def observed_information(self) -> bool:
        return self.laplace_weights == "observed"

    def with_laplace_weights(self, weights: str) -> NegativeBinomial:
        if weights not in LAPLACE_WEIGHTS:
            raise BayesmixedError(f"laplace_weights must be one of {', '.join(LAPLACE_WEIGHTS)}; got {weights!r}")
        return dataclasses.replace(self, laplace_weights=weights)

    @property
    def theta(self) -> float:
        if self.dispersion is None:
            raise ValueError("the negative binomial's θ has not been set")
        return self.dispersion

    def _share(self, eta: np.ndarray) -> np.ndarray:
        """s = μ/(θ + μ) = expit(η - log θ)."""
        return special.expit(np.minimum(eta, MAX_LOG_MU) - np.log(self.theta))

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return mu + mu**2 / self.theta

    def variance_derivative(self, mu: np.ndarray) -> np.ndarray:
        return 1.0 + 2.0 * mu / self.theta

    def working(self, y: np.ndarray, eta: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Observed information w = wt (y + θ) s(1 - s) (or Fisher's) and score wt (y - (y + θ) s)."""
        if not self.observed_information:
            return super().working(y, eta, weights)
        share = self._share(eta)
        total = y + self.theta
        return weights * total * share * (1.0 - share), weights * (y - total * share)

    def weight_derivative(self, y: np.ndarray, eta: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """dw/dη = wt (y + θ) s(1 - s)(1 - 2s) (or the Fisher weight's)."""
        if not self.observed_information:
            return super().weight_derivative(y, eta, weights)
        share = self._share(eta)
        return weights * (y + self.theta) * share * (1.0 - share) * (1.0 - 2.0 * share)

    def log_density(self, y: np.ndarray, eta: np.ndarray, weights: np.ndarray, log_norm: np.ndarray) -> np.ndarray:
        """wt [y η - (y + θ) log(1 + μ/θ)] + log_norm (the rest of log p folded into log_norm)."""
        eta = np.minimum(eta, MAX_LOG_MU)
        return weights * (y * eta - (y + self.theta) * softplus(eta - np.log(self.theta))) + log_norm

    def normalising_constant(self, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """wt [log Γ(y + θ) - log Γ(θ) - log y! - y log θ]."""
        theta = self.theta
        return weights * (special.gammaln(y + theta) - special.gammaln(theta) - special.gammaln(y + 1.0) - y * np.log(theta))

    def saturated_log_density(self, y: np.ndarray, weights: np.ndarray, log_norm: np.ndarray) -> np.ndarray:
        return weights * (special.xlogy(y, y) - (y + self.theta) * np.log1p(y / self.theta)) + log_norm

    def unit_deviance(self, y: np.ndarray, mu: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """2 wt [y log(y/μ) - (y + θ) log((y + θ)/(μ + θ))]."""
        theta = self.theta
        return 2.0 * weights * (special.xlogy(y, y) - special.xlogy(y, mu) - (y + theta) * np.log((y + theta) / (mu + theta)))

    def start_eta(self, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return np.log(y + 0.1)

    def initial_dispersion(self, y: np.ndarray, mu: np.ndarray) -> float:
        """Moment estimate Σμ² / Σ((y - μ)² - μ) from a Poisson GLM's means, clipped to a sane range."""
        excess = float(np.sum((y - mu) ** 2 - mu))
        if excess <= 0:
            return DEFAULT_START
        return float(np.clip(np.sum(mu**2) / excess, *START_RANGE))

    def estimate_note(self) -> str | None:
        """θ running off to ∞ means no overdispersion: say so and point to the Poisson model."""
        if self.dispersion is None or self.dispersion <= POISSON_LIKE_SIZE:
            return None
        return (
            f"the negative binomial's size θ is estimated at {self.dispersion:.3g}, i.e. the counts vary no more than "
            "a Poisson model allows (θ → ∞ is the Poisson), so θ is not pinned down. What to do: fit the model with "
            "family='poisson', which gives the same estimates with one parameter fewer."
        )

    def describe(self) -> str:
        text = super().describe()
        return text if self.observed_information else text + "  [Laplace with Fisher weights, as glmer.nb]"

    def sample(self, mu: np.ndarray, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        theta = self.theta
        return rng.negative_binomial(theta, theta / (theta + mu)).astype(float)

    def on_boundary(self, mu: np.ndarray, tol: float) -> np.ndarray:
        return mu < tol

    def extreme_outcome(self, y: np.ndarray) -> np.ndarray:
        return y <= 0.0

"""The family interface: what an engine asks of a response distribution and its link.

The response is held as lme4 holds it: `y` is the proportion of successes with prior weights = trials
for the binomial, the count (or value) with prior weight 1 otherwise.  Every method works elementwise
on (n,) arrays.  Working weights default to Fisher scoring, w = wt μ'²/V(μ); a family whose Laplace
approximation uses the observed information (the negative binomial, as glmmTMB's) overrides `working`
and `weight_derivative`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import BayesmixedError
from .links import Link


@dataclass(frozen=True)
class Family:
    """A response distribution with its link (and, for some families, a dispersion parameter)."""

    link: Link
    dispersion: float | None = None

    name: ClassVar[str] = ""
    links: ClassVar[tuple[str, ...]] = ()
    # The canonical link makes Fisher scoring Newton's method (lme4's PIRLS is exact there).
    canonical_link: ClassVar[str] = ""
    # Whether the family carries a free dispersion parameter the engine estimates (NB's θ).
    has_dispersion: ClassVar[bool] = False
    supports_bayes: ClassVar[bool] = True
    # The mean is a probability (fitted values of exactly 0 or 1 signal separation).
    bounded_mean: ClassVar[bool] = False
    # Counts whose variance the family fixes at the mean: a Pearson overdispersion check applies.
    fixed_variance_counts: ClassVar[bool] = False
    # Name of the dispersion parameter in summaries.
    dispersion_name: ClassVar[str] = ""

    # The Gaussian: its scale σ is profiled out by the LMM engine, not handled as a GLMM family.
    profiled_scale: ClassVar[bool] = False
    # The response has a residual sd σ of its own (the Gaussian): σ in tables, F tests, link-scale prediction intervals.
    has_residual_sd: ClassVar[bool] = False
    # The response is successes out of trials, and its prior weights are the trials (the binomial).
    has_trials: ClassVar[bool] = False
    # Counts whose σ²_d (R², ICC) is the lognormal approximation log(1 + V(λ)/λ²) under the log link.
    lognormal_variance: ClassVar[bool] = False
    @property
    def is_canonical(self) -> bool:
        return self.link.name == self.canonical_link

    @property
    def observed_information(self) -> bool:
        """Whether `working` returns the observed information (then PIRLS is Newton's method whatever the link)."""
        return False

    def with_laplace_weights(self, weights: str) -> Family:
        """The family whose Laplace approximation uses `weights` ("observed" or "fisher" information)."""
        raise BayesmixedError(
            f"laplace_weights applies to the negative binomial; the {self.name} family's PIRLS weights are fixed "
            "(Fisher scoring, as lme4's)"
        )

    @property
    def newton_weights(self) -> bool:
        """The PIRLS weights are -d² log p/dη² (canonical link, or observed information)."""
        return self.is_canonical or self.observed_information

    def with_dispersion(self, value: float) -> Family:
        """The same family with its dispersion parameter set to `value`."""
        if not self.has_dispersion:
            raise BayesmixedError(f"the {self.name} family has no dispersion parameter")
        return dataclasses.replace(self, dispersion=float(value))

    # --- variance shares (R², ICC) --------------------------------------------------------------------
    def distribution_variance(self, sigma: np.ndarray | float | None,
                              null_mean: Callable[[], float]) -> np.ndarray | float:
        """σ²_d, the distribution-specific variance on the link scale of Nakagawa et al. (2017) (insight's
        get_variance): for count families with the log link log(1 + V(λ)/λ²), the lognormal approximation, with
        λ = null_mean() the mean of the intercept-only ML refit with the same random effects; `sigma` is the
        residual sd where the family has one."""
        if self.lognormal_variance and self.link.name == "log":
            lam = float(null_mean())
            return float(np.log1p(self.variance(np.asarray(lam)) / lam**2))
        raise BayesmixedError(f"no distribution-specific variance (R², ICC) is defined for the {self.name} family with "
                              f"the {self.link.name} link")

    @property
    def has_distribution_variance(self) -> bool:
        """Whether distribution_variance is defined (so R² and the ICC are)."""
        return self.lognormal_variance and self.link.name == "log"

    def distribution_note(self) -> str:
        """How distribution_variance was obtained, in words, for R² and ICC notes."""
        return ("σ²_d = log(1 + V(λ)/λ²), the lognormal approximation, λ = g⁻¹(β₀) of the intercept-only model with "
                "the same random effects (ML)")

    # --- moments -------------------------------------------------------------------------------------
    def variance(self, mu: np.ndarray) -> np.ndarray:
        """V(μ): Var(y | μ) = V(μ) / prior weight."""
        raise NotImplementedError

    def variance_derivative(self, mu: np.ndarray) -> np.ndarray:
        """dV/dμ."""
        raise NotImplementedError

    # --- working weights (PIRLS) -----------------------------------------------------------------------
    def working(self, y: np.ndarray, eta: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights w = wt μ'²/V(μ) (Fisher) and the score of log p in η, w (y - μ)/μ'."""
        mu, mu_eta = self.link.evaluate(eta)
        w = weights * mu_eta**2 / self.variance(mu)
        return w, w * (y - mu) / mu_eta

    def weight_derivative(self, y: np.ndarray, eta: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """dw/dη of the Fisher weight w = wt μ'²/V(μ): wt (2μ'μ''/V - μ'³V'/V²)."""
        mu, mu_eta = self.link.evaluate(eta)
        variance = self.variance(mu)
        return weights * mu_eta * (
            2.0 * self.link.second_derivative(eta, mu, mu_eta) / variance
            - mu_eta**2 * self.variance_derivative(mu) / variance**2
        )

    # --- likelihood -----------------------------------------------------------------------------------
    def log_density(self, y: np.ndarray, eta: np.ndarray, weights: np.ndarray, log_norm: np.ndarray) -> np.ndarray:
        """log p(y_i | η_i), with the normalising constant `log_norm` from `normalising_constant`."""
        raise NotImplementedError

    def normalising_constant(self, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The part of log p(y_i | μ_i) that does not depend on μ_i."""
        raise NotImplementedError

    def saturated_log_density(self, y: np.ndarray, weights: np.ndarray, log_norm: np.ndarray) -> np.ndarray:
        """log p(y_i | μ_i = y_i): the deviance residual is 2 (this - log p(y_i | μ_i))."""
        raise NotImplementedError

    def unit_deviance(self, y: np.ndarray, mu: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Deviance residuals squared, 2 (log p(y | μ = y) - log p(y | μ))."""
        raise NotImplementedError

    # --- data --------------------------------------------------------------------------------------------
    def response_form(self, counts: np.ndarray, trials: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(y, prior weights) in lme4's form from the design's response (successes and trials, or values)."""
        return counts, np.ones_like(counts)

    def start_eta(self, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """A linear predictor to start IRLS from (R's mustart, through the link)."""
        raise NotImplementedError

    def sample(self, mu: np.ndarray, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draws of the response in the design's form (successes out of the trials, counts, values)."""
        raise NotImplementedError

    def on_boundary(self, mu: np.ndarray, tol: float) -> np.ndarray:
        """Rows whose fitted mean is within `tol` of the edge of its range."""
        return np.zeros(mu.shape, dtype=bool)

    def extreme_outcome(self, y: np.ndarray) -> np.ndarray:
        """Rows whose outcome sits at the edge of its range (all failures or successes, a zero count)."""
        return np.zeros(y.shape, dtype=bool)

    def estimate_note(self) -> str | None:
        """What a fitted dispersion parameter says that a user should hear (None: nothing)."""
        return None

    def describe(self) -> str:
        """'binomial ( logit )', with the dispersion where the family has one."""
        text = f"{self.name}  ( {self.link.name} )"
        if self.has_dispersion and self.dispersion is not None:
            text += f"  {self.dispersion_name} = {self.dispersion:.4g}"
        return text

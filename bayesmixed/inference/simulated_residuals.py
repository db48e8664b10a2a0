"""Simulation-based scaled residuals (DHARMa's method) with its uniformity, dispersion and outlier tests.

For each observation, n responses are simulated from the fit; the scaled residual is the observation's
rank among them, u_i = F̂_i(y_i).  When the model is right the u_i are U(0, 1) whatever the family, which a
normal QQ plot of Pearson residuals cannot tell for a GLMM.  For discrete responses ties are broken at random
(the probability integral transform u_i ~ U(F̂_i(y_i−), F̂_i(y_i)), DHARMa's default since 0.3).

Simulations are conditional on the fitted random effects by default, y* ~ p(y | β̂, b̂) (lme4's simulate with
re.form = NULL, which DHARMa passes through); `conditional=False` draws new random effects as well (the
unconditional simulation of `fit.simulate`).  For a Bayesian fit each simulation is
the posterior predictive draw of one posterior draw (β, γ, σ): conditional on the sampled random effects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from ..errors import BayesmixedError
from .fits import is_bayesian


@dataclass(frozen=True)
class TestResult:
    """One test: its statistic, p-value and a sentence saying what it measured."""

    name: str
    statistic: float
    p_value: float
    description: str

    def __str__(self) -> str:
        return f"{self.name}: {self.description}, p = {self.p_value:.3g}"


@dataclass(frozen=True)
class ScaledResiduals:
    """Scaled residuals u (n_obs,) of `observed` among `simulated` (n_sim, n_obs), with the fit's predictions."""

    residuals: np.ndarray
    observed: np.ndarray
    simulated: np.ndarray
    predicted: np.ndarray
    conditional: bool
    integer_response: bool
    label: str

    @property
    def n_simulations(self) -> int:
        return self.simulated.shape[0]

    def uniformity(self) -> TestResult:
        """Kolmogorov-Smirnov test of u against U(0, 1)."""
        result = stats.kstest(self.residuals, "uniform")
        return TestResult("uniformity (KS)", float(result.statistic), float(result.pvalue),
                          f"D = {result.statistic:.3f} against U(0, 1)")

    def dispersion_ratios(self) -> tuple[float, np.ndarray]:
        """(observed, simulated) variance of y − ŷ, each divided by the mean simulated one (DHARMa's statistic)."""
        spread_observed = np.var(self.observed - self.predicted, ddof=1)
        spread_simulated = np.var(self.simulated - self.predicted[None, :], axis=1, ddof=1)
        scale = spread_simulated.mean()
        return float(spread_observed / scale), spread_simulated / scale

    def dispersion(self) -> TestResult:
        """Two-sided test of var(y − ŷ) against its simulated distribution: ratio > 1 is overdispersion."""
        ratio, simulated = self.dispersion_ratios()
        p = min(1.0, 2.0 * min(np.mean(simulated >= ratio), np.mean(simulated <= ratio)))
        return TestResult("dispersion", ratio, float(p),
                          f"var(y − ŷ) / mean simulated var = {ratio:.3f} (> 1: overdispersed, < 1: underdispersed)")

    def outliers(self) -> TestResult:
        """Binomial test of the count of residuals outside every simulation (u = 0 or 1) against 2 / (n_sim + 1)."""
        count = int(np.sum((self.residuals <= 0.0) | (self.residuals >= 1.0)))
        expected = 2.0 / (self.n_simulations + 1)
        p = float(stats.binomtest(count, self.residuals.size, expected).pvalue)
        return TestResult("outliers", count, p, f"{count} of {self.residuals.size} observations outside all "
                          f"{self.n_simulations} simulations (expected {expected * self.residuals.size:.1f})")

    def tests(self) -> list[TestResult]:
        return [self.uniformity(), self.dispersion(), self.outliers()]

    def notes(self) -> list[str]:
        scope = ("conditional on the fitted random effects" if self.conditional
                 else "with new random effects drawn for every simulation")
        how = ("posterior predictive draws, one per posterior draw" if "bayes" in self.label.lower()
               else "simulated from the fitted model")
        tie = "; ties of the discrete response broken at random (PIT)" if self.integer_response else ""
        return [f"{self.label}: {self.n_simulations} responses {how}, {scope}{tie}"]


def scaled_residuals(observed: np.ndarray, simulated: np.ndarray, integer_response: bool,
                     rng: np.random.Generator) -> np.ndarray:
    """u_i = #(sim < y_i)/n + U·#(sim = y_i)/n for discrete responses, #(sim ≤ y_i)/n for continuous ones."""
    below = np.mean(simulated < observed[None, :], axis=0)
    at_or_below = np.mean(simulated <= observed[None, :], axis=0)
    if not integer_response:
        return at_or_below
    return below + rng.uniform(size=observed.size) * (at_or_below - below)


def _frequentist_simulations(fit: Any, n: int, conditional: bool, rng: np.random.Generator) -> np.ndarray:
    design = fit.design
    if not conditional:
        return fit.simulate(n, seed=rng)
    mean = fit.fitted(re=True).to_numpy(dtype=float)
    if design.family == "gaussian":
        return mean[None, :] + fit.sigma * rng.standard_normal((n, design.n))
    # the family draws (binomial successes out of the trials, Poisson or negative-binomial counts), so a new
    # family's residuals are simulated from its own distribution, dispersion included
    return np.stack([fit.family.sample(mean, fit.problem.weights, rng) for _ in range(n)])


def simulate_residuals(fit: Any, n: int = 250, seed: int | None = 0, conditional: bool = True,
                       label: str | None = None) -> ScaledResiduals:
    """DHARMa's scaled residuals of an ML/REML or Bayesian fit from n simulated responses per observation.

    Binomial responses are compared as success counts out of the same trials; ŷ (for the dispersion test
    and the plots) is the fitted mean on the counts' scale, conditional on b̂ when the simulations are.
    """
    if int(n) != n or n < 10:
        raise BayesmixedError(f"simulated residuals need n >= 10 simulations; got {n!r}")
    design = fit.design
    rng = np.random.default_rng(seed)
    bayesian = is_bayesian(fit)
    if bayesian:
        if not conditional:
            raise BayesmixedError("a Bayesian fit's simulated residuals are its posterior predictive draws, conditional "
                                  "on each draw's random effects; conditional=False is for ML/REML fits")
        draws = fit.predictive_draws(seed=seed)
        simulated = draws[rng.choice(draws.shape[0], size=min(int(n), draws.shape[0]), replace=False)]
    else:
        simulated = _frequentist_simulations(fit, int(n), conditional, rng)
    observed = np.asarray(design.y, dtype=float)
    # ŷ matches the simulation: conditional on b̂, or population-level when b is simulated afresh
    predicted = fit.fitted(re=conditional).to_numpy(dtype=float)
    if design.family == "binomial":
        predicted = predicted * design.trials
    integer_response = design.family != "gaussian"
    residuals = scaled_residuals(observed, simulated, integer_response, rng)
    name = label or ("Bayes" if bayesian else str(getattr(fit, "method", "ML")).upper())
    return ScaledResiduals(residuals, observed, simulated, predicted, conditional, integer_response, name)

"""Marginal and conditional R² of mixed models (Nakagawa & Schielzeth 2013; Nakagawa, Johnson & Schielzeth 2017).

R²_m = σ²_f / (σ²_f + σ²_l + σ²_d) and R²_c = (σ²_f + σ²_l) / (σ²_f + σ²_l + σ²_d), where
  σ²_f = var(Xβ) over the rows (n − 1 denominator),
  σ²_l = Σ_terms mean_i z_i' Σ_t z_i, z_i the term's columns in row i (a random intercept's variance; with
         random slopes the 2017 paper's mean of the random part's variance over the rows' design),
  σ²_d the distribution-specific variance on the link scale (the family's distribution_variance, shared with
         the ICC): σ² (Gaussian), π²/3 (binomial logit), 1 (probit), π²/6 (cloglog), log(1 + 1/λ) (Poisson log)
         and log(1 + 1/λ + 1/θ) (negative binomial), the lognormal approximation, with λ = exp(β₀) of the
         intercept-only model with the same random effects, fitted by ML.
These are insight::get_variance's definitions (performance::r2_nakagawa).  Frequentist fits: from the
estimates; Bayesian fits: draw by draw, giving a posterior median and an equal-tailed interval.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..design.types import Design, RandomTerm
from ..errors import BayesmixedError
from ..families import get_family
from .table import Cell, Document, Rendered, Table
COMPONENTS = ("marginal", "conditional", "var_fixed", "var_random", "var_distribution")


def fixed_variance(X: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """σ²_f = var(Xβ) with the n − 1 denominator; beta (..., p) gives (...)."""
    if X.shape[1] == 0:
        return np.zeros(np.shape(beta)[:-1])
    return np.var(np.asarray(beta) @ X.T, axis=-1, ddof=1)


def random_variance(terms: Sequence[RandomTerm], covariances: Sequence[np.ndarray]) -> np.ndarray:
    """σ²_l = Σ_t mean_i z_i' Σ_t z_i = Σ_t tr(Σ_t Z_t'Z_t / n); covariances (..., k, k) per term."""
    total = 0.0
    for term, covariance in zip(terms, covariances):
        crossproduct = term.matrix.T @ term.matrix / term.matrix.shape[0]
        total = total + np.einsum("...ab,ab->...", np.asarray(covariance), crossproduct)
    return np.asarray(total)


def components(design: Design, beta: np.ndarray, covariances: Sequence[np.ndarray], distribution: Any) -> np.ndarray:
    """(..., 5): R²_m, R²_c, σ²_f, σ²_l, σ²_d for estimates (beta (p,)) or draws (beta (S, p))."""
    var_fixed = fixed_variance(design.X, beta)
    var_random = random_variance(design.terms, covariances)
    var_distribution = np.broadcast_to(np.asarray(distribution, dtype=float), np.shape(var_fixed))
    total = var_fixed + var_random + var_distribution
    return np.stack([var_fixed / total, (var_fixed + var_random) / total, var_fixed,
                     var_random + np.zeros_like(var_fixed), var_distribution], axis=-1)


@dataclasses.dataclass(frozen=True, repr=False)
class R2(Rendered):
    """Marginal and conditional R² with the variances they come from (see the module docstring).

    estimate: R²_m, R²_c, σ²_f, σ²_l, σ²_d (posterior medians for Bayesian fits); lower / upper: the
    equal-tailed interval at `level` (Bayesian fits; None otherwise); draws: (S, 5) per draw, or None.
    """

    estimate: np.ndarray
    source: str
    notes: tuple[str, ...]
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    level: float = 0.95
    draws: np.ndarray | None = None

    @property
    def marginal(self) -> float:
        return float(self.estimate[0])

    @property
    def conditional(self) -> float:
        return float(self.estimate[1])

    def document(self) -> Document:
        labels = ("R2_marginal", "R2_conditional", "var_fixed", "var_random", "var_distribution")
        with_interval = self.lower is not None
        header = ("", "estimate") + ((f"{50 * (1 - self.level):g}%", f"{100 - 50 * (1 - self.level):g}%")
                                     if with_interval else ())
        rows = []
        for i, label in enumerate(labels):
            numbers = [self.estimate[i]] + ([self.lower[i], self.upper[i]] if with_interval else [])
            rows.append((Cell(label), *(Cell(f"{v:.4g}", float(v)) for v in numbers)))
        return Document(title=(f"R² (Nakagawa & Schielzeth), {self.source}",),
                        blocks=(Table(header, tuple(rows), name="r2"),), notes=self.notes, name="r2")


def r2(fit: Any, level: float = 0.95) -> R2:
    """Nakagawa & Schielzeth's marginal and conditional R² of a fitted mixed model (module docstring)."""
    design = fit.design
    if getattr(fit, "is_prior", False):
        raise BayesmixedError("R² needs a fitted model; these are prior draws")
    if not design.terms:
        raise BayesmixedError("R² (Nakagawa & Schielzeth) is for mixed models; this one has no random effects")
    # a Bayesian fit uses its family's default link (the Bayes engine's LINKS); a likelihood fit carries its family
    family = get_family(design.family, dispersion=fit.dispersion) if fit.is_bayes else fit.family
    notes = ["R²_m = σ²_f / (σ²_f + σ²_l + σ²_d), R²_c = (σ²_f + σ²_l) / (σ²_f + σ²_l + σ²_d); "
             "σ²_f = var(Xβ); σ²_l = Σ mean_i z_i'Σz_i over the random terms (slopes included)"]
    if fit.is_bayes:
        covariances = fit.posterior.covariances()
        draws = components(design, fit.beta_draws, covariances,
                           family.distribution_variance(fit.sigma_draws, lambda: fit.null_model_mean))
        tail = (1 - level) / 2
        lower, median, upper = np.quantile(draws, [tail, 0.5, 1 - tail], axis=0)
        notes += [family.distribution_note(),
                  f"computed draw by draw: posterior median and equal-tailed {100 * level:g}% credible interval"]
        return R2(median, "posterior", tuple(notes), lower, upper, level, draws)
    estimate = components(design, np.asarray(fit.beta, dtype=float), fit.covariance_blocks,
                          family.distribution_variance(fit.residual_sd, lambda: fit.null_model_mean))
    method = "REML" if getattr(fit, "reml", False) else "ML"
    notes += [family.distribution_note(), f"from the {method} estimates"]
    return R2(estimate, f"{method} estimates", tuple(notes))

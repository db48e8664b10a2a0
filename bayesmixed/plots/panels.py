"""Predictive checks drawn from any Bayesian (or prior) fit's simulated responses: overall and by group."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import BayesmixedError
from ._figure import new_axes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_LEVELS = 40
MAX_COUNT_BINS = 60


def _response_scale(fit: Any, values: np.ndarray) -> np.ndarray:
    """Binomial counts as proportions of their trials, so replicated and observed data share one axis."""
    return values / fit.design.trials if fit.design.family == "binomial" else values


def _draws(fit: Any, n_draws: int, seed: int) -> np.ndarray:
    if not getattr(fit, "is_bayes", False):
        raise BayesmixedError("predictive checks need a Bayesian fit (method='bayes' or 'prior')")
    draws = fit.predictive_draws()
    rng = np.random.default_rng(seed)
    return _response_scale(fit, draws[rng.choice(draws.shape[0], size=min(n_draws, draws.shape[0]), replace=False)])


def predictive_density(fit: Any, n_draws: int = 60, seed: int = 0, title: str = "Posterior predictive check") -> "Figure":
    """Histograms of replicated data sets (thin) against the observed data (thick), on common bins."""
    observed = _response_scale(fit, np.asarray(fit.design.y, dtype=float))
    replicated = _draws(fit, n_draws, seed)
    low, high = np.quantile(np.concatenate([observed, replicated.ravel()]), [0.005, 0.995])
    if fit.design.family == "poisson" and high - low <= MAX_COUNT_BINS:  # one bin per count
        bins = np.arange(np.floor(low), np.ceil(high) + 2) - 0.5
    else:  # prior predictive counts can reach exp(large): a fixed number of bins
        bins = np.linspace(low, high, 31)
    figure, axes = new_axes()
    for row in replicated:
        axes.stairs(np.histogram(row, bins=bins, density=True)[0], bins, color="C0", alpha=0.15, lw=1)
    axes.stairs(np.histogram(observed, bins=bins, density=True)[0], bins, color="k", lw=2, label="observed")
    axes.plot([], [], color="C0", alpha=0.5, label=f"{replicated.shape[0]} replicated data sets")
    axes.set_xlabel(fit.design.response + (" (proportion)" if fit.design.family == "binomial" else ""))
    axes.set_ylabel("density")
    axes.legend(fontsize="small")
    axes.set_title(f"{title}\n{fit.design.formula}")
    return figure


def predictive_by_group(fit: Any, group: str | None = None, n_draws: int = 400, seed: int = 0) -> "Figure":
    """Each level's observed mean against the 50% and 90% intervals of its replicated means (bayesplot's
    ppc_stat_grouped, condensed): levels far outside their intervals are fitted badly."""
    terms = [t for t in fit.design.terms if group is None or t.group == group]
    if not terms:
        raise BayesmixedError(f"unknown grouping factor {group!r}; the model's are "
                              f"{', '.join(t.group for t in fit.design.terms)}")
    term = terms[0]
    observed = _response_scale(fit, np.asarray(fit.design.y, dtype=float))
    replicated = _draws(fit, n_draws, seed)
    counts = np.bincount(term.codes, minlength=term.n_levels)
    observed_means = np.bincount(term.codes, weights=observed, minlength=term.n_levels) / np.maximum(counts, 1)
    replicated_means = np.stack([np.bincount(term.codes, weights=row, minlength=term.n_levels) for row in replicated])
    replicated_means /= np.maximum(counts, 1)
    order = np.argsort(observed_means)
    if order.size > MAX_LEVELS:  # the extremes and an even spread between them
        order = order[np.unique(np.linspace(0, order.size - 1, MAX_LEVELS).round().astype(int))]
    q = np.quantile(replicated_means[:, order], [0.05, 0.25, 0.75, 0.95], axis=0)
    positions = np.arange(order.size)
    figure, axes = new_axes(width=6.5, height=max(3.5, 0.18 * order.size + 1.2))
    axes.hlines(positions, q[0], q[3], color="C0", alpha=0.4, lw=2, label="90% of replicated means")
    axes.hlines(positions, q[1], q[2], color="C0", lw=4, label="50%")
    axes.scatter(observed_means[order], positions, color="k", s=14, zorder=3, label="observed mean")
    axes.set_yticks(positions, [str(term.levels[i]) for i in order], fontsize="x-small")
    axes.set_xlabel(f"mean {fit.design.response}" + (" (proportion)" if fit.design.family == "binomial" else ""))
    axes.set_ylabel(term.group)
    axes.legend(fontsize="small", loc="best")
    axes.set_title(f"Posterior predictive group means by {term.group}\n{fit.design.formula}")
    return figure

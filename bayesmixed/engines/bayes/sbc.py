"""Simulation-based calibration (Talts et al. 2018) of the Bayesian engine on a fixed design.

For each simulation: θ* ~ prior, y* ~ p(y | θ*), posterior draws given y*, rank of θ* among L thinned draws.
A calibrated sampler gives ranks uniform on 0..L for every parameter.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .prior import PriorSet

if TYPE_CHECKING:
    from ...design.types import Design


@dataclasses.dataclass(frozen=True)
class SBCResult:
    ranks: pd.DataFrame  # (simulations, parameters), each in 0..n_ranks−1
    n_ranks: int  # L + 1

    def chi_square(self, bins: int = 10) -> pd.DataFrame:
        """Pearson χ² of the binned ranks against uniform, per parameter: statistic, df, p-value."""
        from scipy import stats

        rows = []
        for name, ranks in self.ranks.items():
            counts = np.bincount((ranks.to_numpy() * bins) // self.n_ranks, minlength=bins)
            expected = counts.sum() / bins
            statistic = float(((counts - expected) ** 2 / expected).sum())
            rows.append((name, statistic, bins - 1, float(stats.chi2.sf(statistic, bins - 1))))
        return pd.DataFrame(rows, columns=["parameter", "chi2", "df", "p_value"]).set_index("parameter")

    def histograms(self, bins: int = 10) -> pd.DataFrame:
        """Counts of the ranks in equal bins, one column per parameter."""
        return pd.DataFrame({name: np.bincount((r.to_numpy() * bins) // self.n_ranks, minlength=bins)
                             for name, r in self.ranks.items()})


def simulation_based_calibration(design: Design, priors: PriorSet, n_simulations: int = 100, *, thin_to: int = 99,
                                 draws: int = 400, tune: int = 400, chains: int = 2, seed: int = 0,
                                 marginalize: bool | None = None) -> SBCResult:
    """Ranks of prior-drawn parameters among posterior draws refitted to data simulated from them."""
    from .fit import fit_bayes

    prior_fit = fit_bayes(design, priors=priors, prior_only=True, draws=n_simulations, chains=1, seed=seed)
    simulated_y = prior_fit.predictive_draws(seed=seed)  # (n_simulations, n)
    names = list(prior_fit.parameters.index)
    ranks = np.zeros((n_simulations, len(names)), dtype=np.int64)
    for s in range(n_simulations):
        data = dataclasses.replace(design, y=simulated_y[s])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_bayes(data, priors=priors, draws=draws, tune=tune, chains=chains, seed=seed + 1 + s,
                            marginalize=marginalize, progressbar=False, warn=False)
        for j, name in enumerate(names):
            posterior = fit.draws[name].reshape(-1)
            keep = posterior[np.linspace(0, posterior.size - 1, thin_to).round().astype(int)]
            ranks[s, j] = int(np.sum(keep < prior_fit.draws[name].reshape(-1)[s]))
    return SBCResult(pd.DataFrame(ranks, columns=names), thin_to + 1)

"""Convergence diagnostics (Vehtari et al. 2021, as ArviZ computes them) without importing ArviZ.

rank-normalised split R-hat (max of bulk and folded), bulk and tail ESS, E-BFMI, divergences; and the
loud, actionable warning a fit raises when R-hat > 1.01, ESS < 400 or any transition diverged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...errors import warn_user
from .sample_stats import ACCEPTANCE_RATE, DIVERGING, ENERGY, TREE_DEPTH

RHAT_LIMIT, ESS_LIMIT, BFMI_LIMIT = 1.01, 400.0, 0.3
# independence Metropolis-Hastings (the blocked marginal route): below this mean acceptance the proposal is poor
ACCEPTANCE_LIMIT = 0.15


class SamplingWarning(UserWarning):
    """The sampler's output fails a convergence check."""


def split_chains(x: np.ndarray) -> np.ndarray:
    """(chains, draws) -> (2 chains, draws // 2): first and second halves as separate chains."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], axis=0)


def z_scale(x: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled ranks: Φ⁻¹((rank − 3/8) / (S + 1/4))."""
    from scipy.special import ndtri

    flat = x.ravel()
    ranks = np.empty(flat.size)
    ranks[np.argsort(flat, kind="stable")] = np.arange(1, flat.size + 1)
    return ndtri((ranks - 0.375) / (flat.size + 0.25)).reshape(x.shape)


def rhat_basic(x: np.ndarray) -> float:
    """√((B/W + S − 1)/S) over chains of x (chains, draws)."""
    draws = x.shape[1]
    between = draws * np.var(x.mean(axis=1), ddof=1)
    within = np.mean(np.var(x, axis=1, ddof=1))
    if within <= 0:
        return np.nan
    return float(np.sqrt((between / within + draws - 1) / draws))


def rhat(x: np.ndarray) -> float:
    """Rank-normalised split R-hat: max of the bulk and the folded (|x − median|) versions."""
    if x.shape[0] * x.shape[1] < 8 or np.ptp(x) == 0:
        return np.nan
    split = split_chains(x)
    bulk = rhat_basic(z_scale(split))
    tail = rhat_basic(z_scale(np.abs(split - np.median(split))))
    return float(max(bulk, tail))


def ess_basic(x: np.ndarray) -> float:
    """Effective sample size from Geyer's initial monotone sequence of the multi-chain autocorrelation."""
    chains, draws = x.shape
    if draws < 4 or np.ptp(x) == 0:
        return np.nan
    centred = x - x.mean(axis=1, keepdims=True)
    size = 1 << int(np.ceil(np.log2(2 * draws)))
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=1)[:, :draws] / draws  # (chains, lags)
    chain_var = acov[:, 0] * draws / (draws - 1.0)
    mean_var = chain_var.mean()
    var_plus = mean_var * (draws - 1.0) / draws + (np.var(x.mean(axis=1), ddof=1) if chains > 1 else 0.0)
    rho = 1.0 - (mean_var - acov.mean(axis=0)) / var_plus  # (lags,)
    rho[0] = 1.0
    # sums of adjacent pairs, kept while positive, then made monotone
    n_pairs = (draws - 1) // 2
    pairs = rho[: 2 * n_pairs].reshape(n_pairs, 2).sum(axis=1)
    negative = np.nonzero(pairs <= 0)[0]
    kept = pairs[: negative[0]] if negative.size else pairs
    kept = np.minimum.accumulate(kept)
    tau = -1.0 + 2.0 * kept.sum()
    total = chains * draws
    tau = max(tau, 1.0 / np.log10(total))
    return float(total / tau)


def ess_bulk(x: np.ndarray) -> float:
    return ess_basic(z_scale(split_chains(x)))


def ess_tail(x: np.ndarray) -> float:
    """min ESS of the indicators x ≤ q05 and x ≤ q95."""
    split = split_chains(x)
    values = []
    for q in (0.05, 0.95):
        indicator = (split <= np.quantile(split, q)).astype(float)
        values.append(ess_basic(indicator))
    return float(np.nanmin(values)) if not np.all(np.isnan(values)) else np.nan


def bfmi(energy: np.ndarray) -> np.ndarray:
    """E-BFMI per chain: mean(ΔE²) / var(E); below 0.3 the momentum resampling explores poorly."""
    return np.mean(np.diff(energy, axis=1) ** 2, axis=1) / np.var(energy, axis=1)


def parameter_table(samples: dict[str, np.ndarray]) -> pd.DataFrame:
    """median, sd, 2.5% and 97.5% quantiles, R-hat, bulk and tail ESS per named (chains, draws) array."""
    rows = []
    for name, x in samples.items():
        q = np.quantile(x, [0.5, 0.025, 0.975])
        rows.append((name, q[0], float(np.std(x, ddof=1)), q[1], q[2], rhat(x), ess_bulk(x), ess_tail(x)))
    return pd.DataFrame(rows, columns=["parameter", "median", "sd", "2.5%", "97.5%", "r_hat", "ess_bulk", "ess_tail"]).set_index("parameter")


@dataclass(frozen=True)
class Diagnosis:
    """What the convergence checks found; `problems` lists each failure with what to do."""

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    n_draws: int
    bfmi: np.ndarray
    max_depth_hits: int
    problems: tuple[str, ...]
    acceptance: float | None = None  # mean Metropolis-Hastings acceptance where no Hamiltonian was simulated

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        sampler = (f"mean acceptance {self.acceptance:.2f} (independence Metropolis-Hastings: no trajectories, "
                   "so no divergences, E-BFMI or tree depth)" if self.acceptance is not None else
                   f"divergences {self.divergences} of {self.n_draws}; E-BFMI {', '.join(f'{b:.2f}' for b in self.bfmi)}; "
                   f"max tree depth hit {self.max_depth_hits} times")
        lines = [
            f"Diagnostics: max R-hat {self.max_rhat:.4f} (want <= {RHAT_LIMIT}); min bulk ESS {self.min_ess_bulk:.0f}, "
            f"min tail ESS {self.min_ess_tail:.0f} (want >= {ESS_LIMIT:.0f}); {sampler}",
        ]
        lines.extend(f"  WARNING: {p}" for p in self.problems)
        if not self.problems:
            lines.append("  all checks passed")
        return "\n".join(lines)

    __repr__ = __str__


def diagnose(table: pd.DataFrame, stats: np.ndarray, max_depth: int, target_accept: float | None = None) -> Diagnosis:
    """Check a parameter table and sampler stats (chains, draws, N_STATS) against the usual limits (target_accept:
    the one the draws were sampled at, so that the advice on divergences goes beyond it)."""
    max_rhat = float(np.nanmax(table["r_hat"])) if len(table) else np.nan
    min_bulk = float(np.nanmin(table["ess_bulk"])) if len(table) else np.nan
    min_tail = float(np.nanmin(table["ess_tail"])) if len(table) else np.nan
    divergences = int(stats[..., DIVERGING].sum())
    hamiltonian = bool(np.isfinite(stats[..., ENERGY]).any())
    energy_bfmi = bfmi(stats[..., ENERGY]) if hamiltonian else np.full(stats.shape[0], np.nan)
    depth_hits = int((stats[..., TREE_DEPTH] >= max_depth).sum()) if hamiltonian else 0
    acceptance = None if hamiltonian else float(np.mean(stats[..., ACCEPTANCE_RATE]))
    problems = []
    if acceptance is not None and acceptance < ACCEPTANCE_LIMIT:
        problems.append(f"mean acceptance {acceptance:.2f} < {ACCEPTANCE_LIMIT}: the proposal fitted to the posterior "
                        "follows it poorly; use marginalize=False (the full route, NUTS).")
    if max_rhat > RHAT_LIMIT:
        worst = table["r_hat"].idxmax()
        problems.append(f"R-hat {max_rhat:.4f} for {worst} > {RHAT_LIMIT}: chains disagree; run more tune/draws, "
                        "or simplify the model (drop a term, use || for uncorrelated effects) or tighten its prior.")
    if min_bulk < ESS_LIMIT or min_tail < ESS_LIMIT:
        worst = table["ess_bulk"].idxmin()
        problems.append(f"effective sample size {min(min_bulk, min_tail):.0f} (lowest for {worst}) < {ESS_LIMIT:.0f}: "
                        "estimates of intervals are noisy; increase draws.")
    if divergences:
        raise_it = ("raise target_accept (e.g. 0.95), or " if target_accept is None or target_accept < 0.95 else
                    f"they remain at target_accept {target_accept:g}: ")
        problems.append(f"{divergences} divergent transitions: the posterior has regions the sampler cannot follow "
                        f"(often a variance near zero); {raise_it}use a tighter prior on the sd parameters, or "
                        "simplify the random-effects structure.")
    if np.any(energy_bfmi < BFMI_LIMIT):
        problems.append(f"E-BFMI {energy_bfmi.min():.2f} < {BFMI_LIMIT}: poor exploration of the energy; "
                        "reparameterise or tighten the priors on scale parameters.")
    if depth_hits:
        problems.append(f"{depth_hits} draws hit the maximum tree depth {max_depth}: raise max_depth or rescale predictors.")
    return Diagnosis(max_rhat, min_bulk, min_tail, divergences, int(stats.shape[0] * stats.shape[1]), energy_bfmi,
                     depth_hits, tuple(problems), acceptance)


def warn_if_problems(diagnosis: Diagnosis) -> None:
    if diagnosis.problems:
        warn_user("Bayesian fit failed convergence checks:\n  " + "\n  ".join(diagnosis.problems), SamplingWarning)


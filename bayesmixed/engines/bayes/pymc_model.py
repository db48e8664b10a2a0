"""The design as a PyMC model (full non-centred route), and sampling it with PyMC, nutpie or NumPyro.

Each `(x | g)` term: chol, corr, sd = LKJCholeskyCov(η, sd_dist) and γ = u chol' with u ~ N(0, I) (levels, k);
each `||` term: γ = u · sd. The same priors as the numba kernel, so both give the same posterior.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import numpy as np

from ...errors import BayesmixedError
from .layout import ParameterLayout, partial_correlations
from .prior import Prior, PriorSet, cor_name, sd_name
from .sample_stats import DIVERGING, N_STATS, STAT_COLUMNS

if TYPE_CHECKING:
    from ...design.types import Design


def _stacked(priors: list[Prior], what: str) -> dict[str, np.ndarray]:
    """Parameters of same-family priors as arrays, so one vector-valued PyMC variable carries them."""
    families = {p.family for p in priors}
    if len(families) != 1:
        raise BayesmixedError(f"the PyMC model needs one prior family for all {what}; got {sorted(families)}")
    return {name: np.array([p.param(name) for p in priors]) for name, _ in priors[0].params}


def _vector_prior(name: str, priors: list[Prior], what: str, dist: bool = False, **kwargs):
    import pymc as pm

    params = _stacked(priors, what)
    family = priors[0].family
    cls = {"Normal": pm.Normal, "StudentT": pm.StudentT, "HalfNormal": pm.HalfNormal,
           "HalfStudentT": pm.HalfStudentT, "Exponential": pm.Exponential}[family]
    return cls.dist(**params, **kwargs) if dist else cls(name, **params, **kwargs)


def build_pymc_model(design: Design, priors: PriorSet):
    """pm.Model with variables beta, sigma (gaussian) or theta (negbin), chol_<g>/sd_<g> and u_<g>, and deterministic ranef_<g>."""
    import pymc as pm
    import pytensor.tensor as pt

    from ...results.varcorr import group_labels

    coords = {"fixef": list(design.fixef_names), "obs": np.arange(design.n)}
    for label, term in zip(group_labels(design.terms), design.terms):
        coords[f"{label}_level"] = list(term.levels)
        coords[f"{label}_column"] = list(term.columns)
    with pm.Model(coords=coords) as model:
        beta = _vector_prior("beta", [priors[n] for n in design.fixef_names], "fixed effects", dims="fixef")
        eta = pt.as_tensor_variable(design.X) @ beta + design.offset  # (n,)
        for label, term in zip(group_labels(design.terms), design.terms):
            sd_priors = [priors[sd_name(term.group, c)] for c in term.columns]
            u = pm.Normal(f"u_{label}", 0.0, 1.0, dims=(f"{label}_level", f"{label}_column"))  # (levels, k)
            if term.has_correlations:
                sd_dist = _vector_prior("", sd_priors, f"sds of {term.group}", dist=True, shape=term.n_columns)
                chol, _, _ = pm.LKJCholeskyCov(f"chol_{label}", n=term.n_columns, eta=priors[cor_name(term.group)].param("eta"),
                                               sd_dist=sd_dist, compute_corr=True)
                gamma = u @ chol.T  # (levels, k) rows γ_j = chol u_j
            else:
                sd = _vector_prior(f"sd_{label}", sd_priors, f"sds of {term.group}", dims=f"{label}_column")
                gamma = u * sd  # (levels, k)
            gamma = pm.Deterministic(f"ranef_{label}", gamma, dims=(f"{label}_level", f"{label}_column"))
            eta = eta + (pt.as_tensor_variable(term.matrix) * gamma[term.codes]).sum(axis=1)  # (n,)
        if design.family == "gaussian":
            sigma = priors["sigma"].to_pymc("sigma")
            pm.Normal(design.response, mu=eta, sigma=sigma, observed=design.y, dims="obs")
        elif design.family == "binomial":
            pm.Binomial(design.response, n=design.trials.astype(np.int64), logit_p=eta,
                        observed=design.y.astype(np.int64), dims="obs")
        elif design.family == "negbin":
            theta = priors["theta"].to_pymc("theta")
            pm.NegativeBinomial(design.response, mu=pt.exp(eta), alpha=theta, observed=design.y.astype(np.int64), dims="obs")
        else:
            pm.Poisson(design.response, mu=pt.exp(eta), observed=design.y.astype(np.int64), dims="obs")
    return model


def sample_with_pymc(design: Design, layout: ParameterLayout, priors: PriorSet, *, sampler: str, draws: int, tune: int,
                     chains: int, seed: int | None, target_accept: float, progressbar: bool | None):
    """Sample the PyMC model with nuts_sampler = pymc | nutpie | numpyro; return draws in the kernel's layout."""
    import pymc as pm

    from ...progress import progress_wanted

    started = time.perf_counter()
    model = build_pymc_model(design, priors)
    built = time.perf_counter()
    try:
        idata = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed, target_accept=target_accept,
                          progressbar=progress_wanted(progressbar), model=model, nuts_sampler=sampler,
                          cores=min(chains, os.cpu_count() or 1), compute_convergence_checks=False)
    except (ImportError, ModuleNotFoundError) as error:
        extra = "nutpie" if sampler == "nutpie" else "numpyro"
        raise BayesmixedError(f"sampler={sampler!r} needs the optional extra: pip install 'bayesmixed[{extra}]' ({error})") from None
    sampled = time.perf_counter()
    unconstrained = posterior_to_layout(idata.posterior, design, layout)
    stats = sample_stats_array(idata.sample_stats, unconstrained.shape[:2])
    return unconstrained, stats, {"prepare": built - started, "sampling": sampled - built}


def posterior_to_layout(posterior, design: Design, layout: ParameterLayout) -> np.ndarray:
    """PyMC's posterior (xarray) -> unconstrained draws (chains, draws, D) in the numba kernel's layout."""
    from ...results.varcorr import group_labels

    beta = posterior["beta"].values
    out = np.zeros(beta.shape[:2] + (layout.size,))
    out[..., layout.beta] = beta
    if layout.sigma_index >= 0:
        out[..., layout.sigma_index] = np.log(posterior[layout.scale_name].values)
    for label, t in zip(group_labels(design.terms), layout.terms):
        u = posterior[f"u_{label}"].values  # (chains, draws, levels, k)
        if t.correlated:
            sd = posterior[f"chol_{label}_stds"].values  # (chains, draws, k)
            corr = posterior[f"chol_{label}_corr"].values
            L = np.linalg.cholesky(corr)
            out[..., t.corr_index:t.corr_index + t.n_corr] = partial_correlations(L)
        else:
            sd = posterior[f"sd_{label}"].values
        out[..., t.sd_index:t.sd_index + t.k] = np.log(sd)
        out[..., t.u_index:t.u_index + t.n_levels * t.k] = u.reshape(u.shape[:2] + (-1,))
    return out


# What nutpie and NumPyro call some of the statistics.
OTHER_STAT_NAMES = {"tree_depth": ("depth",), "acceptance_rate": ("mean_tree_accept",), "lp": ("logp",)}


def sample_stats_array(stats, shape: tuple[int, int]) -> np.ndarray:
    """Sampler statistics in the numba sampler's columns (sample_stats.STAT_COLUMNS); missing ones are NaN."""
    out = np.full(shape + (N_STATS,), np.nan)
    for i, column in enumerate(STAT_COLUMNS):
        for name in (column, *OTHER_STAT_NAMES.get(column, ())):
            if name in stats:
                out[..., i] = stats[name].values.astype(float)
                break
    out[..., DIVERGING] = np.nan_to_num(out[..., DIVERGING])
    return out

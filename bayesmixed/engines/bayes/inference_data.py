"""ArviZ InferenceData from a BayesFit (ArviZ is imported only here, on first access to fit.idata)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .sample_stats import DIVERGING, STAT_COLUMNS

if TYPE_CHECKING:
    import arviz as az

    from .result import BayesFit


def posterior_dict(fit: BayesFit) -> tuple[dict, dict, dict]:
    """(variables as (chains, draws, ...), coords, dims): beta, sigma, sd_<group>, cor_<group>, ranef_<group>."""
    from ...results.varcorr import group_labels

    shape = (fit.n_chains, fit.n_draws)
    d = fit.design
    variables = {"beta": fit.beta_draws.reshape(shape + (d.p,))}
    coords = {"fixef": list(d.fixef_names)}
    dims = {"beta": ["fixef"]}
    if fit.sigma_draws is not None:
        variables["sigma"] = fit.sigma_draws.reshape(shape)
    if d.family == "negbin":  # the NB2 size θ, var = μ + μ²/θ
        variables["theta"] = fit.posterior.dispersion.reshape(shape)
    for label, term, t, gamma in zip(group_labels(d.terms), d.terms, fit.layout.terms, fit.ranef_samples):
        column_dim, level_dim = f"{label}_column", f"{label}_level"
        coords[column_dim], coords[level_dim] = list(term.columns), list(term.levels)
        variables[f"sd_{label}"] = fit.posterior.sds(t).reshape(shape + (t.k,))
        dims[f"sd_{label}"] = [column_dim]
        if t.correlated:
            variables[f"cor_{label}"] = fit.posterior.correlations(t).reshape(shape + (t.k, t.k))
            coords[f"{column_dim}_bis"] = list(term.columns)
            dims[f"cor_{label}"] = [column_dim, f"{column_dim}_bis"]
        variables[f"ranef_{label}"] = gamma.reshape(shape + gamma.shape[1:])
        dims[f"ranef_{label}"] = [level_dim, column_dim]
    return variables, coords, dims


def to_inference_data(fit: BayesFit, predictive: bool = False) -> az.InferenceData:
    """fit.idata: posterior (or prior) draws, sample stats, log-likelihood, observed data (+ prior predictive)."""
    import arviz as az

    variables, coords, dims = posterior_dict(fit)
    shape = (fit.n_chains, fit.n_draws)
    response = fit.design.response
    observed = {response: np.asarray(fit.design.y, dtype=float)}
    coords["obs"] = np.arange(fit.design.n)
    dims[response] = ["obs"]
    if fit.is_prior:
        prior_predictive = {response: fit.predictive_draws().reshape(shape + (fit.design.n,))} if predictive else None
        return az.from_dict(prior=variables, prior_predictive=prior_predictive, observed_data=observed,
                            coords=coords, dims=dims)
    stats = {name: fit.sample_stats[..., i] for i, name in enumerate(STAT_COLUMNS)}
    stats[STAT_COLUMNS[DIVERGING]] = stats[STAT_COLUMNS[DIVERGING]].astype(bool)
    by_group = fit.has_group_loglik
    loglik = fit.log_likelihood("group" if by_group else "observation")
    if by_group:
        level_dim = f"{fit.design.terms[0].group}_group"
        coords[level_dim] = list(fit.design.terms[0].levels)
        log_likelihood = {response: loglik.reshape(shape + (loglik.shape[1],))}
        ll_dims = {response: [level_dim]}
    else:
        log_likelihood = {response: loglik.reshape(shape + (fit.design.n,))}
        ll_dims = {response: ["obs"]}
    idata = az.from_dict(posterior=variables, sample_stats=stats, observed_data=observed, coords=coords,
                         dims={**dims, **{k: v for k, v in ll_dims.items() if k not in dims}})
    ll_idata = az.from_dict(log_likelihood=log_likelihood, coords=coords, dims=ll_dims)
    idata.extend(ll_idata)
    idata.attrs["log_likelihood"] = ("per group, γ integrated out (leave-one-group-out)" if by_group
                                     else "per observation given γ")
    return idata


def add_predictive(fit: BayesFit, idata: az.InferenceData, seed: int | None = None) -> az.InferenceData:
    """A copy of idata with the posterior (prior, for a prior fit) predictive draws at the fitted rows added."""
    import arviz as az

    response = fit.design.response
    draws = fit.predictive_draws(seed).reshape((fit.n_chains, fit.n_draws, fit.design.n))
    group = "prior_predictive" if fit.is_prior else "posterior_predictive"
    extra = az.from_dict(**{group: {response: draws}}, coords={"obs": np.arange(fit.design.n)}, dims={response: ["obs"]})
    out = idata.copy()
    out.extend(extra)
    return out

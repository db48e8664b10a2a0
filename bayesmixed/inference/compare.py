"""Bayesian model comparison through ArviZ: PSIS-LOO (with its Pareto-k diagnostics) or WAIC.

Which data are "left out" matters for mixed models.  unit="observation" (the default) uses
log p(y_n | β, γ, σ): LOO then predicts a new observation of a group already in the data.
unit="group" uses each group's marginal log-likelihood log p(y_g | β, σ, Σ) with γ_g integrated
out (fits on the marginal route provide it): leave-one-group-out, the prediction of a new group.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import BayesmixedError, warn_user
from .bambi import BambiPosterior, adopt_bambi
from .fits import check_same_data, is_bayesian
from .kfold import KFold
from .table import NotedFrame

CRITERIA = ("loo", "waic")
UNITS = ("observation", "group")
UNIT_NOTES = {
    "observation": ("{criterion} here leaves out single observations, not groups: it measures how well each model "
                    "predicts a new observation of a group it has seen. For predicting new groups use unit='group' "
                    "(leave-one-group-out)"),
    "group": ("leave-one-group-out: each unit is a whole {group}, its random effects integrated out; this measures "
              "how well each model predicts a new {group}"),
}


class ParetoKWarning(UserWarning):
    """PSIS-LOO's importance weights are unreliable for some left-out units (Pareto k too large)."""


def _pointwise_idata(fit: Any, unit: str):
    """InferenceData holding the fit's pointwise log-likelihood for `unit` and the draws ArviZ needs."""
    import arviz as az

    if isinstance(fit, BambiPosterior):
        fit.log_likelihood(unit)  # the checks: observation level, log_likelihood group present, same rows
        return fit.idata
    try:
        loglik = fit.log_likelihood(unit)
    except BayesmixedError:
        if unit != "group":
            raise
        raise BayesmixedError(
            "unit='group' needs each group's marginal log-likelihood, which the Bayesian engine computes on its "
            f"marginal route; {fit.design.formula!r} was fitted on the {fit.route} route. Use unit='observation', "
            "or refit with marginalize=True (Gaussian models whose random terms share one grouping factor)"
        ) from None
    shape = (fit.n_chains, fit.n_draws)
    response = fit.design.response or "y"
    return az.from_dict(posterior={"beta": fit.beta_draws.reshape(shape + (-1,))},
                        log_likelihood={response: loglik.reshape(shape + (loglik.shape[1],))})


def _elpd(idata, ic: str):
    """ArviZ's loo/waic of one fit; its own warnings are silenced because compare() issues one naming the fit."""
    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if ic == "loo":
            return az.loo(idata, pointwise=True)
        return az.waic(idata, pointwise=True)


def pareto_k_message(label: str, pareto_k: np.ndarray, threshold: float, unit: str) -> str | None:
    """The loud warning for one fit's large Pareto k values, with what to do about them."""
    bad = np.flatnonzero(pareto_k > threshold)
    if bad.size == 0:
        return None
    return (f"{label}: {bad.size} of {pareto_k.size} left-out {unit}s have Pareto k > {threshold:.2f} "
            f"(max {pareto_k.max():.2f}), so PSIS-LOO is unreliable for them: these are influential "
            f"{unit}s; refit with more draws, use K-fold cross-validation (bm.kfold(fit, k=10, by=<grouping factor>), "
            "which compare accepts beside PSIS-LOO), or check the model")


def compare(fits: Mapping[str, Any], ic: str = "loo", unit: str = "observation",
            method: str = "stacking") -> NotedFrame:
    """ArviZ's comparison of Bayesian fits by expected log predictive density: elpd = Σ_units log p(y_unit | y_−unit)
    estimated by PSIS-LOO (ic="loo") or WAIC, best first, with stacking weights.

    unit="observation" leaves out single observations (not groups); unit="group" leaves out whole groups
    (the fits' marginal log-likelihoods; available on the Bayesian engine's marginal route).
    A fitted bambi model's InferenceData (with its log_likelihood group) may be one of the fits, beside at
    least one bayesmixed fit to the same data.
    """
    if not isinstance(fits, Mapping):
        raise BayesmixedError("compare takes a dict of named Bayesian fits, e.g. bm.compare({'slopes': f1, 'intercepts': f0})")
    if ic not in CRITERIA:
        raise BayesmixedError(f"unknown ic {ic!r}; choose 'loo' (PSIS-LOO, recommended) or 'waic'")
    if unit not in UNITS:
        raise BayesmixedError(f"unknown unit {unit!r}; choose 'observation' or 'group'")
    if len(fits) < 2:
        raise BayesmixedError(f"compare needs two or more fits; got {len(fits)}")
    fits = adopt_bambi(dict(fits), "compare")
    kfolds = {label: fit for label, fit in fits.items() if isinstance(fit, KFold)}
    if kfolds and (ic != "loo" or unit != "observation"):
        raise BayesmixedError("K-fold results (bm.kfold) have one elpd per observation: compare them with "
                              "ic='loo' and unit='observation'")
    for label, fit in fits.items():
        if not is_bayesian(fit) and label not in kfolds:
            raise BayesmixedError(
                f"compare is for Bayesian fits (fit('bayes')); {label!r} is a {type(fit).__name__}. Compare REML/ML "
                "fits with bm.anova (likelihood-ratio test), bm.bootstrap_lrt (parametric bootstrap) or aic_table"
            )
    check_same_data([fit.fit if label in kfolds else fit for label, fit in fits.items()], "compare")
    import arviz as az

    elpds = {label: fit.elpd_data() if label in kfolds else _elpd(_pointwise_idata(fit, unit), ic)
             for label, fit in fits.items()}
    notes = [f"{label}: elpd from {fit.describe()}, not PSIS-LOO" for label, fit in kfolds.items()]
    first = next(iter(fits.values()))
    unit_name = first.design.terms[0].group if unit == "group" else "observation"
    notes.append(UNIT_NOTES[unit].format(group=unit_name, criterion="PSIS-LOO" if ic == "loo" else "WAIC"))
    if unit == "group":
        groups = {fit.design.terms[0].group for fit in fits.values()}
        if len(groups) > 1:
            raise BayesmixedError(f"leave-one-group-out needs the same groups in every fit; got {', '.join(sorted(groups))}")
    if ic == "loo":
        for label, elpd in elpds.items():
            if label in kfolds:
                continue
            message = pareto_k_message(label, np.asarray(elpd.pareto_k), float(elpd.good_k), unit_name)
            if message:
                warn_user(message, ParetoKWarning)
                notes.append(message)
    else:
        notes.append("WAIC's warning column flags units whose log-likelihood varies strongly over the posterior "
                     "(variance > 0.4), where WAIC is unreliable; PSIS-LOO (ic='loo') is preferred, its Pareto k "
                     "naming the units at fault")
    with warnings.catch_warnings():
        # ArviZ would repeat the Pareto-k warnings issued above, without the fits' names
        warnings.filterwarnings("ignore", module="arviz")
        table = az.compare(elpds, ic=ic, method=method)
    notes.append(f"elpd by {'PSIS-LOO' if ic == 'loo' else 'WAIC'} (ArviZ) from the posterior draws; se: its standard "
                 f"error, dse: the standard error of elpd_diff; weight: {method} weights")
    return NotedFrame.with_notes(pd.DataFrame(table), notes)

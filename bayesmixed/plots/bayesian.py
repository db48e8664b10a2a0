"""Posterior diagnostics through ArviZ: trace, rank and posterior predictive plots (Figures)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import BayesmixedError
from ._figure import _pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _idata(fit: Any):
    if not getattr(fit, "is_bayes", False):
        raise BayesmixedError("trace, rank and posterior predictive plots need a Bayesian fit (method='bayes')")
    return fit.idata


def _figure_of(axes, title: str) -> "Figure":
    """The Figure ArviZ drew on, titled, laid out so that panel titles and axis labels do not overlap."""
    import numpy as np

    figure = np.asarray(axes).ravel()[0].figure
    figure.suptitle(title)
    figure.set_layout_engine("constrained")
    return figure


def _population_vars(idata) -> list[str]:
    """Population-level parameters (not per-level random effects), as ArviZ names them."""
    return [name for name, values in idata.posterior.data_vars.items() if values.ndim <= 3 and values.size
            and not any(str(dim).endswith(("_level", "_obs", "__obs")) for dim in values.dims[2:])]


def trace(fit: Any, var_names: list[str] | None = None) -> "Figure":
    """ArviZ trace plot of the population-level parameters (or `var_names`)."""
    import arviz as az

    _pyplot()
    idata = _idata(fit)
    # One row per parameter (not compact): each row is titled with its name, e.g. "beta\nDays".
    axes = az.plot_trace(idata, var_names=var_names or _population_vars(idata), compact=False)
    return _figure_of(axes, f"Trace\n{fit.design.formula}")


def rank(fit: Any, var_names: list[str] | None = None) -> "Figure":
    """ArviZ rank plot (uniform bars when chains mix well)."""
    import arviz as az

    _pyplot()
    idata = _idata(fit)
    axes = az.plot_rank(idata, var_names=var_names or _population_vars(idata))
    return _figure_of(axes, f"Rank plots\n{fit.design.formula}")


def posterior_predictive(fit: Any, num_pp_samples: int = 100) -> "Figure":
    """ArviZ posterior predictive check: observed density against replicated data sets."""
    import arviz as az

    _pyplot()
    idata = _idata(fit)
    if "posterior_predictive" not in idata.groups():
        idata = fit.with_predictive()  # replicated data sets drawn now, from the fit's own seed
    axes = az.plot_ppc(idata, num_pp_samples=num_pp_samples)
    return _figure_of(axes, f"Posterior predictive check\n{fit.design.formula}")

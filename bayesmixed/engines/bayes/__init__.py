"""Bayesian engine: the design compiled to a hierarchical model, sampled by a cached numba NUTS or by PyMC.

Importing this package imports neither PyMC, ArviZ nor numba; they load when a fit asks for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import prior
from .prior import PriorSet, default_priors

if TYPE_CHECKING:
    from .result import BayesFit


def fit_bayes(design, **options: Any) -> "BayesFit":
    """Sample the model's posterior; see bayesmixed.engines.bayes.fit.fit_bayes for the options."""
    from .fit import fit_bayes as run

    return run(design, **options)


__all__ = ["PriorSet", "default_priors", "fit_bayes", "prior"]

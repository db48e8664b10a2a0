"""Bayesian engine: the design compiled to a hierarchical model, sampled by a cached numba NUTS or by PyMC.

Importing this package imports neither PyMC, ArviZ nor numba; they load when a fit asks for them.
"""

from __future__ import annotations

from . import prior
from .fit import fit_bayes
from .prior import PriorSet, default_priors

__all__ = ["PriorSet", "default_priors", "fit_bayes", "prior"]

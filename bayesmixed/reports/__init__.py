"""`bayesmixed report`: one self-contained HTML (or markdown) report of a model spec or of fitted models:
what was fitted, ML | REML | Bayes estimates, information criteria, LRTs and the bootstrap, LOO comparison,
diagnostic panels, simulated (DHARMa) residuals and sampler diagnostics."""

from .build import report

__all__ = ["report"]

"""Diagnostic plots (matplotlib Figures): residuals, QQ of residuals and random effects, caterpillar,
shrinkage; for Bayesian fits ArviZ trace, rank and posterior predictive plots."""

from .bayesian import posterior_predictive, rank, trace
from .diagnostics import caterpillar, qq_ranef, qq_residuals, residuals_vs_fitted, residuals_vs_predictor, shrinkage

__all__ = [
    "caterpillar",
    "posterior_predictive",
    "qq_ranef",
    "qq_residuals",
    "rank",
    "residuals_vs_fitted",
    "residuals_vs_predictor",
    "shrinkage",
    "trace",
]

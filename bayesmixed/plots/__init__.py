"""Diagnostic plots (matplotlib Figures): residuals, QQ of residuals and random effects, caterpillar,
shrinkage; for Bayesian fits ArviZ trace, rank and posterior predictive plots, predictive checks overall and by
group; simulated (DHARMa) residuals."""

from .bayesian import posterior_predictive, rank, trace
from .diagnostics import caterpillar, qq_ranef, qq_residuals, residuals_vs_fitted, residuals_vs_predictor, shrinkage
from .panels import predictive_by_group, predictive_density
from .scaled_residuals import scaled_residuals

__all__ = [
    "caterpillar",
    "posterior_predictive",
    "predictive_by_group",
    "predictive_density",
    "qq_ranef",
    "qq_residuals",
    "rank",
    "scaled_residuals",
    "residuals_vs_fitted",
    "residuals_vs_predictor",
    "shrinkage",
    "trace",
]

"""Inference and model comparison (the lecture's section 4): likelihood-ratio tests, the parametric
bootstrap, profile/bootstrap/Wald intervals, AIC/BIC tables, PSIS-LOO/WAIC, and a side-by-side table."""

from .bootstrap import BootstrapLRT, bootstrap_lrt
from .confint import confint
from .lrt import aic_table, anova
from .table import NotedFrame

__all__ = ["BootstrapLRT", "NotedFrame", "aic_table", "anova", "bootstrap_lrt", "confint"]

"""Inference and model comparison (the lecture's section 4): likelihood-ratio tests, F-tests of fixed-effect
terms and drop1, the parametric bootstrap, profile/bootstrap/Wald intervals, AIC/BIC tables, PSIS-LOO/WAIC, and a
side-by-side table."""

from .bootstrap import BootstrapLRT, bootstrap_lrt
from .compare import ParetoKWarning, compare
from .confint import confint
from .drop1 import drop1
from .fixed_anova import TermTests, term_tests
from .lrt import aic_table, anova
from .side_by_side import SideBySide, side_by_side
from .simulated_residuals import ScaledResiduals, simulate_residuals
from .table import NotedFrame

__all__ = ["BootstrapLRT", "NotedFrame", "ParetoKWarning", "ScaledResiduals", "SideBySide", "TermTests", "aic_table",
           "anova", "bootstrap_lrt", "compare", "confint", "drop1", "side_by_side", "simulate_residuals", "term_tests"]

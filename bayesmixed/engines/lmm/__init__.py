"""The frequentist Gaussian engine: lme4's profiled ML/REML with a blocked Cholesky (MixedModels.jl)."""

from .fit import fit_lmm
from .optimize import OptimizerSettings

__all__ = ["OptimizerSettings", "fit_lmm"]

"""Frequentist GLMMs (binomial, Poisson): PIRLS inside the Laplace approximation or adaptive Gauss-Hermite."""

from .checks import GlmmWarning
from .fit import fit_glmm
from .result import GlmmFit

__all__ = ["GlmmFit", "GlmmWarning", "fit_glmm"]

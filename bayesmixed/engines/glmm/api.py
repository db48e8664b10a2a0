"""lme4-style shortcut: `glmer(formula, data, family, nagq=1)`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ...design import build_design
from .fit import fit_glmm
from .result import GlmmFit


def glmer(formula: str, data: pd.DataFrame, family: str = "binomial", nagq: int = 1, **options: Any) -> GlmmFit:
    """Build the design of `formula` on `data` and fit it by maximum likelihood as lme4's glmer():
    Laplace (nagq = 1) or adaptive Gauss-Hermite quadrature with nagq nodes (one scalar random term).
    options: link, start, check_derivatives (see fit_glmm)."""
    return fit_glmm(build_design(formula, data, family), nagq, **options)

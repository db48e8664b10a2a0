"""lme4-style shortcut: `lmer(formula, data, REML=True)`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ...design import build_design
from ...results.lmm import LmmFit
from .fit import fit_lmm


def lmer(formula: str, data: pd.DataFrame, REML: bool = True, **options: Any) -> LmmFit:
    """Build the design of `formula` on `data` and fit it by REML (default) or ML, as lme4's lmer()."""
    return fit_lmm(build_design(formula, data, "gaussian"), reml=REML, **options)

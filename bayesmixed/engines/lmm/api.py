"""lme4-style shortcut: `lmer(formula, data, REML=True)`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ...design import build_design
from ...design.weights import WeightsArg
from ...errors import BayesmixedError, check_options, keyword_names
from ...results.lmm import LmmFit
from .fit import fit_lmm


def lmer(formula: str, data: pd.DataFrame, REML: bool = True, weights: WeightsArg = None, **options: Any) -> LmmFit:
    """Build the design of `formula` on `data` and fit it by REML (default) or ML, as lme4's lmer().

    weights: prior weights (column name or array): observation i has residual variance σ²/wᵢ."""
    family = options.pop("family", "gaussian")
    if str(family).lower() != "gaussian":
        raise BayesmixedError(f"lmer fits Gaussian models; for family={family!r} use bm.glmer(formula, data, "
                              f"family={family!r})")
    check_options(options, ["REML", "weights", *keyword_names(fit_lmm, "reml")], "lmer")
    return fit_lmm(build_design(formula, data, "gaussian", weights), reml=REML, **options)

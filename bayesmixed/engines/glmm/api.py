"""lme4-style shortcut: `glmer(formula, data, family, nagq=1)`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ...design import Design, build_design
from ...design.weights import WeightsArg
from ...errors import BayesmixedError, check_options, keyword_names
from .fit import fit_glmm
from .result import GlmmFit


def glmer(formula: str, data: pd.DataFrame, family: str = "binomial", nagq: int = 1, weights: WeightsArg = None,
          **options: Any) -> GlmmFit:
    """Build the design of `formula` on `data` and fit it by maximum likelihood as lme4's glmer():
    Laplace (nagq = 1) or adaptive Gauss-Hermite quadrature with nagq nodes (one scalar random term).
    weights: binomial: the number of trials of a proportion response (column name or array).
    options: link, start, check_derivatives (see fit_glmm)."""
    check_options(options, ["family", "nagq", "weights", *keyword_names(fit_glmm, "nagq")], "glmer")
    design = build_design(formula, data, family, weights)
    refuse_unsupported_weights(design)
    return fit_glmm(design, nagq, **options)


def refuse_unsupported_weights(design: Design) -> None:
    """Binomial weights are trials (folded into the design); other families' prior weights the engine lacks."""
    if design.weights is not None:
        raise BayesmixedError(
            f"prior weights ({design.weights_name!r}) are supported for Gaussian models and, as the number of "
            f"trials, for binomial ones; the {design.family} GLMM fit does not take them"
        )

"""formula text + DataFrame -> Design: the one place a formula is read against data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError
from ..formula.terms import parse_formula
from .fixed import build_fixed, evaluate
from .frame import model_frame
from .random import build_term, lme4_order
from .response import build_response, check_family
from .types import Design


def build_design(formula: str, data: pd.DataFrame, family: str = "gaussian") -> Design:
    """Parse `formula` and build X, y and the sparse Z of each random term on `data`."""
    family = check_family(family)
    parsed = parse_formula(formula)
    frame = model_frame(parsed, data)
    response = build_response(parsed, frame, family)
    fixed = build_fixed(parsed.fixed, frame, formula)
    offset = np.zeros(len(frame))
    for expression in parsed.offsets:
        values = evaluate(expression, frame, formula, "offset")
        if not pd.api.types.is_numeric_dtype(values.dtype):
            raise DataError(f"offset({expression}) must be numeric")
        offset += values.to_numpy(dtype=float)
    terms = lme4_order([build_term(spec, frame, formula, family) for spec in parsed.random])
    return Design(
        formula=formula,
        family=family,
        response=response.name,
        y=response.y,
        X=fixed.X,
        fixef_names=fixed.names,
        terms=tuple(terms),
        offset=offset,
        trials=response.trials,
        row_index=frame.index,
        fixed=fixed,
        offsets=parsed.offsets,
        response_levels=response.levels,
    )

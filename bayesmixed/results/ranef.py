"""Random effects per grouping factor as DataFrames (levels x columns), lme4's ranef layout.

Terms of one grouping factor (`(x || g)` gives two) are merged into one frame, as lme4 does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..design.types import RandomTerm


def ranef_frames(terms: Sequence[RandomTerm], per_term: Sequence[np.ndarray]) -> dict[str, pd.DataFrame]:
    """{group: DataFrame indexed by level, one column per random-effect column} from per-term
    (levels, columns) arrays; the same layout serves modes, conditional sds or posterior means."""
    frames: dict[str, list[pd.DataFrame]] = {}
    for term, values in zip(terms, per_term):
        index = pd.Index(term.levels, name=term.group)
        frames.setdefault(term.group, []).append(
            pd.DataFrame(np.asarray(values).reshape(term.n_levels, term.n_columns), index=index, columns=list(term.columns))
        )
    return {group: parts[0] if len(parts) == 1 else pd.concat(parts, axis=1) for group, parts in frames.items()}


def conditional_sds(covariances: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Square roots of the diagonals of per-level covariance blocks (levels, k, k) -> (levels, k)."""
    return [np.sqrt(np.clip(np.diagonal(c, axis1=1, axis2=2), 0.0, None)) for c in covariances]

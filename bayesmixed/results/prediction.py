"""Linear predictors on the fitted data and on new data, shared by every engine.

η = Xβ + offset + Σ_t Z_t b_t, where Z_t b_t is computed row by row from the term's level codes and
model matrix (no Z is formed).  New data are encoded by the design exactly as in the fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..design.newdata import new_data_matrices, new_offset
from ..design.newdata import group_labels
from ..design.types import Design
from ..errors import BayesmixedError, DataError

SCALES = ("response", "link")
INTERVALS = ("confidence", "prediction")


class NewLevelError(DataError):
    """New data hold a level of a grouping factor that the fit has not seen."""


@dataclass(frozen=True)
class PredictionRows:
    """The rows to predict, encoded by the fit's design.

    per_term holds (codes, matrix) with every level seen in the fit keeping its code and each distinct
    unseen level numbered after them (n_levels + j, its label new_levels[t][j]); trials is the binomial
    number of trials per row and weights the Gaussian prior weights (residual variance σ²/w), both 1 for
    new data.
    """

    X: np.ndarray
    offset: np.ndarray
    per_term: tuple[tuple[np.ndarray, np.ndarray], ...]
    new_levels: tuple[np.ndarray, ...]
    trials: np.ndarray
    index: pd.Index
    weights: np.ndarray | None = None

    @property
    def n(self) -> int:
        return self.X.shape[0]


def check_prediction_options(scale: str, interval: str | None, level: float) -> None:
    if scale not in SCALES:
        raise BayesmixedError(f"unknown scale {scale!r}; choose 'response' (means) or 'link' (linear predictor)")
    if interval is not None and interval not in INTERVALS:
        raise BayesmixedError(f"unknown interval {interval!r}; choose 'confidence', 'prediction' or None")
    if not 0 < level < 1:
        raise BayesmixedError(f"level must be between 0 and 1; got {level}")


def new_level_error(term_group: str, labels: np.ndarray, remedy: str) -> NewLevelError:
    """The error for levels of `term_group` unseen in the fit, naming up to five of them."""
    distinct = list(dict.fromkeys(str(label) for label in labels))
    shown = ", ".join(repr(label) for label in distinct[:5]) + (", ..." if len(distinct) > 5 else "")
    return NewLevelError(
        f"newdata has level{'s' if len(distinct) > 1 else ''} {shown} of grouping factor {term_group!r} not seen "
        f"in the fit; pass allow_new_levels=True to {remedy}, or re=False to leave out all random effects"
    )


def prediction_rows(design: Design, newdata: pd.DataFrame | None, re: bool, allow_new_levels: bool,
                    remedy: str) -> PredictionRows:
    """The fitted rows (newdata None) or `newdata` encoded for prediction; without `re` no grouping column is
    needed.  An unseen level raises NewLevelError naming it unless allow_new_levels (`remedy` says what then)."""
    if newdata is None:
        per_term = tuple((t.codes, t.matrix) for t in design.terms) if re else ()
        trials = design.trials if design.trials is not None else np.ones(design.n)
        return PredictionRows(design.X, design.offset, per_term, tuple(np.array([], dtype=object) for _ in per_term),
                              np.asarray(trials, dtype=float), design.row_index, getattr(design, "weights", None))
    X, raw = new_data_matrices(design, newdata, random=re)
    per_term, new_levels = [], []
    for term, (codes, matrix) in zip(design.terms, raw):
        unseen = np.flatnonzero(codes < 0)
        labels = group_labels(newdata.iloc[unseen], term.group_factors) if unseen.size else np.array([], dtype=object)
        if unseen.size and not allow_new_levels:
            raise new_level_error(term.group, labels, remedy)
        distinct, position = np.unique(labels.astype(str), return_inverse=True)
        codes = codes.copy()
        codes[unseen] = term.n_levels + position
        per_term.append((codes, matrix))
        new_levels.append(distinct.astype(object))
    return PredictionRows(np.asarray(X, dtype=float), new_offset(design, newdata), tuple(per_term), tuple(new_levels),
                          np.ones(len(newdata)), newdata.index)


def term_contribution(codes: np.ndarray, matrix: np.ndarray, effects: np.ndarray) -> np.ndarray:
    """Rows of Z_t b_t: Σ_c matrix[i, c] · b[code_i, c]; rows whose code is past b's levels get 0."""
    seen = (codes >= 0) & (codes < effects.shape[0])
    values = np.zeros(codes.shape[0])
    values[seen] = np.einsum("ic,ic->i", matrix[seen], effects[codes[seen]])
    return values


def linear_predictor(design: Design, beta: np.ndarray, effects: Sequence[np.ndarray], re: bool = True) -> np.ndarray:
    """η on the fitted rows: Xβ + offset, plus Zb when `re`."""
    eta = design.X @ beta + design.offset
    if re:
        for term, b in zip(design.terms, effects):
            eta = eta + term_contribution(term.codes, term.matrix, b)
    return eta


def rows_linear_predictor(rows: PredictionRows, beta: np.ndarray, effects: Sequence[np.ndarray]) -> np.ndarray:
    """η = Xβ + offset + Σ_t Z_t b_t on prediction rows; an unseen level's b is 0 (the population level)."""
    eta = rows.X @ beta + rows.offset
    for (codes, matrix), b in zip(rows.per_term, effects):
        eta = eta + term_contribution(codes, matrix, b)
    return eta


def _matrix_root(covariance: np.ndarray) -> np.ndarray:
    """A square root R with R R' = covariance, for positive semi-definite matrices (singular fits included)."""
    values, vectors = np.linalg.eigh((covariance + covariance.T) / 2)
    return vectors * np.sqrt(np.clip(values, 0.0, None))


def simulated_effects(rows: PredictionRows, effects: Sequence[np.ndarray], conditional: Sequence[np.ndarray] | None,
                      population: Sequence[np.ndarray] | None, n_sim: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Per term, (n_sim, levels + new levels, k) draws of b: N(b̂_j, C_j) for a seen level and N(0, Σ_t) for
    each new level; b̂_j fixed when `conditional` is None, new levels at 0 when `population` is None."""
    out = []
    for t, ((codes, _), b_hat) in enumerate(zip(rows.per_term, effects)):
        levels, k = b_hat.shape
        n_new = rows.new_levels[t].size
        draws = np.zeros((n_sim, levels + n_new, k))
        used = np.unique(codes[(codes >= 0) & (codes < levels)])
        draws[:, used, :] = b_hat[used]
        if conditional is not None and used.size:
            roots = np.stack([_matrix_root(conditional[t][j]) for j in used])  # (used, k, k)
            draws[:, used, :] += np.einsum("ljk,slk->slj", roots, rng.standard_normal((n_sim, used.size, k)))
        if n_new and population is not None:
            draws[:, levels:, :] = rng.standard_normal((n_sim, n_new, k)) @ _matrix_root(population[t]).T
        out.append(draws)
    return out


def simulated_linear_predictors(rows: PredictionRows, beta: np.ndarray, vcov: np.ndarray, effects: list[np.ndarray],
                                n_sim: int, rng: np.random.Generator) -> np.ndarray:
    """(n_sim, rows) η with β ~ N(β̂, vcov) and the given per-term effect draws (n_sim, levels, k)."""
    betas = beta + rng.standard_normal((n_sim, beta.size)) @ _matrix_root(vcov).T
    eta = betas @ rows.X.T + rows.offset
    for (codes, matrix), b in zip(rows.per_term, effects):
        eta += np.einsum("sik,ik->si", b[:, codes, :], matrix)
    return eta


def interval_frame(point: np.ndarray, draws: np.ndarray, level: float, index: pd.Index, note: str) -> pd.DataFrame:
    """fit (the point prediction), lower and upper (equal-tailed quantiles of the draws); `note` in attrs."""
    tail = (1 - level) / 2
    lower, upper = np.quantile(draws, [tail, 1 - tail], axis=0)
    frame = pd.DataFrame({"fit": point, "lower": lower, "upper": upper}, index=index)
    frame.attrs["interval"] = note
    return frame


def interval_note(interval: str, level: float, scale: str, source: str) -> str:
    """What an interval covers: e.g. '95% prediction interval (a new observation, response scale) ...'."""
    what = "a new observation" if interval == "prediction" else "the mean"
    return f"{100 * level:g}% {interval} interval for {what} on the {scale} scale, {source}"

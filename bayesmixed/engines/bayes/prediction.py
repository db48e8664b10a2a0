"""A Bayesian fit's predictions from its posterior draws: means, linear predictors and predictive draws.

Rows come encoded by results.prediction.prediction_rows (the fitted rows or new data); a level unseen in
the fit gets, for every draw, γ drawn from N(0, Σ) of that draw (its posterior predictive).
Draws are flattened to S = chains x draws in front.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ...results.prediction import PredictionRows
from .posterior import PosteriorDraws, draw_response, eta_chunks, inverse_link, new_level_effects, pointwise_loglik

LINKS = {"gaussian": "identity", "binomial": "logit", "poisson": "log", "negbin": "log"}


def row_effects(posterior: PosteriorDraws, rows: PredictionRows, rng: np.random.Generator) -> list[np.ndarray]:
    """Per term γ draws (S, levels + new levels, k): the fit's, then each new level's from N(0, Σ)."""
    if not any(labels.size for labels in rows.new_levels):
        return list(posterior.ranef[:len(rows.per_term)])
    extra = new_level_effects(posterior.layout, posterior.unconstrained, list(rows.new_levels), rng)
    return [np.concatenate([gamma, more], axis=1) for gamma, more in zip(posterior.ranef, extra)]


def eta_draws(posterior: PosteriorDraws, rows: PredictionRows, rng: np.random.Generator) -> Iterator[tuple[int, np.ndarray]]:
    """(start, η (chunk, rows)) over the draws; rows without per-term codes (re=False) get no random effects."""
    gammas = row_effects(posterior, rows, rng) if rows.per_term else []
    return eta_chunks(posterior.beta, gammas, rows.X, rows.offset, list(rows.per_term))


def mean_draws(posterior: PosteriorDraws, rows: PredictionRows, scale: str, rng: np.random.Generator) -> np.ndarray:
    """(S, rows) draws of E[y | draw] (scale "response"; binomial: probability) or of η (scale "link")."""
    family = posterior.design.family
    out = np.empty((posterior.size, rows.n))
    for start, eta in eta_draws(posterior, rows, rng):
        out[start:start + eta.shape[0]] = eta if scale == "link" else inverse_link(family, eta)
    return out


def response_draws(posterior: PosteriorDraws, rows: PredictionRows, rng: np.random.Generator,
                   as_proportion: bool) -> np.ndarray:
    """(S, rows) posterior predictive draws of y: one new response per draw (binomial: successes out of the rows'
    trials, or their proportion when as_proportion)."""
    family = posterior.design.family
    dispersion = posterior.dispersion
    out = np.empty((posterior.size, rows.n))
    for start, eta in eta_draws(posterior, rows, rng):
        stop = start + eta.shape[0]
        out[start:stop] = draw_response(family, eta, rows.trials, dispersion[start:stop] if dispersion is not None else None, rng,
                                        rows.weights)
    if as_proportion and family == "binomial":
        out /= rows.trials
    return out


def observation_loglik(posterior: PosteriorDraws, rows: PredictionRows, y: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
    """(S, rows) log p(y_i | draw) with every constant, for rows whose response y (successes) is known."""
    family = posterior.design.family
    dispersion = posterior.dispersion
    out = np.empty((posterior.size, rows.n))
    for start, eta in eta_draws(posterior, rows, rng):
        stop = start + eta.shape[0]
        out[start:stop] = pointwise_loglik(family, eta, y, rows.trials, dispersion[start:stop] if dispersion is not None else None,
                                           rows.weights)
    return out

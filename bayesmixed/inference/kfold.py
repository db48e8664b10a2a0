"""K-fold cross-validation of any fit (brms's kfold): refit without each fold, score the held-out rows.

elpd_kfold = Σ_i log p(y_i | y_−fold(i)), with p the refit's predictive density of a held-out row:
- REML/ML: at the refit's estimates, with the random effects integrated over their conditional
  distribution N(b̂, C) (a held-out level's is its prior N(0, Σ), as a new level's): Gaussian
  N(y; η̂, σ² + z'Cz), binomial/Poisson by Gauss-Hermite quadrature over z'b;
- Bayes: log of the mean over posterior draws of p(y_i | draw) (a held-out level's γ drawn from its prior).
Folds are grouped (whole levels of `by` held out: predicting new groups), stratified (each level's rows spread
over the folds) or random rows.  Refits run through joblib (n_jobs; `with joblib.parallel_backend("dask"):`
sends them to a Dask cluster); folds and Bayesian refit seeds come from `seed`, so results do not depend on n_jobs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from ..design.newdata import design_rows
from ..errors import BayesmixedError, warn_user
from ..families import get_family
from ..results.prediction import PredictionRows

FOLDS = ("grouped", "stratified", "random")
QUADRATURE_NODES = 32


class KFoldWarning(UserWarning):
    """Some K-fold refits reported numerical trouble (convergence, singular fits, sampler diagnostics)."""


@dataclass(frozen=True)
class KFold:
    """elpd_kfold (sum over rows), its se = √(n var(pointwise)), the pointwise values, the fold of each row,
    and the refits' warnings ("fold j: ...")."""

    elpd_kfold: float
    se: float
    pointwise: np.ndarray
    folds: np.ndarray
    k: int
    by: str | None
    scheme: str
    fit: Any
    messages: tuple[str, ...] = ()

    def describe(self) -> str:
        """Which cross-validation made the numbers, for notes."""
        held = f"whole levels of {self.by}" if self.scheme == "grouped" else (
            f"rows stratified by {self.by}" if self.scheme == "stratified" else "random rows")
        return f"{self.k}-fold cross-validation holding out {held}"

    def elpd_data(self):
        """The values as ArviZ's ELPDData, keyed as PSIS-LOO's so that arviz.compare accepts them."""
        import xarray as xr
        from arviz.stats.stats_utils import ELPDData

        n = self.pointwise.size
        pointwise = xr.DataArray(self.pointwise, dims=["observation"])
        return ELPDData(
            data=[self.elpd_kfold, self.se, np.nan, 0, n, False, pointwise, xr.zeros_like(pointwise), "log", 0.7],
            index=["elpd_loo", "se", "p_loo", "n_samples", "n_data_points", "warning", "loo_i", "pareto_k",
                   "scale", "good_k"],
        )

    def __repr__(self) -> str:
        return (f"K-fold: elpd_kfold = {self.elpd_kfold:.2f} (se {self.se:.2f}) over {self.pointwise.size} rows; "
                f"{self.describe()}")


def assign_folds(fit: Any, k: int, by: str | None, folds: str | None, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Fold number (0..k−1) of each row, and the scheme used."""
    design = fit.design
    scheme = folds or ("grouped" if by is not None else "random")
    if scheme not in FOLDS:
        raise BayesmixedError(f"unknown folds {folds!r}; choose one of {', '.join(FOLDS)}")
    if int(k) != k or k < 2:
        raise BayesmixedError(f"k must be an integer of at least 2; got {k!r}")
    if scheme == "random":
        if k > design.n:
            raise BayesmixedError(f"k = {k} folds need at least {k} rows; the fit has {design.n}")
        out = np.empty(design.n, dtype=np.int64)
        out[rng.permutation(design.n)] = np.arange(design.n) % k
        return out, scheme
    if by is None:
        raise BayesmixedError(f"folds={scheme!r} needs by=, a grouping factor of the model "
                              f"({', '.join(dict.fromkeys(t.group for t in design.terms))})")
    terms = [t for t in design.terms if t.group == by]
    if not terms:
        raise BayesmixedError(f"by={by!r} is not a grouping factor of the model; its are "
                              f"{', '.join(dict.fromkeys(t.group for t in design.terms))}")
    codes, n_levels = terms[0].codes, terms[0].n_levels
    if scheme == "grouped":
        if k > n_levels:
            raise BayesmixedError(f"k = {k} grouped folds need at least {k} levels of {by}; it has {n_levels}")
        level_fold = np.empty(n_levels, dtype=np.int64)
        level_fold[rng.permutation(n_levels)] = np.arange(n_levels) % k
        return level_fold[codes], scheme
    out = np.empty(design.n, dtype=np.int64)
    start = rng.integers(k)
    for level in range(n_levels):  # each level's rows dealt over the folds in turn, continuing where the last stopped
        rows = rng.permutation(np.flatnonzero(codes == level))
        out[rows] = (start + np.arange(rows.size)) % k
        start = (start + rows.size) % k
    return out, scheme


def refit_on(fit: Any, rows: np.ndarray, seed: np.random.SeedSequence, fit_options: dict) -> Any:
    """The fit's model refitted to `rows` of its design (Bayes: same priors, sampler and draws)."""
    design = design_rows(fit.design, rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # recorded in the refit's messages, reported once by kfold()
        if fit.is_bayes:
            from ..engines.bayes import fit_bayes

            options = dict(priors=fit.priors, draws=fit.n_draws, tune=fit.n_draws, chains=fit.n_chains,
                           sampler=fit.sampler, max_depth=fit.max_depth, progressbar=False, warn=False,
                           seed=int(seed.generate_state(1)[0]))
            return fit_bayes(design, **{**options, **fit_options})
        if get_family(design.family).profiled_scale:
            from ..engines.lmm import fit_lmm

            return fit_lmm(design, reml=fit.kind == "reml", **fit_options)
        from ..engines.glmm import fit_glmm

        return fit_glmm(design, nagq=fit.nagq, link=fit.link_name, **fit_options)


def held_out_rows(design: Any, rows: np.ndarray) -> PredictionRows:
    """Rows of the full design encoded for prediction by a refit on the other rows (same levels and columns)."""
    trials = design.trials[rows] if design.trials is not None else np.ones(rows.size)
    per_term = tuple((t.codes[rows], t.matrix[rows]) for t in design.terms)
    weights = getattr(design, "weights", None)
    return PredictionRows(design.X[rows], design.offset[rows], per_term, tuple(np.array([], dtype=object) for _ in per_term),
                          np.asarray(trials, dtype=float), design.row_index[rows],
                          None if weights is None else weights[rows])


def frequentist_lpd(refit: Any, rows: PredictionRows, y: np.ndarray) -> np.ndarray:
    """log p(y_i | estimates) with the random effects integrated over N(b̂, C) per row (module docstring)."""
    from ..results.prediction import rows_linear_predictor

    eta = rows_linear_predictor(rows, np.asarray(refit.beta), list(refit.random_effects))
    variance = np.zeros(rows.n)
    for (codes, matrix), covariance in zip(rows.per_term, refit.conditional_covariances):
        variance += np.einsum("ik,ikl,il->i", matrix, covariance[codes], matrix)
    if refit.family.has_residual_sd:
        total = refit.sigma**2 / (1.0 if rows.weights is None else rows.weights) + variance
        return -0.5 * (np.log(2 * np.pi * total) + (y - eta) ** 2 / total)
    nodes, weights = np.polynomial.hermite.hermgauss(QUADRATURE_NODES)
    family = refit.family
    response, prior_weights = family.response_form(y, rows.trials)
    log_norm = family.normalising_constant(response, prior_weights)
    shifted = eta[None, :] + np.sqrt(2 * variance)[None, :] * nodes[:, None]  # (nodes, rows)
    log_density = family.log_density(response[None, :], shifted, prior_weights[None, :], log_norm[None, :])
    return special.logsumexp(log_density + np.log(weights / np.sqrt(np.pi))[:, None], axis=0)


def bayes_lpd(refit: Any, rows: PredictionRows, y: np.ndarray) -> np.ndarray:
    """log mean_s p(y_i | draw s) over the refit's posterior draws."""
    from ..engines.bayes.prediction import observation_loglik

    loglik = observation_loglik(refit.posterior, rows, y, np.random.default_rng(0))
    return special.logsumexp(loglik, axis=0) - np.log(loglik.shape[0])


def _fold_lpd(fit: Any, folds: np.ndarray, fold: int, seed: np.random.SeedSequence,
              fit_options: dict) -> tuple[np.ndarray, tuple[str, ...]]:
    """The held-out rows' log predictive densities and the refit's messages."""
    held = np.flatnonzero(folds == fold)
    try:
        refit = refit_on(fit, np.flatnonzero(folds != fold), seed, fit_options)
    except BayesmixedError as error:
        raise BayesmixedError(f"K-fold refit without fold {fold} ({held.size} rows) failed: {error}") from error
    rows = held_out_rows(fit.design, held)
    y = fit.design.y[held]
    values = bayes_lpd(refit, rows, y) if fit.is_bayes else frequentist_lpd(refit, rows, y)
    return values, tuple(f"fold {fold}: {message}" for message in refit.messages)


def kfold(fit: Any, k: int = 10, by: str | None = None, folds: str | None = None, seed: int | None = None,
          n_jobs: int | None = 1, **fit_options: Any) -> KFold:
    """K-fold cross-validation (module docstring): k refits, each without one fold, scored on that fold.

    by: a grouping factor of the model; with it folds default to "grouped" (whole levels held out),
    "stratified" spreads each level's rows over the folds; without it folds are random rows.
    fit_options are passed to every refit (e.g. draws=, tune= for Bayesian fits).
    """
    import joblib

    root = np.random.SeedSequence(seed)
    fold_seed, *refit_seeds = root.spawn(k + 1)
    assignment, scheme = assign_folds(fit, k, by, folds, np.random.default_rng(fold_seed))
    tasks = (joblib.delayed(_fold_lpd)(fit, assignment, fold, refit_seeds[fold], fit_options) for fold in range(k))
    pointwise = np.empty(fit.design.n)
    messages: list[str] = []
    for fold, (values, fold_messages) in enumerate(joblib.Parallel(n_jobs=n_jobs)(tasks)):
        pointwise[assignment == fold] = values
        messages.extend(fold_messages)
    if messages:
        warn_user(f"{len(messages)} warning(s) from the K-fold refits (the elpd of those folds may be off):\n  "
                  + "\n  ".join(messages), KFoldWarning)
    elpd = float(pointwise.sum())
    se = float(np.sqrt(pointwise.size * np.var(pointwise)))
    return KFold(elpd, se, pointwise, assignment, k, by, scheme, fit, tuple(messages))


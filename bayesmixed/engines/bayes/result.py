"""BayesFit: the frequentist fit's surface (fixef, se, ranef, varcorr, sigma, icc, predict, summary) from draws."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ...errors import BayesmixedError, DataError
from ...results.prediction import NewLevelError
from .diagnostics import Diagnosis, diagnose, parameter_table, warn_if_problems
from .layout import MARGINAL, ParameterLayout, pack_model
from .posterior import (correlation_matrices, draw_response, eta_chunks, inverse_link, named_draws, new_level_effects,
                        pointwise_loglik, ranef_draws)
from .prior import PriorSet, sd_name
from .seeds import PREDICT, PREDICTIVE, generator

if TYPE_CHECKING:
    import arviz as az

    from ...design.types import Design

ROUTE_TEXT = {MARGINAL: "marginal (γ integrated out, drawn afterwards from its exact conditional)",
              1: "full non-centred (γ = diag(sd) L u, u ~ N(0, I))"}
RESIDUAL_KINDS = ("response", "pearson")
SAMPLER_TEXT = {"numba": "bayesmixed NUTS (numba)", "pymc": "PyMC NUTS", "nutpie": "nutpie NUTS",
                "numpyro": "NumPyro NUTS", "prior": "independent prior draws"}


class BayesFit:
    """Posterior draws of a mixed model with lme4-style accessors; point values are posterior medians.

    `idata` (ArviZ InferenceData) and `pymc_model` are built on first access.
    """

    def __init__(self, design: Design, priors: PriorSet, layout: ParameterLayout, unconstrained: np.ndarray,
                 stats: np.ndarray | None, *, sampler: str, seed: int | None, max_depth: int, timings: dict[str, float],
                 is_prior: bool = False, warn: bool = True, model: tuple | None = None):
        self.design = design
        self.priors = priors
        self.layout = layout
        self.unconstrained = unconstrained  # (chains, draws, D)
        self.sample_stats = stats  # (chains, draws, 7) or None
        self.sampler = sampler
        self.seed = seed
        self.max_depth = max_depth
        self.timings = timings
        self.is_prior = is_prior
        self._model = model  # layout.pack_model's tuple when the sampler built it
        self._fitted_means: dict[bool, np.ndarray] = {}  # fitted(re) by re
        self.draws = named_draws(layout, design, unconstrained)  # {name: (chains, draws)}
        self.parameters = parameter_table(self.draws) if not is_prior else _interval_table(self.draws)
        self.diagnosis: Diagnosis | None = None
        if stats is not None:
            self.diagnosis = diagnose(self.parameters, stats, max_depth)
            if warn:
                warn_if_problems(self.diagnosis)

    # ---- shapes
    @property
    def n_chains(self) -> int:
        return self.unconstrained.shape[0]

    @property
    def n_draws(self) -> int:
        return self.unconstrained.shape[1]

    @property
    def route(self) -> str:
        return "marginal" if self.layout.route == MARGINAL else "full"

    def _flat(self, name: str) -> np.ndarray:
        return self.draws[name].reshape(-1)

    @property
    def beta_draws(self) -> np.ndarray:
        """(S, p) fixed-effect draws."""
        return np.stack([self._flat(n) for n in self.design.fixef_names], axis=1) if self.design.p else np.zeros((self.n_chains * self.n_draws, 0))

    @property
    def sigma_draws(self) -> np.ndarray | None:
        return self._flat("sigma") if "sigma" in self.draws else None

    # ---- lme4-style surface
    @property
    def fixef(self) -> pd.Series:
        """Posterior medians of β."""
        return self.parameters.loc[list(self.design.fixef_names), "median"].rename("fixef")

    @property
    def se(self) -> pd.Series:
        """Posterior standard deviations of β."""
        return self.parameters.loc[list(self.design.fixef_names), "sd"].rename("se")

    @property
    def sigma(self) -> float:
        """Posterior median of the residual sd (1.0 for binomial and poisson, as lme4's sigma())."""
        return float(np.median(self.sigma_draws)) if self.sigma_draws is not None else 1.0

    @property
    def packed_model(self) -> tuple:
        """The kernel's packed model (layout.pack_model): the sampler's own, or packed here on first use."""
        if self._model is None:
            self._model = pack_model(self.design, self.layout, self.priors)
        return self._model

    @cached_property
    def ranef_samples(self) -> list[np.ndarray]:
        """Per term γ draws (S, levels, k), seeded from the fit's seed."""
        model = self.packed_model if self.layout.route == MARGINAL else None
        return ranef_draws(self.layout, self.design, model, self.unconstrained, self.seed)

    @property
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Posterior means of the random effects, {group: levels x columns}."""
        from ...results.ranef import ranef_frames

        return ranef_frames(self.design.terms, [g.mean(axis=0) for g in self.ranef_samples])

    @property
    def ranef_sd(self) -> dict[str, pd.DataFrame]:
        """Posterior sds of the random effects, {group: levels x columns}."""
        from ...results.ranef import ranef_frames

        return ranef_frames(self.design.terms, [g.std(axis=0, ddof=1) for g in self.ranef_samples])

    @property
    def varcorr(self) -> pd.DataFrame:
        """lme4's as.data.frame(VarCorr()) columns from posterior medians of each sd and correlation."""
        from ...results.varcorr import varcorr_frame

        covariances = []
        for t in self.layout.terms:
            sd = np.array([np.median(self.draws[sd_name(t.group, c)]) for c in t.columns])
            R = np.eye(t.k)
            if t.correlated:
                R = np.median(correlation_matrices(self._chol_draws(t)), axis=0)
            covariances.append(R * np.outer(sd, sd))
        residual = self.sigma if self.design.family == "gaussian" else None
        return varcorr_frame(self.design.terms, covariances, residual)

    def _chol_draws(self, term) -> np.ndarray:
        from .layout import correlation_cholesky

        flat = self.unconstrained.reshape(-1, self.unconstrained.shape[-1])
        return correlation_cholesky(flat[:, term.corr_index:term.corr_index + term.n_corr], term.k)

    def icc(self) -> pd.DataFrame:
        """Intra-class correlation per grouping factor's intercept: var_g / (Σ intercept variances + residual variance).

        Residual variance: σ² (gaussian), π²/3 (binomial, latent scale), log(1 + 1/exp(β₀)) (poisson, lognormal approximation).
        """
        variances = {}
        for t in self.layout.terms:
            if "(Intercept)" in t.columns:
                variances[t.group] = self._flat(sd_name(t.group, "(Intercept)")) ** 2
        if self.design.family == "gaussian":
            residual = self.sigma_draws ** 2
        elif self.design.family == "binomial":
            residual = np.full(self.n_chains * self.n_draws, np.pi ** 2 / 3)
        else:
            intercept = self._flat("(Intercept)") if "(Intercept)" in self.draws else 0.0
            residual = np.log1p(np.exp(-intercept))
        total = sum(variances.values()) + residual
        rows = [(g, *np.quantile(v / total, [0.5, 0.025, 0.975])) for g, v in variances.items()]
        return pd.DataFrame(rows, columns=["group", "median", "2.5%", "97.5%"]).set_index("group")

    def _eta_on_fitted_rows(self):
        per_term = [(t.codes, t.matrix) for t in self.design.terms]
        return eta_chunks(self.beta_draws, self.ranef_samples, self.design.X, self.design.offset, per_term)

    def fitted(self, re: bool = True) -> pd.Series:
        """Posterior means of the expected response (binomial: probability) per observation, conditional on the
        random effects (re=True) or population-level (re=False, γ = 0), as the frequentist fits' fitted()."""
        re = bool(re)
        if re not in self._fitted_means:
            design = self.design
            gammas, per_term = (self.ranef_samples, [(t.codes, t.matrix) for t in design.terms]) if re else ([], [])
            total = np.zeros(design.n)
            for _, eta in eta_chunks(self.beta_draws, gammas, design.X, design.offset, per_term):
                total += inverse_link(design.family, eta).sum(axis=0)
            self._fitted_means[re] = total / (self.n_chains * self.n_draws)
        return pd.Series(self._fitted_means[re], index=self.design.row_index)

    def residuals(self, kind: str = "response", re: bool = True) -> pd.Series:
        """y − fitted(re) ("response"; binomial: observed proportion), or that divided by the sd of y at the
        fitted mean ("pearson": σ's posterior median, √(p(1−p)/trials), √μ), as the frequentist fits' residuals()."""
        if kind not in RESIDUAL_KINDS:
            raise BayesmixedError(f"unknown residual kind {kind!r} for a Bayesian fit; choose one of {', '.join(RESIDUAL_KINDS)}")
        design = self.design
        fitted = self.fitted(re).to_numpy()
        values = (design.y / design.trials if design.family == "binomial" else design.y) - fitted
        if kind == "pearson":
            if design.family == "gaussian":
                values = values / self.sigma
            elif design.family == "binomial":
                values = values / np.sqrt(fitted * (1 - fitted) / design.trials)
            else:
                values = values / np.sqrt(fitted)
        return pd.Series(values, index=design.row_index)

    def predict(self, newdata: pd.DataFrame | None = None, *, allow_new_levels: bool = True, re: bool = True,
                scale: str = "response", summary: bool = True, seed: int | None = None) -> pd.DataFrame | np.ndarray:
        """Posterior predictions of the mean (scale "response" or "link"); unseen levels get γ drawn from N(0, Σ_g).

        summary=False returns the (S, rows) draws; otherwise a DataFrame of mean, sd, 2.5% and 97.5%.
        """
        from ...design.random import group_labels

        if scale not in ("response", "link"):
            raise DataError(f"scale must be 'response' or 'link', got {scale!r}")
        if newdata is None:
            X, offset = self.design.X, self.design.offset
            per_term = [(t.codes, t.matrix) for t in self.design.terms]
            gammas = list(self.ranef_samples)
        else:
            X, per_term = self.design.new_data_matrices(newdata)
            offset = self.design.new_offset(newdata)
            gammas, rng = [], generator(self.seed if seed is None else seed, PREDICT)
            new_codes = []
            for term, (codes, matrix) in zip(self.design.terms, per_term):
                unseen = np.flatnonzero(codes < 0)
                labels = group_labels(newdata.iloc[unseen], term.group_factors) if unseen.size else np.array([], dtype=object)
                if unseen.size and not allow_new_levels:  # the frequentist fits' error, with this fit's remedy
                    distinct = list(dict.fromkeys(str(label) for label in labels))
                    shown = ", ".join(repr(label) for label in distinct[:5]) + (", ..." if len(distinct) > 5 else "")
                    raise NewLevelError(f"newdata has level{'s' if len(distinct) > 1 else ''} {shown} of grouping factor "
                                        f"{term.group!r} not seen in the fit; pass allow_new_levels=True to draw their "
                                        "effects from the population distribution")
                distinct, index = np.unique(labels.astype(str), return_inverse=True) if unseen.size else (np.array([]), np.array([], dtype=int))
                codes = codes.copy()
                codes[unseen] = term.n_levels + index
                new_codes.append((codes, matrix, distinct))
            extra = new_level_effects(self.layout, self.unconstrained, [d for _, _, d in new_codes], rng)
            for gamma, extra_gamma in zip(self.ranef_samples, extra):
                gammas.append(np.concatenate([gamma, extra_gamma], axis=1))
            per_term = [(codes, matrix) for codes, matrix, _ in new_codes]
        if not re:
            gammas = [np.zeros_like(g) for g in gammas]
        draws = np.empty((self.n_chains * self.n_draws, X.shape[0]))
        for start, eta in eta_chunks(self.beta_draws, gammas, np.asarray(X, dtype=float), offset, per_term):
            draws[start:start + eta.shape[0]] = inverse_link(self.design.family, eta) if scale == "response" else eta
        if not summary:
            return draws
        q = np.quantile(draws, [0.025, 0.975], axis=0)
        index = newdata.index if newdata is not None else self.design.row_index
        return pd.DataFrame({"mean": draws.mean(axis=0), "sd": draws.std(axis=0, ddof=1), "2.5%": q[0], "97.5%": q[1]}, index=index)

    # ---- likelihood and predictive draws
    def log_likelihood(self, kind: str | None = None) -> np.ndarray:
        """Pointwise log-likelihood (S, units): kind "group" (marginal route only: log p(y_i | β, σ, Σ), for
        leave-one-group-out) or "observation" (log p(y_n | β, γ, σ)); default group on the marginal route."""
        kind = kind or ("group" if self.layout.route == MARGINAL else "observation")
        if kind == "group":
            if self.layout.route != MARGINAL:
                raise DataError("group-level marginal log-likelihoods exist on the marginal route only; use kind='observation'")
            from .conditional import add_group_residual_sums, marginal_group_loglik

            flat = np.ascontiguousarray(self.unconstrained.reshape(-1, self.unconstrained.shape[-1]))
            G = self.layout.terms[0].n_levels
            loglik = np.empty((flat.shape[0], G))
            marginal_group_loglik(flat, self.packed_model, loglik)
            return add_group_residual_sums(loglik, self.beta_draws, self.sigma_draws, self.design.X,
                                           self.design.y - self.design.offset, self.design.terms[0].codes, G)
        if kind != "observation":
            raise DataError(f"kind must be 'group' or 'observation', got {kind!r}")
        out = np.empty((self.n_chains * self.n_draws, self.design.n))
        sigma = self.sigma_draws
        for start, eta in self._eta_on_fitted_rows():
            stop = start + eta.shape[0]
            out[start:stop] = pointwise_loglik(self.design.family, eta, self.design.y, self.design.trials,
                                               sigma[start:stop] if sigma is not None else None)
        return out

    def predictive_draws(self, seed: int | None = None) -> np.ndarray:
        """Simulated responses (S, n) at the fitted rows: posterior (or prior) predictive."""
        rng = generator(self.seed if seed is None else seed, PREDICTIVE)
        out = np.empty((self.n_chains * self.n_draws, self.design.n))
        sigma = self.sigma_draws
        for start, eta in self._eta_on_fitted_rows():
            stop = start + eta.shape[0]
            out[start:stop] = draw_response(self.design.family, eta, self.design.trials,
                                            sigma[start:stop] if sigma is not None else None, rng)
        return out

    @cached_property
    def idata(self) -> az.InferenceData:
        """ArviZ InferenceData: posterior (or prior), sample_stats, log_likelihood, observed_data; see with_predictive()."""
        from .inference_data import to_inference_data

        return to_inference_data(self, predictive=self.is_prior)

    def with_predictive(self, seed: int | None = None) -> az.InferenceData:
        """idata with the posterior predictive (prior predictive for a prior fit) added."""
        from .inference_data import add_predictive

        return add_predictive(self, self.idata, seed)

    @cached_property
    def pymc_model(self):
        """The same model as a PyMC model (full non-centred route), for users and PyMC's own tools."""
        from .pymc_model import build_pymc_model

        return build_pymc_model(self.design, self.priors)

    # ---- reports
    def diagnose(self) -> Diagnosis | None:
        """R-hat, bulk/tail ESS, divergences, E-BFMI and tree depth, with what to do about each failure."""
        return self.diagnosis

    def summary(self) -> str:
        """The printed report: model, route, sampler and timing, posterior table with R-hat/ESS, diagnostics."""
        from .report import summary_text

        return summary_text(self)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (f"<BayesFit {self.design.formula!r} ({self.design.family}), {self.n_chains} chains x {self.n_draws} draws, "
                f"{self.route} route, {self.sampler} sampler>")


def _interval_table(draws: dict[str, np.ndarray]) -> pd.DataFrame:
    rows = []
    for name, x in draws.items():
        q = np.quantile(x, [0.5, 0.025, 0.975])
        rows.append((name, q[0], float(np.std(x, ddof=1)), q[1], q[2]))
    return pd.DataFrame(rows, columns=["parameter", "median", "sd", "2.5%", "97.5%"]).set_index("parameter")

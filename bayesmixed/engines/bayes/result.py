"""BayesFit: the shared fit contract (results.contract) from posterior draws, and what only draws give.

The fit is made of three parts: its draws (posterior.PosteriorDraws), predictions from them (prediction.py)
and its report (report.py, diagnostics.py, inference_data.py); this class puts them behind the contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ...errors import BayesmixedError, DataError
from ...results.contract import check_residual_kind
from ...families import get_family
from ...results.icc import icc_frame, icc_scale, intercept_variances
from ...results.prediction import check_prediction_options, interval_frame, interval_note, prediction_rows
from .diagnostics import Diagnosis, diagnose, parameter_table, warn_if_problems
from .layout import MARGINAL, ROUTE_NAMES, ParameterLayout, is_marginal, make_layout, marginal_supported, pack_model
from .posterior import PosteriorDraws, draw_response, unit_deviance
from .prediction import LINKS, mean_draws, observation_loglik, response_draws
from .prior import PriorSet
from .seeds import PREDICT, PREDICTIVE, generator

if TYPE_CHECKING:
    import arviz as az

    from ...design.types import Design
    from ...results.r2 import R2

NEW_LEVEL_REMEDY = "draw their effects from the population distribution N(0, Σ)"
CONFINT_METHODS = ("quantile",)


class BayesFit:
    """Posterior draws of a mixed model with the shared fit surface; point values are posterior medians
    (fixef, sigma, varcorr) or means (ranef, fitted, predict).

    `idata` (ArviZ InferenceData) and `pymc_model` are built on first access.
    """

    is_bayes = True

    def __init__(self, design: Design, priors: PriorSet, layout: ParameterLayout, unconstrained: np.ndarray,
                 stats: np.ndarray | None, *, sampler: str, seed: int | None, max_depth: int, timings: dict[str, float],
                 is_prior: bool = False, warn: bool = True, model: tuple | None = None,
                 ranef: list[np.ndarray] | None = None, diverged_runs: tuple[tuple[float, int], ...] = ()):
        self.design = design
        self.priors = priors
        self.layout = layout
        self.posterior = PosteriorDraws(design, layout, priors, unconstrained, seed, model, ranef)
        self.sample_stats = stats  # (chains, draws, N_STATS), columns sample_stats.STAT_COLUMNS; None for prior draws
        self.sampler = sampler
        self.seed = seed
        self.max_depth = max_depth
        self.timings = timings
        self.diverged_runs = diverged_runs  # (target_accept, divergences) of the runs sampled again at a higher one
        self.is_prior = is_prior
        self._fitted_means: dict[tuple[bool, str], np.ndarray] = {}
        self.parameters = parameter_table(self.draws) if not is_prior else _interval_table(self.draws)
        self.diagnosis: Diagnosis | None = None
        if stats is not None:
            self.diagnosis = diagnose(self.parameters, stats, max_depth, timings.get("target_accept"))
            if warn:
                warn_if_problems(self.diagnosis)

    # ---- the draws
    @property
    def unconstrained(self) -> np.ndarray:
        """(chains, draws, D) draws in the sampler's unconstrained layout."""
        return self.posterior.unconstrained

    @property
    def draws(self) -> dict[str, np.ndarray]:
        """{parameter name as summary() prints it: (chains, draws)}."""
        return self.posterior.named

    @property
    def n_chains(self) -> int:
        return self.posterior.n_chains

    @property
    def n_draws(self) -> int:
        return self.posterior.n_draws

    @property
    def route(self) -> str:
        return ROUTE_NAMES[self.layout.route]

    @property
    def beta_draws(self) -> np.ndarray:
        """(S, p) fixed-effect draws."""
        return self.posterior.beta

    @property
    def sigma_draws(self) -> np.ndarray | None:
        return self.posterior.sigma

    @property
    def packed_model(self) -> tuple:
        """The kernel's packed model (layout.pack_model): the sampler's own, or packed here on first use."""
        return self.posterior.packed_model

    @property
    def ranef_samples(self) -> list[np.ndarray]:
        """Per term γ draws (S, levels, k), seeded from the fit's seed."""
        return self.posterior.ranef

    # ---- the shared surface
    @property
    def kind(self) -> str:
        """"bayes" (posterior draws) or "prior" (prior draws)."""
        return "prior" if self.is_prior else "bayes"

    @property
    def messages(self) -> tuple[str, ...]:
        """The sampler diagnostics' failures, each with what to do (empty when all checks passed)."""
        return self.diagnosis.problems if self.diagnosis is not None else ()

    @property
    def fixef(self) -> pd.Series:
        """Posterior medians of β."""
        return self.parameters.loc[list(self.design.fixef_names), "median"].rename("fixef")

    @property
    def se(self) -> pd.Series:
        """Posterior standard deviations of β."""
        return self.parameters.loc[list(self.design.fixef_names), "sd"].rename("se")

    @property
    def vcov(self) -> pd.DataFrame:
        """Posterior covariance of β."""
        names = list(self.design.fixef_names)
        matrix = np.atleast_2d(np.cov(self.beta_draws, rowvar=False)) if names else np.zeros((0, 0))
        return pd.DataFrame(matrix, index=names, columns=names)

    @property
    def sigma(self) -> float:
        """Posterior median of the residual sd (1.0 for binomial and poisson, as lme4's sigma())."""
        return float(np.median(self.sigma_draws)) if self.sigma_draws is not None else 1.0

    @property
    def dispersion(self) -> float | None:
        """Posterior median of the negative binomial's size θ (var = μ + μ²/θ; its draws are the `theta` column of
        the parameters and idata); None for families without one, as GlmmFit.dispersion."""
        return float(np.median(self.posterior.dispersion)) if self.design.family == "negbin" else None

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
            sd = np.median(self.posterior.sds(t), axis=0)
            R = np.median(self.posterior.correlations(t), axis=0) if t.correlated else np.eye(t.k)
            covariances.append(R * np.outer(sd, sd))
        residual = self.sigma if self.design.family == "gaussian" else None
        return varcorr_frame(self.design.terms, covariances, residual)

    def icc(self) -> pd.DataFrame:
        """Intra-class correlation per random-intercept grouping factor (results.icc), computed draw by draw:
        posterior median in `icc` and its 95% credible interval."""
        family = self.design.family
        labels, variances = intercept_variances(self.design.terms, self.posterior.covariances())
        # negative binomial: σ²_d = log(1 + 1/λ + 1/θ) at θ's posterior median
        residual = get_family(family, LINKS[family], self.dispersion).distribution_variance(self.sigma_draws,
                                                                                             lambda: self.null_model_mean)
        return icc_frame(labels, variances, residual, icc_scale(family))

    @cached_property
    def null_model_mean(self) -> float:
        """λ of the intercept-only model with the same random effects, fitted by ML (Laplace): the mean in R²'s
        distribution-specific variance for count families (insight's null_model, also for Bayesian fits)."""
        from ..glmm.fit import fit_glmm

        null = fit_glmm(self.design.intercept_only(), link=LINKS[self.design.family], check_derivatives=False)
        return float(null.inverse_link(null.beta[0]))

    def r2(self, level: float = 0.95) -> R2:
        """Marginal and conditional R² of Nakagawa & Schielzeth (results.r2), draw by draw: posterior median
        and equal-tailed interval."""
        from ...results.r2 import r2

        return r2(self, level)

    def _observed(self) -> np.ndarray:
        design = self.design
        return design.y / design.trials if design.family == "binomial" else design.y

    def fitted(self, re: bool = True, scale: str = "response") -> pd.Series:
        """Posterior means of the expected response (binomial: probability; scale="link": η) per observation,
        conditional on the random effects (re=True) or population-level (re=False, γ = 0)."""
        check_prediction_options(scale, None, 0.5)
        key = (bool(re), scale)
        if key not in self._fitted_means:
            rows = prediction_rows(self.design, None, bool(re), False, NEW_LEVEL_REMEDY)
            self._fitted_means[key] = mean_draws(self.posterior, rows, scale, generator(self.seed, PREDICT)).mean(axis=0)
        return pd.Series(self._fitted_means[key], index=self.design.row_index)

    def residuals(self, kind: str = "deviance", re: bool = True) -> pd.Series:
        """y − fitted(re) ("response"; binomial: observed proportion), that over the sd of y at the fitted mean
        ("pearson": σ's posterior median, √(p(1−p)/trials), √μ, √(μ + μ²/θ)), or sign(y − μ)·√(unit deviance) at the
        fitted mean ("deviance"; "response" for Gaussian models), as the frequentist fits' residuals()."""
        check_residual_kind(kind)
        design = self.design
        mu = self.fitted(re).to_numpy()
        y = self._observed()
        values = y - mu
        if kind == "pearson":
            if design.family == "gaussian":
                values = values / self.sigma
            elif design.family == "binomial":
                values = values / np.sqrt(mu * (1 - mu) / design.trials)
            elif design.family == "negbin":
                values = values / np.sqrt(mu + mu**2 / self.dispersion)
            else:
                values = values / np.sqrt(mu)
        elif kind == "deviance" and design.family != "gaussian":
            values = np.sign(values) * np.sqrt(np.clip(unit_deviance(design.family, y, mu, design.trials), 0, None))
        return pd.Series(values, index=design.row_index)

    def predict_draws(self, newdata: pd.DataFrame | None = None, re: bool = True, allow_new_levels: bool = False,
                      scale: str = "response", predictive: bool = False, seed: int | None = None) -> np.ndarray:
        """(S, rows) posterior draws of the mean (scale "response" or "link") or, with predictive, of a new
        response (binomial: proportion of the rows' trials, 1 trial for new data); a new level's γ is drawn from
        N(0, Σ) for each draw, seeded by `seed` (default: the fit's)."""
        check_prediction_options(scale, None, 0.5)
        rows = prediction_rows(self.design, newdata, re, allow_new_levels, NEW_LEVEL_REMEDY)
        rng = generator(self.seed if seed is None else seed, PREDICT)
        if predictive:
            if scale == "link" and self.design.family != "gaussian":
                raise BayesmixedError("predictive draws are new responses, on the response scale; use scale='response'")
            return response_draws(self.posterior, rows, rng, as_proportion=True)
        return mean_draws(self.posterior, rows, scale, rng)

    def predict(self, newdata: pd.DataFrame | None = None, re: bool = True, allow_new_levels: bool = False,
                scale: str = "response", interval: str | None = None, level: float = 0.95,
                seed: int | None = None) -> pd.Series | pd.DataFrame:
        """Posterior mean predictions (a Series), or with interval="confidence" (credible interval of the mean)
        or "prediction" (posterior predictive interval of a new observation) a DataFrame fit / lower / upper;
        new levels as in predict_draws."""
        check_prediction_options(scale, interval, level)
        draws = self.predict_draws(newdata, re, allow_new_levels, scale, seed=seed)
        index = self.design.row_index if newdata is None else newdata.index
        point = draws.mean(axis=0)
        if interval is None:
            return pd.Series(point, index=index)
        if interval == "prediction":
            draws = self.predict_draws(newdata, re, allow_new_levels, scale, predictive=True, seed=seed)
        source = ("posterior predictive draws" if interval == "prediction" else "posterior draws of the mean")
        note = interval_note(interval, level, scale, f"equal-tailed quantiles of {draws.shape[0]} {source}")
        return interval_frame(point, draws, level, index, note)

    def simulate(self, n: int = 1, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """(n, nobs) posterior predictive data sets in the design's form (binomial: successes), each from a
        posterior draw picked at random."""
        rng = seed if isinstance(seed, np.random.Generator) else generator(self.seed if seed is None else seed,
                                                                            PREDICTIVE, 1)
        picks = rng.choice(self.posterior.size, size=n, replace=n > self.posterior.size)
        design = self.design
        rows = prediction_rows(design, None, True, False, NEW_LEVEL_REMEDY)
        eta = self.beta_draws[picks] @ design.X.T + design.offset
        for gamma, (codes, matrix) in zip(self.ranef_samples, rows.per_term):
            eta += np.einsum("snk,nk->sn", gamma[picks][:, codes, :], matrix)
        dispersion = self.posterior.dispersion[picks] if self.posterior.dispersion is not None else None
        return draw_response(design.family, eta, rows.trials, dispersion, rng, rows.weights)

    def confint(self, parm: str | Sequence[str] | None = None, level: float = 0.95, method: str | None = None,
                **options) -> pd.DataFrame:
        """Equal-tailed posterior intervals (method "quantile", the default) of β ("beta_"), the sds, correlations
        and σ ("theta_"), or the named parameters, in lme4's column names."""
        if options:
            raise BayesmixedError(f"unknown option(s) for a Bayesian fit's confint: {', '.join(sorted(options))}")
        if (method or "quantile") not in CONFINT_METHODS:
            raise BayesmixedError(f"unknown method {method!r} for a Bayesian fit; choose 'quantile' (equal-tailed)")
        if not 0 < level < 1:
            raise BayesmixedError(f"level must be between 0 and 1; got {level}")
        fixed = list(self.design.fixef_names)
        variance = [name for name in self.draws if name not in fixed]
        if parm is None:
            names = variance + fixed
        elif parm in ("beta_", "theta_"):
            names = fixed if parm == "beta_" else variance
        else:
            names = [parm] if isinstance(parm, str) else list(parm)
            unknown = [name for name in names if name not in self.draws]
            if unknown:
                raise BayesmixedError(f"unknown parameter(s) {', '.join(map(repr, unknown))}; the fit's are "
                                      f"{', '.join(variance + fixed)}")
        tail = (1 - level) / 2
        bounds = np.array([np.quantile(self.draws[name], [tail, 1 - tail]) for name in names]).reshape(-1, 2)
        return pd.DataFrame(bounds, index=names, columns=[f"{100 * tail:.3g} %", f"{100 * (1 - tail):.3g} %"])

    # ---- likelihood and predictive draws
    @property
    def has_group_loglik(self) -> bool:
        """Whether leave-one-group-out log-likelihoods exist: a marginal route on one grouping factor, unweighted."""
        return is_marginal(self.layout.route) and marginal_supported(self.design)

    def log_likelihood(self, kind: str | None = None) -> np.ndarray:
        """Pointwise log-likelihood (S, units): kind "group" (marginal routes on one grouping factor:
        log p(y_i | β, σ, Σ), for leave-one-group-out) or "observation" (log p(y_n | β, γ, σ)); default group
        where it exists."""
        kind = kind or ("group" if self.has_group_loglik else "observation")
        if kind == "group":
            if not self.has_group_loglik:
                raise DataError("group-level marginal log-likelihoods need a marginal route on one grouping factor "
                                "without weights; use kind='observation'")
            from .conditional import add_group_residual_sums, marginal_group_loglik

            # the joint route's draws share the per-group route's positions (β, σ, sds): evaluate them per group
            model = (self.packed_model if self.layout.route == MARGINAL else
                     pack_model(self.design, make_layout(self.design, MARGINAL), self.priors))
            flat = np.ascontiguousarray(self.posterior.flat)
            G = self.layout.terms[0].n_levels
            loglik = np.empty((flat.shape[0], G))
            marginal_group_loglik(flat, model, loglik)
            return add_group_residual_sums(loglik, self.beta_draws, self.sigma_draws, self.design.X,
                                           self.design.y - self.design.offset, self.design.terms[0].codes, G)
        if kind != "observation":
            raise DataError(f"kind must be 'group' or 'observation', got {kind!r}")
        rows = prediction_rows(self.design, None, True, False, NEW_LEVEL_REMEDY)
        return observation_loglik(self.posterior, rows, self.design.y, generator(self.seed, PREDICT))

    def predictive_draws(self, seed: int | None = None) -> np.ndarray:
        """Simulated responses (S, n) at the fitted rows in the design's form: posterior (or prior) predictive."""
        rows = prediction_rows(self.design, None, True, False, NEW_LEVEL_REMEDY)
        return response_draws(self.posterior, rows, generator(self.seed if seed is None else seed, PREDICTIVE),
                              as_proportion=False)

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

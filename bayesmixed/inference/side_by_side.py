"""One table of the same model fitted by ML, REML and Bayes, for teaching: estimates with their intervals.

Rows: fixed effects, the sd and correlation of each random term, σ, the ICC of each random intercept,
marginal and conditional R² (results.r2), then log-likelihood and AIC where defined.  ML/REML intervals:
Wald for β, profile likelihood (or bootstrap) for the variance parameters; Bayes: equal-tailed credible
intervals with the posterior median.  A bambi fit's InferenceData can stand beside them (inference.bambi).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..design.types import Design
from ..engines.bayes.prior import correlation_name, sd_name
from ..errors import BayesmixedError
from ..families import get_family
from ..results.r2 import components as r2_components
from ..results.r2 import r2
from ..results.table import Cell, Document, Rendered, Section, Table
from .bambi import BambiPosterior, adopt_bambi
from .confint import bootstrap_parameters, confint
from .fits import is_bayesian, is_reml
from .parameters import sdcor_from_theta, sdcor_names, theta_from_sdcor

INTERVALS = ("profile", "boot", "wald")
R2_ROWS = ("R2_marginal", "R2_conditional")
VALUE_COLUMNS = ["estimate", "lower", "upper"]


def _rows(design: Design) -> tuple[list[str], list[str], list[str]]:
    """(fixed-effect rows, sd/cor/σ rows, ICC rows) of the table."""
    has_sigma = get_family(design.family).has_residual_sd
    variance = sdcor_names(design, old_names=False)
    variance = variance if has_sigma else variance[:-1]
    icc = [f"icc_{term.group}" for term in _intercept_terms(design)] if has_sigma else []
    return list(design.fixef_names), variance, icc


def _intercept_terms(design: Design) -> list:
    return [term for term in design.terms if "(Intercept)" in term.columns]


def icc_from_sdcor(design: Design, sdcor: np.ndarray) -> np.ndarray:
    """σ²_g / (Σ intercept variances + σ²) per random intercept, from sd/cor/σ vectors (..., n_theta + 1)."""
    variances = []
    for term, theta_slice in zip(design.terms, design.theta_slices):
        if "(Intercept)" in term.columns:
            rows, cols = term.theta_pattern()
            position = theta_slice.start + int(np.flatnonzero((rows == cols) & (rows == term.columns.index("(Intercept)")))[0])
            variances.append(sdcor[..., position] ** 2)
    total = sum(variances) + sdcor[..., -1] ** 2
    return np.stack([v / total for v in variances], axis=-1) if variances else np.zeros(sdcor.shape[:-1] + (0,))


def _frequentist_column(label: str, fit: Any, intervals: str, level: float, n_boot: int,
                        seed: int | None) -> tuple[pd.DataFrame, list[str]]:
    design = fit.design
    fixed, variance, icc_rows = _rows(design)
    # GLMMs have no σ: Λ(θ) is the random effects' Cholesky factor itself
    sdcor = sdcor_from_theta(design, fit.theta, fit.sigma if get_family(design.family).has_residual_sd else 1.0)
    estimates = list(np.asarray(fit.fixef, dtype=float)) + list(sdcor[:len(variance)])
    estimates += list(icc_from_sdcor(design, sdcor)) if icc_rows else []
    r2_rows = _r2_rows(design)
    estimates += list(r2(fit).estimate[:2]) if r2_rows else []
    frame = pd.DataFrame(np.nan, index=fixed + variance + icc_rows + r2_rows, columns=VALUE_COLUMNS)
    frame["estimate"] = estimates
    notes = []
    wald = confint(fit, parm="beta_", level=level, method="wald")
    frame.loc[fixed, ["lower", "upper"]] = wald.to_numpy()
    if intervals == "profile":
        profile = confint(fit, parm="theta_", level=level, method="profile", old_names=False)
        frame.loc[variance, ["lower", "upper"]] = profile.to_numpy()
        notes.extend(f"{label}: {note}" for note in profile.notes)
    elif intervals == "boot":
        draws, boot_notes = bootstrap_parameters(fit, n_boot, seed, n_jobs=1, progress=False)
        tail = (1 - level) / 2
        quantiles = np.quantile(draws[:, :len(variance)], [tail, 1 - tail], axis=0).T
        frame.loc[variance, ["lower", "upper"]] = quantiles
        if icc_rows:
            frame.loc[icc_rows, ["lower", "upper"]] = np.quantile(
                icc_from_sdcor(design, draws[:, :len(variance)]), [tail, 1 - tail], axis=0).T
        if r2_rows:
            frame.loc[r2_rows, ["lower", "upper"]] = np.quantile(_bootstrap_r2(design, draws), [tail, 1 - tail], axis=0).T
        notes.extend(f"{label}: {note}" for note in boot_notes)
    extra = pd.DataFrame({"estimate": [fit.loglik, fit.aic], "lower": np.nan, "upper": np.nan},
                         index=["logLik (REML)", "AIC (REML)"] if is_reml(fit) else ["logLik", "AIC"])
    return pd.concat([frame, extra]), notes


def _bayes_draw_names(design: Design) -> list[str]:
    """The Bayesian fit's draw names for the rows sd_…, cor_…, sigma (in sdcor_names order)."""
    names = []
    for term in design.terms:
        for r, c in zip(*term.theta_pattern()):
            if r == c:
                names.append(sd_name(term.group, term.columns[r]))
            else:
                names.append(correlation_name(term.group, term.columns[c], term.columns[r]))
    return names + ["sigma"]


def _bayes_column(fit: Any, level: float) -> pd.DataFrame:
    design = fit.design
    fixed, variance, icc_rows = _rows(design)
    draw_names = list(design.fixef_names) + _bayes_draw_names(design)[:len(variance)]
    size = fit.n_chains * fit.n_draws
    # a name without draws (bambi does not estimate correlations) gives NaN, shown as "-"
    draws = np.stack([np.asarray(fit.draws[name]).reshape(-1) if name in fit.draws else np.full(size, np.nan)
                      for name in draw_names], axis=1)  # (S, rows)
    if icc_rows:
        draws = np.concatenate([draws, icc_from_sdcor(design, np.nan_to_num(draws[:, len(fixed):]))], axis=1)
    r2_rows = _r2_rows(design)
    if r2_rows:
        draws = np.concatenate([draws, r2(fit, level).draws[:, :2]], axis=1)
    tail = (1 - level) / 2
    summary = np.stack([np.median(draws, axis=0), *np.quantile(draws, [tail, 1 - tail], axis=0)], axis=1)
    return pd.DataFrame(summary, index=fixed + variance + icc_rows + r2_rows, columns=VALUE_COLUMNS)


def _r2_rows(design: Design) -> list[str]:
    """The R² rows where Nakagawa & Schielzeth's R² is defined for the family (results.r2)."""
    return list(R2_ROWS) if design.terms and get_family(design.family).has_distribution_variance else []


def _bootstrap_r2(design: Design, draws: np.ndarray) -> np.ndarray:
    """(replicates, 2) R²_m, R²_c of parametric-bootstrap draws [sd/cor..., σ, β...] (Gaussian fits)."""
    n_variance = design.n_theta + 1
    out = np.empty((draws.shape[0], 2))
    for i, row in enumerate(draws):
        sigma = row[n_variance - 1]
        blocks = design.lambda_blocks(theta_from_sdcor(design, row[:n_variance]))
        covariances = [sigma**2 * block @ block.T for block in blocks]
        out[i] = r2_components(design, row[n_variance:], covariances, sigma**2)[:2]
    return out


SECTION_LABELS = {"fixed": "Fixed effects", "variance": "Random effects and residual (sd, cor, sigma)",
                  "icc": "Intra-class correlation", "r2": "R² (Nakagawa & Schielzeth)", "fit": "Fit"}


@dataclass(frozen=True, repr=False)
class SideBySide(Rendered):
    """The comparison table: `to_frame()` gives (rows x (fit, estimate/lower/upper)); print() shows it compactly,
    to_html/to_markdown/to_latex the same cells; `sections` names the kind of each row (fixed, variance, ...)."""

    frame: pd.DataFrame
    notes: tuple[str, ...]
    level: float
    sections: tuple[Section, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    def document(self) -> Document:
        labels = list(dict.fromkeys(self.frame.columns.get_level_values(0)))
        rows = tuple(
            (Cell(str(name)), *(_cell(*self.frame.loc[name, label][VALUE_COLUMNS].to_numpy(dtype=float))
                                for label in labels))
            for name in self.frame.index
        )
        table = Table(("", *labels), rows, sections=self.sections, name="side-by-side")
        return Document(title=(f"estimates with {100 * self.level:g}% intervals",), blocks=(table,),
                        notes=self.notes, name="side-by-side")


def _cell(estimate: float, lower: float, upper: float) -> Cell:
    if not np.isfinite(estimate):
        return Cell("-")
    if not (np.isfinite(lower) and np.isfinite(upper)):
        return Cell(f"{estimate:.4g}", estimate)
    return Cell(f"{estimate:.4g} [{lower:.4g}, {upper:.4g}]", estimate, lower, upper)


def _sections(index: list[str], design: Design) -> tuple[Section, ...]:
    """Row groups in table order: fixed effects, variance parameters, ICC, R², fit criteria."""
    fixed, variance, icc = _rows(design)
    kinds = {**dict.fromkeys(fixed, "fixed"), **dict.fromkeys(variance, "variance"), **dict.fromkeys(icc, "icc"),
             **dict.fromkeys(R2_ROWS, "r2")}
    sections, previous = [], None
    for position, name in enumerate(index):
        kind = kinds.get(name, "fit")
        if kind != previous:
            sections.append(Section(SECTION_LABELS[kind], position))
            previous = kind
    return tuple(sections)


def side_by_side(level: float = 0.95, intervals: str = "profile", n_boot: int = 500, seed: int | None = None,
                 **fits: Any) -> SideBySide:
    """The same model fitted several ways, one column each: side_by_side(ml=m_ml, reml=m_reml, bayes=m_bayes).

    ML/REML: estimates with Wald intervals for β and, for the variance parameters, profile-likelihood
    (intervals="profile"), parametric-bootstrap ("boot", which also gives the ICC's) or none ("wald").
    Bayes: posterior medians with equal-tailed credible intervals.  logLik and AIC where defined.
    A fitted bambi model's InferenceData may be one of the fits (side_by_side(reml=m, bambi=idata)): its
    draws are read under bayesmixed's names, on the design of the first bayesmixed fit.
    """
    if not fits:
        raise BayesmixedError("side_by_side takes fits by keyword, e.g. side_by_side(ml=m1, reml=m2, bayes=m3)")
    if intervals not in INTERVALS:
        raise BayesmixedError(f"unknown intervals {intervals!r}; choose one of {', '.join(INTERVALS)}")
    fits = adopt_bambi(fits, "side_by_side")
    designs = [fit.design for fit in fits.values()]
    first = designs[0]
    for label, design in zip(fits, designs):
        if design.fixef_names != first.fixef_names or design.theta_names != first.theta_names or design.n != first.n:
            raise BayesmixedError(f"side_by_side shows one model fitted several ways; {label!r} is {design.formula!r}, "
                                  f"not {first.formula!r}")
    columns, notes = {}, []
    for label, fit in fits.items():
        if is_bayesian(fit):
            columns[label] = _bayes_column(fit, level)
            notes.append(f"{label}: posterior median, equal-tailed {100 * level:g}% credible intervals")
            if isinstance(fit, BambiPosterior):
                notes.append(f"{label}: bambi's posterior (bambi's priors); its group-specific effects are "
                             "independent, so correlations are not estimated ('-') and the ICC and R² use zero")
        else:
            columns[label], fit_notes = _frequentist_column(label, fit, intervals, level, n_boot, seed)
            notes.append(f"{label}: {'REML' if is_reml(fit) else 'ML'} estimates; Wald intervals for fixed effects, "
                         + {"profile": "profile likelihood", "boot": "parametric bootstrap",
                            "wald": "none"}[intervals] + " for the variance parameters")
            notes.extend(fit_notes)
    if _r2_rows(first):
        notes.append("R²: Nakagawa & Schielzeth's marginal (fixed effects) and conditional (fixed and random "
                     "effects) variance shares, random slopes included (Nakagawa et al. 2017), per fit from its "
                     "estimates or draw by draw; intervals from the bootstrap (ML/REML) or the posterior")
    frame = pd.concat(columns, axis=1)
    order = list(dict.fromkeys(index for column in columns.values() for index in column.index))
    return SideBySide(frame.reindex(order), tuple(dict.fromkeys(notes)), level, _sections(order, first))

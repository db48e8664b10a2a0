"""Tests of fixed-effect terms in one fit: lmerTest's anova(fit) F-tables and car::Anova's Wald χ².

Linear mixed models: for each term, H0: L_T β = 0 with L_T from `hypotheses` (type III by default, as
lmerTest), F = (L β̂)'(L V L')⁻¹(L β̂)/q with q = rank(L), and a denominator df by

- Satterthwaite (lmerTest's contestMD): V = vcov(β̂); L V L' = P D P' is split into q independent
  directions, each with its t² and Satterthwaite df ν_m; the F's df is 2E/(E − q), E = Σ ν_m/(ν_m − 2).
- Kenward-Roger (pbkrtest's KRmodcomp, REML fits only): V = the adjusted covariance, F scaled.

Sum Sq = q · Mean Sq and Mean Sq = F σ² (unscaled F for Kenward-Roger), as lmerTest prints them.

Generalised linear mixed models: Wald χ² = (L β̂)'(L V L')⁻¹(L β̂) on q df (car::Anova's type II and
type III; type III here uses the coding-free hypotheses, which car's type III gives under sum-to-zero
contrasts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import BayesmixedError
from ..families import get_family
from ..results.render import SIGNIF_LEGEND, format_column, format_p_value, significance_stars
from ..results.table import Cell, Document, Lines, Rendered, Table
from .fits import is_bayesian, require_frequentist
from .hypotheses import TermStructure, contrasts, empty_cells, term_structure, wald_type2

TYPES = {"I": "I", "II": "II", "III": "III", "1": "I", "2": "II", "3": "III"}
DDF_METHODS = {"satterthwaite": "Satterthwaite", "kenward-roger": "Kenward-Roger", "kr": "Kenward-Roger"}
F_COLUMNS = ["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"]
WALD_COLUMNS = ["Chisq", "Df", "Pr(>Chisq)"]
# lmerTest: eigenvalues of L V L' below √ε times the largest are directions the contrast does not test.
EIGEN_EPS = float(np.sqrt(np.finfo(float).eps))
# get_Fstat_ddf: equal ν_m (within this) give their common value.
EQUAL_DF_TOL = 1e-8
DIGITS = 5


@dataclass(frozen=True)
class TermTests(Rendered):
    """A table of tests of fixed-effect terms: `frame` (one row per term), `hypotheses` (term -> L),
    a heading as R prints it, and notes."""

    frame: pd.DataFrame
    heading: str
    hypotheses: dict[str, np.ndarray] = field(repr=False)
    notes: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The table as a plain DataFrame (heading and notes in `.attrs`)."""
        frame = self.frame.copy()
        frame.attrs.update(heading=self.heading, notes=self.notes)
        return frame

    def document(self) -> Document:
        p_column = self.frame.columns[-1]
        header = ("",) + tuple(self.frame.columns) + ("",)
        columns = []
        for name in self.frame.columns[:-1]:
            values = [None if pd.isna(v) else float(v) for v in self.frame[name]]
            if name in ("NumDF", "Df"):
                texts = ["" if v is None else f"{v:g}" for v in values]
            else:
                texts = format_column(values, DIGITS, blank="NA")
            columns.append([Cell(text, v) for text, v in zip(texts, values)])
        p_values = [float(v) for v in self.frame[p_column]]
        columns.append([Cell(format_p_value(p), p) for p in p_values])
        columns.append([Cell(significance_stars(p)) for p in p_values])
        rows = tuple((Cell(str(label)), *(column[i] for column in columns))
                     for i, label in enumerate(self.frame.index))
        table = Table(header, rows, align="l" + "r" * (len(header) - 2) + "l", name="term-tests")
        return Document(title=(self.heading,), blocks=(table, Lines(("---", SIGNIF_LEGEND))), notes=self.notes)


def term_tests(fit: Any, type: str = "III", ddf: str = "Satterthwaite") -> TermTests:
    """Tests of each fixed-effect term of one fit (lmerTest's anova(fit) for LMMs, car::Anova for GLMMs).

    type: "III" (default; hypotheses free of the contrast coding), "II" (marginality) or "I" (sequential).
    ddf: "Satterthwaite" (default) or "Kenward-Roger" (REML fits); LMMs only.
    """
    if is_bayesian(fit):
        raise BayesmixedError("tests of fixed-effect terms need a maximum-likelihood fit; for a Bayesian fit "
                              "look at the posterior of the coefficients (or compare models with bm.compare)")
    require_frequentist([fit], "the tests of fixed-effect terms")
    kind = TYPES.get(str(type).upper().replace("TYPE", "").strip())
    if kind is None:
        raise BayesmixedError(f"type must be 'III', 'II' or 'I' (or 3, 2, 1); got {type!r}")
    method = DDF_METHODS.get(str(ddf).lower().replace("_", "-").replace(" ", "-"))
    if method is None:
        raise BayesmixedError(f"ddf must be 'Satterthwaite' or 'Kenward-Roger'; got {ddf!r}")
    structure = term_structure(fit.design)
    if not structure.terms:
        raise BayesmixedError(f"{fit.design.formula!r} has no fixed-effect terms to test beyond the intercept")
    notes = _design_notes(structure, kind)
    if not get_family(fit.design.family).has_residual_sd:
        if kind == "I" or method == "Kenward-Roger":
            reason = ("sequential type I tests are for linear mixed models" if kind == "I" else
                      "denominator df (ddf) are for the F-tests of linear mixed models")
            raise BayesmixedError(f"a {fit.design.family} GLMM gets Wald χ² tests of type 'II' or 'III' "
                                  f"(car::Anova's); {reason}")
        return _wald_tests(fit, structure, kind, notes)
    hypotheses = contrasts(structure, kind)
    if method == "Kenward-Roger":
        from ..engines.threads import engine_threads
        from .kenward_roger import kenward_roger

        with engine_threads():  # one BLAS thread: many threads on n x n products of a few hundred only contend
            adjusted = kenward_roger(fit)
        if getattr(fit.design, "weights", None) is not None:
            notes.append("prior weights: Kenward-Roger's Var(y) has residual part σ²/w here; pbkrtest leaves the "
                         "weights out of it (σ²I), so its numbers for weighted fits differ")
        rows = [_kenward_roger_row(adjusted, L, fit) for L in hypotheses.values()]
    else:
        rows = [_satterthwaite_row(fit, L) for L in hypotheses.values()]
    frame = pd.DataFrame(rows, index=pd.Index(list(hypotheses), name="term"), columns=F_COLUMNS)
    method_name = "Satterthwaite's" if method == "Satterthwaite" else "Kenward-Roger's"
    heading = f"Type {kind} Analysis of Variance Table with {method_name} method"
    if not fit.reml:
        notes.append("an ML fit: its variances (and so F's denominator) are biased down; lmerTest allows it, "
                     "a REML fit is the usual choice")
    return TermTests(frame, heading, hypotheses, tuple(notes))


def _design_notes(structure: TermStructure, kind: str) -> list[str]:
    missing = empty_cells(structure) if kind == "III" else []
    if missing:
        return [f"missing cells for: {', '.join(missing)}; interpret type III hypotheses with care (they depend "
                "on which cells were observed)"]
    return []


def _f_row(F: float, q: int, ddf: float, sigma: float, scaling: float = 1.0) -> list[float]:
    mean_sq = F * sigma**2
    scaled = F * scaling
    return [mean_sq * q, mean_sq, q, ddf, scaled, float(stats.f.sf(scaled, q, ddf))]


def _satterthwaite_row(fit: Any, L: np.ndarray) -> list[float]:
    """lmerTest's contestMD: F and its Satterthwaite denominator df."""
    if L.shape[0] == 0:
        return [np.nan] * 6
    pieces = fit.satterthwaite
    beta = np.asarray(fit.beta, dtype=float)
    if L.shape[0] == 1:
        return _one_direction(pieces, L[0], beta, fit.sigma)
    eigenvalues, vectors = np.linalg.eigh(L @ pieces.vcov_beta @ L.T)
    eigenvalues, vectors = eigenvalues[::-1], vectors[:, ::-1]  # decreasing, as R's eigen
    positive = eigenvalues > max(EIGEN_EPS * eigenvalues[0], 0.0)
    q = int(positive.sum())
    directions = (vectors.T @ L)[:q]
    if q == 1:
        return _one_direction(pieces, directions[0], beta, fit.sigma)
    t_squared = (directions @ beta) ** 2 / eigenvalues[:q]
    nu = np.array([pieces.df(direction) for direction in directions])
    return _f_row(float(t_squared.sum() / q), q, f_statistic_df(nu), fit.sigma)


def _one_direction(pieces: Any, contrast: np.ndarray, beta: np.ndarray, sigma: float) -> list[float]:
    t_squared = float((contrast @ beta) ** 2 / (contrast @ pieces.vcov_beta @ contrast))
    return _f_row(t_squared, 1, pieces.df(contrast), sigma)


def f_statistic_df(nu: np.ndarray) -> float:
    """lmerTest's get_Fstat_ddf: df of the mean of q squared t's with df ν_m: 2E/(E − q), E = Σ ν/(ν − 2)."""
    if nu.size == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < EQUAL_DF_TOL):
        return float(nu.mean())
    if np.any(nu <= 2):
        return 2.0
    expectation = float(np.sum(nu / (nu - 2.0)))
    return 2.0 * expectation / (expectation - nu.size)


def _kenward_roger_row(adjusted: Any, L: np.ndarray, fit: Any) -> list[float]:
    if L.shape[0] == 0:
        return [np.nan] * 6
    F, scaling, ddf, q = adjusted.f_test(L, np.asarray(fit.beta, dtype=float))
    return _f_row(F, q, ddf, fit.sigma, scaling)


def _wald_tests(fit: Any, structure: TermStructure, kind: str, notes: list[str]) -> TermTests:
    """car::Anova's Wald χ² per term for a GLMM."""
    vcov = np.asarray(fit.vcov, dtype=float)
    hypotheses = wald_type2(structure, vcov) if kind == "II" else contrasts(structure, kind)
    beta = np.asarray(fit.beta, dtype=float)
    rows = []
    for L in hypotheses.values():
        if L.shape[0] == 0:
            rows.append([np.nan, 0, np.nan])
            continue
        estimate = L @ beta
        chisq = float(estimate @ np.linalg.lstsq(L @ vcov @ L.T, estimate, rcond=None)[0])
        df = int(np.linalg.matrix_rank(L))
        rows.append([chisq, df, float(stats.chi2.sf(chisq, df))])
    frame = pd.DataFrame(rows, index=pd.Index(list(hypotheses), name="term"), columns=WALD_COLUMNS)
    frame["Df"] = frame["Df"].astype(int)
    heading = f"Analysis of Deviance Table (Type {kind} Wald chisquare tests)"
    return TermTests(frame, heading, hypotheses, tuple(notes))

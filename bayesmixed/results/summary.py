"""lme4-style summary text, built from plain tables so that every frequentist fit can reuse the pieces."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..design.types import Design
from .render import (
    SIGNIF_LEGEND,
    format_column,
    format_p_value,
    named_vector,
    render_table,
    significance_stars,
)

# lme4 prints fixed-effect correlations only up to this many coefficients.
MAX_CORRELATION_TABLE = 12
P_VALUE_CAUTION = (
    "Note: df and p-values use Satterthwaite's approximation (as lmerTest does). They are approximate: in a "
    "mixed model t = estimate / SE does not follow an exact t distribution."
)


def abbreviate(name: str, minlength: int = 6) -> str:
    """R's abbreviate(): drop lower-case vowels from the right, then lower-case letters, then truncate."""
    chars = list(name)
    for removable in ("aeiou", "abcdefghijklmnopqrstuvwxyz"):
        i = len(chars) - 1
        while len(chars) > minlength and i > 0:
            if chars[i] in removable:
                del chars[i]
            i -= 1
    return "".join(chars[:minlength]) if len(chars) > minlength else "".join(chars)


def random_effects_lines(varcorr: pd.DataFrame, digits: int = 4) -> list[str]:
    """lme4's 'Random effects:' table: Groups, Name, Variance, Std.Dev. and the correlations beside."""
    variances = varcorr[varcorr["var2"].isna()]
    correlations = varcorr[varcorr["var2"].notna()]
    rows, corr_cells = [], []
    previous = None
    for _, row in variances.iterrows():
        group = row["grp"]
        name = "" if row["var1"] is None or pd.isna(row["var1"]) else str(row["var1"])
        block = correlations[(correlations["grp"] == group) & (correlations["var2"] == name)]
        corr_cells.append([f"{value:.2f}" for value in block["sdcor"]])
        rows.append([group if group != previous else "", name, row["vcov"], row["sdcor"]])
        previous = group
    variance_text = _aligned(format_column([r[2] for r in rows], digits))
    sd_text = _aligned(format_column([r[3] for r in rows], digits))
    n_corr = max((len(c) for c in corr_cells), default=0)
    header = ["Groups", "Name", "Variance", "Std.Dev."] + (["Corr"] + [""] * (n_corr - 1) if n_corr else [])
    body = [
        [r[0], r[1], v, s] + cells + [""] * (n_corr - len(cells))
        for r, v, s, cells in zip(rows, variance_text, sd_text, corr_cells)
    ]
    return render_table(header, body, align="llll" + "r" * n_corr, indent=" ")


def _aligned(cells: list[str]) -> list[str]:
    """Right-justify numbers among themselves (R pads them, then left-aligns the column)."""
    width = max((len(c) for c in cells), default=0)
    return [c.rjust(width) for c in cells]


def groups_line(design: Design) -> str:
    """'Number of obs: n, groups:  g1, L1; g2, L2' over distinct grouping factors."""
    counts = {t.group: t.n_levels for t in design.terms}
    groups = "; ".join(f"{g}, {n}" for g, n in counts.items())
    return f"Number of obs: {design.n}, groups:  {groups}"


def residual_quantile_lines(scaled: np.ndarray) -> list[str]:
    """'Scaled residuals:' Min, 1Q, Median, 3Q, Max of residuals / σ."""
    quantiles = np.quantile(scaled, [0.0, 0.25, 0.5, 0.75, 1.0])
    # R's zapsmall(q, 5): round to 5 significant digits of the largest, so tiny medians show as 0.0231
    largest = np.max(np.abs(quantiles))
    quantiles = np.round(quantiles, max(0, 5 - int(np.ceil(np.log10(largest)))) if largest > 0 else 5)
    return ["Scaled residuals: "] + named_vector(dict(zip(["Min", "1Q", "Median", "3Q", "Max"], quantiles)))


def coefficient_lines(table: pd.DataFrame, digits: int = 4) -> list[str]:
    """printCoefmat-style fixed-effects table with significance stars (any of df / p-value columns)."""
    if table.empty:
        return ["No fixed effect coefficients"]
    estimates = format_column(list(table["Estimate"]) + list(table["Std. Error"]), digits)
    p = len(table)
    columns = {"Estimate": estimates[:p], "Std. Error": estimates[p:]}
    stat = "t value" if "t value" in table else "z value"
    if "df" in table:
        columns["df"] = [f"{v:.3f}" if np.isfinite(v) else "NA" for v in table["df"]]
    columns[stat] = [f"{v:.3f}" for v in table[stat]]
    p_column = [c for c in table.columns if c.startswith("Pr(")]
    stars = [""] * p
    if p_column:
        values = table[p_column[0]].to_numpy(dtype=float)
        columns[p_column[0]] = [format_p_value(v) for v in values]
        stars = [significance_stars(v) for v in values]
    header = [""] + list(columns) + ([""] if p_column else [])
    body = [[name] + [columns[c][i] for c in columns] + ([stars[i]] if p_column else []) for i, name in enumerate(table.index)]
    lines = render_table(header, body, align="l" + "r" * len(columns) + "l")
    if p_column and any(stars):
        lines += ["---", SIGNIF_LEGEND]
    return lines


def correlation_lines(vcov: pd.DataFrame) -> list[str]:
    """lme4's 'Correlation of Fixed Effects' (lower triangle, abbreviated column names)."""
    p = vcov.shape[0]
    if p < 2:
        return []
    if p > MAX_CORRELATION_TABLE:
        return [f"Correlation matrix not shown by default, as p = {p} > {MAX_CORRELATION_TABLE}."]
    sd = np.sqrt(np.diag(vcov.to_numpy()))
    correlation = vcov.to_numpy() / np.outer(sd, sd)
    names = list(vcov.index)
    header = [""] + [abbreviate(n) for n in names[:-1]]
    body = [[names[i]] + [f"{correlation[i, j]:.3f}" for j in range(i)] + [""] * (p - 1 - i) for i in range(1, p)]
    return ["Correlation of Fixed Effects:"] + render_table(header, body)


@dataclass(frozen=True)
class FitSummary:
    """A fit's summary: the tables as data, and `str()` gives lme4's printed layout."""

    title: str
    formula: str
    criterion_lines: tuple[str, ...]
    scaled_residuals: np.ndarray | None
    varcorr: pd.DataFrame
    groups: str
    coefficients: pd.DataFrame
    vcov: pd.DataFrame
    notes: tuple[str, ...]
    messages: tuple[str, ...]

    def lines(self) -> list[str]:
        out = [self.title, f"Formula: {self.formula}", ""]
        out += list(self.criterion_lines) + [""]
        if self.scaled_residuals is not None:
            out += residual_quantile_lines(self.scaled_residuals) + [""]
        out += ["Random effects:"] + random_effects_lines(self.varcorr) + [self.groups, ""]
        out += ["Fixed effects:"] + coefficient_lines(self.coefficients)
        correlation = correlation_lines(self.vcov)
        if correlation:
            out += [""] + correlation
        out += [""] + list(self.notes)
        if self.messages:
            out += ["", "WARNINGS:"] + [f"* {m}" for m in self.messages]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        return str(self)


def weights_line(design: Design) -> tuple[str, ...]:
    """lme4's "Weights: w" line when the fit has prior weights (binomial trials included), else nothing."""
    return (f"Weights: {design.weights_name}",) if design.weights_name is not None else ()


def criterion_lines(reml: bool, objective: float, aic: float, bic: float, loglik: float, df_resid: int) -> tuple[str, ...]:
    """lme4's header numbers: REML criterion (REML) or AIC, BIC, logLik, deviance, df.resid (ML)."""
    values = {"AIC": aic, "BIC": bic, "logLik": loglik}
    if not reml:
        values["deviance"] = objective
    cells = [f"{v:.1f}" for v in values.values()] + [str(df_resid)]
    lines = render_table(list(values) + ["df.resid"], [cells], align="r" * len(cells))
    if reml:
        lines = [f"REML criterion at convergence: {objective:.1f}", *lines,
                 "(REML-based AIC/BIC/logLik: compare them only between models with the same fixed effects)"]
    return tuple(lines)

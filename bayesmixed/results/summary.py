"""lme4-style summaries as tables (results.table) that every frequentist fit reuses; printed in lme4's layout."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..design.types import Design
from .render import SIGNIF_LEGEND, format_column, format_p_value, significance_stars
from .table import Block, Cell, Document, Lines, Rendered, Table

# lme4 prints fixed-effect correlations only up to this many coefficients.
MAX_CORRELATION_TABLE = 12
P_VALUE_CAUTION = (
    "Note: df and p-values use Satterthwaite's approximation (as lmerTest does). They are approximate: in a "
    "mixed model t = estimate / SE does not follow an exact t distribution."
)


def abbreviate(name: str, minlength: int = 6) -> str:
    """R's abbreviate(): drop spaces, then lower-case vowels from the right, then lower-case letters, then truncate."""
    chars = list(name.strip())
    for removable in (" ", "aeiou", "abcdefghijklmnopqrstuvwxyz"):
        i = len(chars) - 1
        while len(chars) > minlength and i > 0:
            if chars[i] in removable:
                del chars[i]
            i -= 1
    return "".join(chars[:minlength]) if len(chars) > minlength else "".join(chars)


def abbreviate_unique(names: list[str], minlength: int = 6) -> list[str]:
    """R's abbreviate() on a vector: names whose abbreviations collide are abbreviated again, one character
    longer each round, until every abbreviation is distinct (R's strict = FALSE)."""
    result = [abbreviate(name, minlength) for name in names]
    length = minlength
    while True:
        seen: dict[str, int] = {}
        for text in result:
            seen[text] = seen.get(text, 0) + 1
        clashing = [i for i, text in enumerate(result) if seen[text] > 1]
        if not clashing or length >= max(len(names[i]) for i in clashing):
            return result
        length += 1
        for i in clashing:
            result[i] = abbreviate(names[i], length)


def random_effects_table(varcorr: pd.DataFrame, digits: int = 4, title: str = "") -> Table:
    """lme4's 'Random effects:' table: Groups, Name, Variance, Std.Dev. and the correlations beside."""
    variances = varcorr[varcorr["var2"].isna()]
    correlations = varcorr[varcorr["var2"].notna()]
    rows, corr_cells = [], []
    previous = None
    for _, row in variances.iterrows():
        group = row["grp"]
        name = "" if row["var1"] is None or pd.isna(row["var1"]) else str(row["var1"])
        block = correlations[(correlations["grp"] == group) & (correlations["var2"] == name)]
        corr_cells.append([Cell(f"{value:.2f}", float(value)) for value in block["sdcor"]])
        rows.append([group if group != previous else "", name, row["vcov"], row["sdcor"]])
        previous = group
    variance_text = _aligned(format_column([r[2] for r in rows], digits))
    sd_text = _aligned(format_column([r[3] for r in rows], digits))
    n_corr = max((len(c) for c in corr_cells), default=0)
    header = ["Groups", "Name", "Variance", "Std.Dev."] + (["Corr"] + [""] * (n_corr - 1) if n_corr else [])
    body = tuple(
        (Cell(r[0]), Cell(r[1]), Cell(v, float(r[2])), Cell(s, float(r[3])), *cells,
         *[Cell("")] * (n_corr - len(cells)))
        for r, v, s, cells in zip(rows, variance_text, sd_text, corr_cells)
    )
    return Table(tuple(header), body, title=title, align="llll" + "r" * n_corr, indent=" ", name="random-effects")


def random_effects_lines(varcorr: pd.DataFrame, digits: int = 4) -> list[str]:
    """The text lines of random_effects_table."""
    return Document(blocks=(random_effects_table(varcorr, digits),)).to_text().split("\n")


def _aligned(cells: list[str]) -> list[str]:
    """Right-justify numbers among themselves (R pads them, then left-aligns the column)."""
    width = max((len(c) for c in cells), default=0)
    return [c.rjust(width) for c in cells]


def groups_line(design: Design) -> str:
    """'Number of obs: n, groups:  g1, L1; g2, L2' over distinct grouping factors."""
    counts = {t.group: t.n_levels for t in design.terms}
    groups = "; ".join(f"{g}, {n}" for g, n in counts.items())
    return f"Number of obs: {design.n}, groups:  {groups}"


def residual_quantile_table(scaled: np.ndarray) -> Table:
    """'Scaled residuals:' Min, 1Q, Median, 3Q, Max of residuals / σ."""
    quantiles = np.quantile(scaled, [0.0, 0.25, 0.5, 0.75, 1.0])
    # R's zapsmall(q, 5): round to 5 significant digits of the largest, so tiny medians show as 0.0231
    largest = np.max(np.abs(quantiles))
    quantiles = np.round(quantiles, max(0, 5 - int(np.ceil(np.log10(largest)))) if largest > 0 else 5)
    cells = tuple(Cell(text, float(q)) for text, q in zip(format_column(list(quantiles)), quantiles))
    return Table(("Min", "1Q", "Median", "3Q", "Max"), (cells,), title="Scaled residuals: ", align="rrrrr",
                 name="scaled-residuals")


def coefficient_blocks(table: pd.DataFrame, digits: int = 4) -> tuple[Block, ...]:
    """printCoefmat-style fixed-effects table with significance stars (any of df / p-value columns)."""
    title = "Fixed effects:"
    if table.empty:
        return (Lines((title, "No fixed effect coefficients")),)
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
    header = ("",) + tuple(columns) + (("",) if p_column else ())
    body = tuple(
        (Cell(str(name)), *[Cell(columns[c][i], float(table[c].iloc[i])) for c in columns],
         *([Cell(stars[i])] if p_column else []))
        for i, name in enumerate(table.index)
    )
    blocks: tuple[Block, ...] = (Table(header, body, title=title, align="l" + "r" * len(columns) + "l",
                                       name="fixed-effects"),)
    if p_column and any(stars):
        blocks += (Lines(("---", SIGNIF_LEGEND)),)
    return blocks


def correlation_blocks(vcov: pd.DataFrame) -> tuple[Block, ...]:
    """lme4's 'Correlation of Fixed Effects' (lower triangle, abbreviated column names)."""
    p = vcov.shape[0]
    if p < 2:
        return ()
    if p > MAX_CORRELATION_TABLE:
        return (Lines((f"Correlation matrix not shown by default, as p = {p} > {MAX_CORRELATION_TABLE}.",)),)
    sd = np.sqrt(np.diag(vcov.to_numpy()))
    correlation = vcov.to_numpy() / np.outer(sd, sd)
    names = list(vcov.index)
    header = ("",) + tuple(abbreviate_unique(names[:-1]))
    body = tuple((Cell(names[i]), *[Cell(f"{correlation[i, j]:.3f}", float(correlation[i, j])) for j in range(i)],
                  *[Cell("")] * (p - 1 - i)) for i in range(1, p))
    return (Table(header, body, title="Correlation of Fixed Effects:", name="fixed-effect-correlations"),)


@dataclass(frozen=True, repr=False)
class FitSummary(Rendered):
    """A fit's summary: the tables as data; `str()` gives lme4's printed layout, to_html/to_markdown/to_latex
    the same tables."""

    title: str
    formula: str
    criterion_lines: tuple[str | Block, ...]
    scaled_residuals: np.ndarray | None
    varcorr: pd.DataFrame
    groups: str
    coefficients: pd.DataFrame
    vcov: pd.DataFrame
    notes: tuple[str, ...]
    messages: tuple[str, ...]

    def document(self) -> Document:
        blank = Lines(("",))
        blocks: list[Block] = [Lines((line,)) if isinstance(line, str) else line for line in self.criterion_lines]
        blocks.append(blank)
        if self.scaled_residuals is not None:
            blocks += [residual_quantile_table(self.scaled_residuals), blank]
        blocks += [random_effects_table(self.varcorr, title="Random effects:"), Lines((self.groups, ""))]
        blocks += coefficient_blocks(self.coefficients)
        correlation = correlation_blocks(self.vcov)
        if correlation:
            blocks += [blank, *correlation]
        blocks.append(blank)
        return Document(title=(*self.title.split("\n"), f"Formula: {self.formula}", ""), blocks=tuple(blocks),
                        notes=(*self.notes, self._estimation_note()), warnings=self.messages, note_prefix="",
                        note_width=None, name="fit-summary")

    def _estimation_note(self) -> str:
        method = "REML" if "REML" in self.title.split("\n")[0] else "maximum likelihood"
        return (f"Variances, standard deviations, correlations and fixed effects are {method} point estimates; "
                "no intervals here: confint() gives profile-likelihood, parametric-bootstrap or Wald intervals.")

    def lines(self) -> list[str]:
        return self.document().to_text().split("\n")


def weights_line(design: Design) -> tuple[str, ...]:
    """lme4's "Weights: w" line when the fit has prior weights (binomial trials included), else nothing."""
    return (f"Weights: {design.weights_name}",) if design.weights_name is not None else ()


def criterion_lines(reml: bool, objective: float, aic: float, bic: float, loglik: float,
                    df_resid: int) -> tuple[Block, ...]:
    """lme4's header numbers: REML criterion (REML) or AIC, BIC, logLik, deviance, df.resid (ML)."""
    values = {"AIC": aic, "BIC": bic, "logLik": loglik}
    if not reml:
        values["deviance"] = objective
    cells = tuple(Cell(f"{v:.1f}", float(v)) for v in values.values()) + (Cell(str(df_resid), float(df_resid)),)
    table = Table((*values, "df.resid"), (cells,), align="r" * len(cells), name="criteria")
    if not reml:
        return (table,)
    return (Lines((f"REML criterion at convergence: {objective:.1f}",)), table,
            Lines(("(REML-based AIC/BIC/logLik: compare them only between models with the same fixed effects)",)))

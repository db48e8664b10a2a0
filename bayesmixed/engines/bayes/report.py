"""A Bayesian fit's summary as tables (results.table): the posterior table beside its diagnostics."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ...results.table import Block, Cell, Document, Lines, RenderedText, Table
from .layout import FULL, MARGINAL, MARGINAL_BLOCKED, MARGINAL_JOINT

if TYPE_CHECKING:
    from .layout import ParameterLayout
    from .result import BayesFit

ROUTE_TEXT = {MARGINAL: "marginal (γ integrated out, drawn afterwards from its exact conditional)",
              FULL: "full non-centred (γ = diag(sd) L u, u ~ N(0, I))",
              MARGINAL_JOINT: "joint marginal (γ of every term, and β under Normal priors, integrated out together; drawn "
                              "afterwards from their exact conditional)",
              MARGINAL_BLOCKED: "blocked marginal (γ and β integrated out on the REML engine's blocked Cholesky, σ and "
                                "the covariance parameters sampled by independence Metropolis-Hastings from a proposal "
                                "fitted to the posterior; γ and β drawn from their exact conditional)"}
SAMPLER_TEXT = {"numba": "bayesmixed NUTS (numba)", "pymc": "PyMC NUTS", "nutpie": "nutpie NUTS",
                "numpyro": "NumPyro NUTS", "prior": "independent prior draws"}


def _number(value: float) -> str:
    if value is None or not np.isfinite(value):
        return "NA"
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.4e}"


def _count(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}" if np.isfinite(value) else "NA"


def _table(frame: pd.DataFrame, names: list[str], with_diagnostics: bool, title: str, name: str) -> Table:
    header = ("", "median", "sd", "2.5%", "97.5%") + (("R-hat", "ESS_bulk", "ESS_tail") if with_diagnostics else ())
    rows = []
    for parameter in names:
        row = frame.loc[parameter]
        cells = [Cell(parameter)] + [Cell(_number(row[c]), float(row[c])) for c in ("median", "sd", "2.5%", "97.5%")]
        if with_diagnostics:
            cells += [Cell(_count(row[column], decimals), float(row[column]))
                      for column, decimals in (("r_hat", 3), ("ess_bulk", 0), ("ess_tail", 0))]
        rows.append(tuple(cells))
    return Table(header, tuple(rows), title=title, indent="  ", name=name)


def route_text(layout: ParameterLayout) -> str:
    """The route line of the summary: marginal, full non-centred, or which grouping factors are centred."""
    centred = [t.group for t in layout.terms if t.centred]
    if not centred:
        return ROUTE_TEXT[layout.route]
    others = [t.group for t in layout.terms if not t.centred]
    rest = f"; non-centred for {', '.join(others)}" if others else ""
    return f"full, effects sampled centred (γ ~ N(0, Σ)) for {', '.join(centred)}{rest}"


def sampler_text(fit: BayesFit) -> str:
    if fit.layout.route == MARGINAL_BLOCKED:
        return f"independence Metropolis-Hastings (mean acceptance {fit.diagnosis.acceptance:.2f})"
    text = SAMPLER_TEXT.get(fit.sampler, fit.sampler)
    if fit.diverged_runs:
        runs = ", ".join(f"{count} at {accept:g}" for accept, count in fit.diverged_runs)
        text += f", target_accept {fit.timings['target_accept']:g} (sampled again after divergences: {runs})"
    return text


def summary_text(fit: BayesFit) -> RenderedText:
    """BayesFit.summary(): header, fixed and random-effect tables (R-hat/ESS unless prior draws), diagnosis;
    a str that also renders as HTML, markdown and LaTeX."""
    d = fit.design
    kind = "Prior draws" if fit.is_prior else "Bayesian"
    model = "linear" if d.family == "gaussian" else "generalized linear"
    groups = ", ".join(f"{t.group} {t.n_levels}" for t in d.terms) or "none"
    timing = fit.timings
    wall = f"wall {timing['total']:.2f} s" + (f" (sampling {timing['sampling']:.2f} s)" if "sampling" in timing else "")
    tuning = "" if fit.is_prior else " after tuning"
    title = (
        f"{kind} {model} mixed model: {d.formula}",
        f"  family: {d.family}   observations: {d.n}   groups: {groups}",
        f"  route: {route_text(fit.layout)}",
        f"  sampler: {sampler_text(fit)}; {fit.n_chains} chains x {fit.n_draws} draws{tuning}; "
        f"seed {fit.seed}; {wall}",
        "",
    )
    frame = fit.parameters
    with_diagnostics = not fit.is_prior
    source = "prior" if fit.is_prior else "posterior"
    fixed = list(d.fixef_names)
    random = [n for n in frame.index if n.startswith(("sd(", "cor("))]
    blank = Lines(("",))
    blocks: list[Block] = []
    if fixed:
        blocks += [_table(frame, fixed, with_diagnostics, f"Fixed effects ({source}):", "fixed-effects"), blank]
    scale = fit.layout.scale_name if fit.layout.sigma_index >= 0 else None
    if random or scale:
        names = random + ([scale] if scale else [])
        heading = "Random effects and NB size θ (var = μ + μ²/θ)" if scale == "theta" else "Random effects and residual"
        blocks += [_table(frame, names, with_diagnostics, f"{heading} ({source}):", "random-effects"), blank]
    if fit.diagnosis is not None:
        blocks.append(Lines(tuple(str(fit.diagnosis).split("\n"))))
    while blocks and blocks[-1] == blank:
        blocks.pop()
    how = (f"{source} median, sd and equal-tailed 95% interval of the {fit.n_chains * fit.n_draws} draws"
           + ("; R-hat (rank-normalised, split) and bulk/tail ESS as ArviZ computes them" if with_diagnostics else ""))
    return RenderedText.of(Document(title=title, blocks=tuple(blocks), notes=(how,), name="bayes-summary"))

"""Text rendering of a Bayesian fit: the posterior table beside its diagnostics."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .result import ROUTE_TEXT, SAMPLER_TEXT

if TYPE_CHECKING:
    from .layout import ParameterLayout
    from .result import BayesFit


def _number(value: float) -> str:
    if value is None or not np.isfinite(value):
        return "NA"
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.4e}"


def _table(frame, names, with_diagnostics: bool) -> list[str]:
    header = ["", "median", "sd", "2.5%", "97.5%"] + (["R-hat", "ESS_bulk", "ESS_tail"] if with_diagnostics else [])
    rows = []
    for name in names:
        row = frame.loc[name]
        cells = [name] + [_number(row[c]) for c in ("median", "sd", "2.5%", "97.5%")]
        if with_diagnostics:
            cells += [f"{row['r_hat']:.3f}" if np.isfinite(row["r_hat"]) else "NA",
                      f"{row['ess_bulk']:.0f}" if np.isfinite(row["ess_bulk"]) else "NA",
                      f"{row['ess_tail']:.0f}" if np.isfinite(row["ess_tail"]) else "NA"]
        rows.append(cells)
    widths = [max(len(r[c]) for r in [header] + rows) for c in range(len(header))]
    return ["  " + " ".join(cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(zip(r, widths)))
            for r in [header] + rows]


def route_text(layout: ParameterLayout) -> str:
    """The route line of the summary: marginal, full non-centred, or which grouping factors are centred."""
    centred = [t.group for t in layout.terms if t.centred]
    if not centred:
        return ROUTE_TEXT[layout.route]
    others = [t.group for t in layout.terms if not t.centred]
    rest = f"; non-centred for {', '.join(others)}" if others else ""
    return f"full, effects sampled centred (γ ~ N(0, Σ)) for {', '.join(centred)}{rest}"


def summary_text(fit: BayesFit) -> str:
    """BayesFit.summary(): header, fixed and random-effect tables (R-hat/ESS unless prior draws), diagnosis."""
    d = fit.design
    kind = "Prior draws" if fit.is_prior else "Bayesian"
    model = "linear" if d.family == "gaussian" else "generalized linear"
    groups = ", ".join(f"{t.group} {t.n_levels}" for t in d.terms) or "none"
    timing = fit.timings
    wall = f"wall {timing['total']:.2f} s" + (f" (sampling {timing['sampling']:.2f} s)" if "sampling" in timing else "")
    tuning = "" if fit.is_prior else " after tuning"
    lines = [
        f"{kind} {model} mixed model: {d.formula}",
        f"  family: {d.family}   observations: {d.n}   groups: {groups}",
        f"  route: {route_text(fit.layout)}",
        f"  sampler: {SAMPLER_TEXT.get(fit.sampler, fit.sampler)}; {fit.n_chains} chains x {fit.n_draws} draws{tuning}; "
        f"seed {fit.seed}; {wall}",
        "",
    ]
    frame = fit.parameters
    with_diagnostics = not fit.is_prior
    source = "prior" if fit.is_prior else "posterior"
    fixed = list(d.fixef_names)
    random = [n for n in frame.index if n.startswith(("sd(", "cor("))]
    if fixed:
        lines += [f"Fixed effects ({source}):"] + _table(frame, fixed, with_diagnostics) + [""]
    if random or "sigma" in frame.index:
        lines += [f"Random effects and residual ({source}):"]
        lines += _table(frame, random + (["sigma"] if "sigma" in frame.index else []), with_diagnostics) + [""]
    if fit.diagnosis is not None:
        lines.append(str(fit.diagnosis))
    return "\n".join(lines).rstrip()

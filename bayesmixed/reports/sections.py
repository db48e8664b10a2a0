"""The report's tables: what was fitted, ML | REML | Bayes estimates with the random-effects block,
information criteria, likelihood-ratio tests with the parametric bootstrap, and the LOO comparison."""

from __future__ import annotations

import platform
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import BayesmixedError
from ..inference.table import NotedFrame
from .document import Heading, Paragraph, Section, Table

METHOD_LABELS = {"ml": "ML", "reml": "REML", "bayes": "Bayes"}
VERSIONED = ("numpy", "scipy", "pandas", "arviz", "matplotlib", "numba", "pymc")


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__

    parts = [f"bayesmixed {__version__}", f"Python {platform.python_version()}"]
    for name in VERSIONED:
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    return ", ".join(parts)


def fitted_section(context: Any) -> Section:
    """Data, n, groups, formulas, family, methods, priors, sampler settings, seeds, versions and timings."""
    section = Section("fitted", "What was fitted")
    spec = context.spec
    first = context.first_fit()
    design = first.design
    section.add(Paragraph(f"Data: {context.data_label} — {design.n:,} observations, response {design.response!r}, "
                          f"family {design.family}. Methods: "
                          + ", ".join(METHOD_LABELS.get(m, m) for m in context.methods) + "."))
    rows = []
    for label, by_method in context.fits.items():
        fit_design = next(iter(by_method.values())).design
        groups = "; ".join(dict.fromkeys(f"{term.group}: {term.n_levels} levels" for term in fit_design.terms))
        rows.append({"model": label, "formula": fit_design.formula, "fixed effects": fit_design.p,
                     "random effects": fit_design.q, "groups": groups})
    section.add(Table("Models", pd.DataFrame(rows).set_index("model")))
    if context.extra_ml:
        section.add(Paragraph("ML fits were added for the likelihood-based comparisons (information criteria, "
                              f"likelihood-ratio tests): {', '.join(context.extra_ml)}", "note"))
    for label, by_method in context.fits.items():
        if "bayes" in by_method:
            section.add(Table(f"Priors of {label}", by_method["bayes"].priors.to_frame().set_index("parameter")))
    if spec is not None:
        sampler = spec.sampler
        section.add(Paragraph(f"Sampler: {sampler.sampler} NUTS, {sampler.chains} chains × {sampler.draws} draws after "
                              f"{sampler.tune} tuning steps, seed {sampler.seed}. Parametric bootstrap: "
                              f"{spec.bootstrap.n} simulations, seed {spec.bootstrap.seed}."
                              + (" Quick mode: chains, draws and bootstrap shortened for a draft; do not "
                                 "report these numbers." if spec.quick else "")))
    timing = pd.DataFrame([{"model": label, "method": METHOD_LABELS.get(method, method), "seconds": seconds}
                           for (label, method), seconds in context.seconds.items()])
    if not timing.empty:
        section.add(Table("Fitting time (seconds)", timing.pivot(index="model", columns="method", values="seconds")))
    section.add(Paragraph(f"Versions: {_versions()}. Report written {time.strftime('%Y-%m-%d %H:%M:%S %Z')}."))
    return section


# ---- estimates -------------------------------------------------------------------------------------------
def _interval_key(group: str, var1: Any, var2: Any) -> str:
    """side_by_side's row name of one varcorr row."""
    if group == "Residual":
        return "sigma"
    if var2 is None or (isinstance(var2, float) and np.isnan(var2)):
        return f"sd_{var1}|{group}"
    return f"cor_{var2}.{var1}|{group}"


def _cell(estimate: float, lower: float = np.nan, upper: float = np.nan) -> str:
    if not np.isfinite(estimate):
        return "–"
    if np.isfinite(lower) and np.isfinite(upper):
        return f"{estimate:.4g} [{lower:.4g}, {upper:.4g}]"
    return f"{estimate:.4g}"


def random_effects_block(by_method: dict[str, Any], frame: pd.DataFrame | None) -> pd.DataFrame:
    """Variance and SD (or correlation) of every random term and σ, per method, with the side-by-side table's
    intervals (the variance's interval is the SD's squared: quantiles and profile limits map through x²)."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for method, fit in by_method.items():
        column = METHOD_LABELS.get(method, method)
        for record in fit.varcorr.itertuples(index=False):
            key = _interval_key(record.grp, record.var1, record.var2)
            is_cor = key.startswith("cor_")
            name = "Residual" if record.grp == "Residual" else (
                f"{record.grp}: {record.var1}" + (f" × {record.var2}" if is_cor else ""))
            lower = upper = np.nan
            if frame is not None and column.lower() in frame.columns.get_level_values(0) and key in frame.index:
                lower, upper = frame.loc[key, (column.lower(), "lower")], frame.loc[key, (column.lower(), "upper")]
            if is_cor:
                rows.setdefault((name, "correlation"), {})[column] = _cell(record.sdcor, lower, upper)
            else:
                rows.setdefault((name, "variance"), {})[column] = _cell(record.sdcor ** 2, lower ** 2, upper ** 2)
                rows.setdefault((name, "SD"), {})[column] = _cell(record.sdcor, lower, upper)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["term", "quantity"])
    design = next(iter(by_method.values())).design
    for term in design.terms:
        table.loc[(f"{term.group}", "groups"), :] = str(term.n_levels)
    table.loc[("observations", "n"), :] = str(design.n)
    return table.fillna("–")


def estimates_section(context: Any) -> Section:
    """Per model: bm.side_by_side over the methods (with the ICC and Nakagawa & Schielzeth's R²), then the
    random-effects block."""
    from ..inference import side_by_side

    section = Section("estimates", "Estimates: " + " | ".join(METHOD_LABELS.get(m, m) for m in context.methods))
    spec = context.spec
    intervals = spec.intervals if spec is not None else ("profile" if context.family == "gaussian" else "wald")
    for label, by_method in context.fits.items():
        section.add(Heading(label))
        ordered = {method: by_method[method] for method in ("ml", "reml", "bayes") if method in by_method}
        section.add(*(Paragraph(f"{METHOD_LABELS[method]}: {message}", "warning")
                      for method, fit in ordered.items() for message in getattr(fit, "messages", ()) or ()))
        try:
            table = side_by_side(intervals=intervals, seed=spec.bootstrap.seed if spec else None, **ordered)
            frame = table.to_frame()
            section.add(Table(f"{label}: estimates with 95% intervals", table))
        except BayesmixedError as exc:
            frame = None
            section.add(Paragraph(f"side-by-side table not available: {exc}", "warning"))
        section.add(Table(f"{label}: random effects (variance and SD with 95% intervals; correlations; group "
                          "counts)", random_effects_block(ordered, frame)))
        if frame is None or context.family != "gaussian":
            section.add(Paragraph("For this family the side-by-side table has no frequentist intervals for the "
                                  "variance parameters; the random-effects block shows the ML estimates, the "
                                  "posterior's credible intervals, and bm.bootstrap_lrt tests a variance.", "note"))
    return section


# ---- likelihood-based comparison ------------------------------------------------------------------------
def _ml_fits(context: Any) -> dict[str, Any]:
    return {label: by_method["ml"] for label, by_method in context.fits.items() if "ml" in by_method}


def criteria_section(context: Any) -> Section:
    """bm.aic_table of the ML fits with Akaike weights w_i = exp(−Δ_i/2) / Σ_j exp(−Δ_j/2)."""
    from ..inference import aic_table

    section = Section("criteria", "Information criteria")
    fits = _ml_fits(context)
    if len(fits) < 2:
        return section.add(Paragraph("One model: there is nothing to compare by AIC or BIC."))
    section.add(Paragraph("AIC and BIC from maximum-likelihood fits: REML likelihoods of models with different "
                          "fixed effects are not comparable, so every model was fitted by ML for this table"
                          + (" (ML refits added for this report)." if context.extra_ml else ".")))
    try:
        table = aic_table(**fits)
    except BayesmixedError as exc:
        return section.add(Paragraph(f"aic_table: {exc}", "warning"))
    if "weight" not in table.columns:
        weights = np.exp(-0.5 * table["delta_aic"].to_numpy(dtype=float))
        table["weight"] = weights / weights.sum()
    return section.add(Table("AIC / BIC (smallest AIC first) with Akaike weights", table))


def lrt_section(context: Any) -> Section:
    """bm.anova of the ML fits (with its boundary notes) and bm.bootstrap_lrt for each nested pair."""
    from ..inference import anova, bootstrap_lrt

    section = Section("lrt", "Likelihood-ratio tests and the parametric bootstrap")
    fits = _ml_fits(context)
    if len(fits) < 2:
        return section.add(Paragraph("One model: no likelihood-ratio test. A single variance can still be tested "
                                     "against zero by comparing with a model without its term."))
    try:
        table = anova(**fits)
    except BayesmixedError as exc:
        return section.add(Paragraph(f"anova: {exc}", "warning"))
    section.add(Table("Likelihood-ratio tests (ML fits, each row against the row above)", table))
    section.add(Paragraph("When the smaller model sets a variance to zero, the null value lies on the boundary of "
                          "the parameter space: the χ² p-value is then conservative. The parametric bootstrap "
                          "simulates from the smaller model and refits both, so it needs no χ² approximation."))
    ordered = list(table.index)
    spec = context.spec
    n = spec.bootstrap.n if spec else 200
    seed = spec.bootstrap.seed if spec else 1
    rows, notes = [], []
    for small_label, big_label in zip(ordered, ordered[1:]):
        context.step(f"bootstrap {big_label} vs {small_label}")
        try:
            result = bootstrap_lrt(fits[small_label], fits[big_label], n=n, seed=seed, progress=False)
        except BayesmixedError as exc:
            notes.append(f"{big_label} vs {small_label}: {exc}")
            continue
        rows.append({"comparison": f"{big_label} vs {small_label}", "LRT": result.stat, "df": result.df,
                     "χ² p": result.chisq_p, "bootstrap p": result.p_value, "Monte Carlo se": result.mc_se,
                     "simulations": result.n - result.n_failed})
        notes.extend(f"{big_label} vs {small_label}: {note}" for note in result.notes)
    if rows:
        section.add(Table(f"Parametric bootstrap of the LRT ({n} simulations, seed {seed})",
                          NotedFrame.with_notes(pd.DataFrame(rows).set_index("comparison"), notes)))
    else:
        section.add(*(Paragraph(note, "warning") for note in notes))
    return section


# ---- Bayesian comparison --------------------------------------------------------------------------------
def p_worse(elpd_diff: np.ndarray, se_diff: np.ndarray) -> np.ndarray:
    """P(model predicts worse than the best) = Φ(elpd_diff / se_diff) under a normal approximation (loo 2.10);
    ArviZ's elpd_diff is best − model, so larger means worse.  NaN for the best model."""
    with np.errstate(divide="ignore", invalid="ignore"):
        values = stats.norm.cdf(elpd_diff / se_diff)
    return np.where(elpd_diff > 0, values, np.nan)


def _pareto_counts(fit: Any, unit: str) -> dict[str, Any]:
    from ..inference.compare import _elpd, _pointwise_idata

    elpd = _elpd(_pointwise_idata(fit, unit), "loo")
    k = np.asarray(elpd.pareto_k)
    threshold = float(getattr(elpd, "good_k", 0.7))
    return {"elpd_loo": float(elpd.elpd_loo), "se": float(elpd.se), "p_loo": float(elpd.p_loo),
            f"k ≤ {threshold:.2f}": int(np.sum(k <= threshold)), f"{threshold:.2f} < k ≤ 1": int(np.sum((k > threshold) & (k <= 1))),
            "k > 1": int(np.sum(k > 1)), "max k": float(k.max())}


def bayes_comparison_section(context: Any) -> Section:
    """bm.compare (PSIS-LOO, stacking weights) with p_worse, and each fit's Pareto-k counts; the spec's
    report.loo_unit = "group" leaves out whole groups instead of observations."""
    from ..inference import compare

    section = Section("bayes-comparison", "Bayesian comparison (PSIS-LOO)")
    fits = {label: by_method["bayes"] for label, by_method in context.fits.items() if "bayes" in by_method}
    if not fits:
        return section.add(Paragraph("No Bayesian fits in this report."))
    unit = context.spec.loo_unit if context.spec is not None else "observation"
    if len(fits) >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                table = compare(fits, ic="loo", unit=unit)
            except BayesmixedError as exc:
                return section.add(Paragraph(f"compare: {exc}", "warning"))
        if "p_worse" not in table.columns:
            table["p_worse"] = p_worse(table["elpd_diff"].to_numpy(dtype=float), table["dse"].to_numpy(dtype=float))
        section.add(Table("Expected log predictive density by PSIS-LOO (best first; elpd_diff and dse against the "
                          "best; p_worse = Φ(elpd_diff / dse); stacking weights)", table))
    else:
        section.add(Paragraph("One model: its PSIS-LOO estimate below; comparison needs two or more."))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            counts = pd.DataFrame({label: _pareto_counts(fit, unit) for label, fit in fits.items()}).T
        except BayesmixedError as exc:
            return section.add(Paragraph(f"PSIS-LOO: {exc}", "warning"))
    left_out = "group" if unit == "group" else "observation"
    section.add(Table(f"PSIS-LOO per model, leaving out one {left_out} at a time, with Pareto-k diagnostics "
                      f"(k > 0.7: that {left_out}'s importance weights are unreliable)", counts))
    return section

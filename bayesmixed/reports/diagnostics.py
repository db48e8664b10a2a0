"""The report's figures: diagnostic panel grids, simulated (DHARMa) residuals and sampler diagnostics."""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

from .. import plots
from ..inference.simulated_residuals import simulate_residuals
from ..plots.panels import predictive_by_group, predictive_density
from ..plots.scaled_residuals import scaled_residuals
from .document import Heading, Panel, Paragraph, Section, Table
from .figures import draw
from .sections import METHOD_LABELS

MAX_PREDICTOR_PANELS = 4
SIMULATIONS = 250


def _frequentist(by_method: dict[str, Any]) -> tuple[str, Any] | None:
    """The REML fit where there is one (the usual report of an LMM), else the ML fit."""
    for method in ("reml", "ml"):
        if method in by_method:
            return method, by_method[method]
    return None


def _predictors(design: Any) -> list[str]:
    """Fixed-effect columns that vary (not the intercept, not constant dummies), at most a few."""
    import numpy as np

    names = [name for j, name in enumerate(design.fixef_names)
             if name != "(Intercept)" and np.unique(design.X[:, j]).size > 1]
    return names[:MAX_PREDICTOR_PANELS]


def _residual_panel(label: str, method: str, fit: Any) -> Panel:
    tag = f"{label}-{method}"
    name = METHOD_LABELS.get(method, method)
    figures = [draw(f"{tag}-resid-fitted", f"{name}: residuals vs fitted", lambda: plots.residuals_vs_fitted(fit))]
    figures += [draw(f"{tag}-resid-{predictor}", f"{name}: residuals vs {predictor}",
                     lambda predictor=predictor: plots.residuals_vs_predictor(fit, predictor))
                for predictor in _predictors(fit.design)]
    figures += [draw(f"{tag}-qq-resid", f"{name}: normal QQ of residuals", lambda: plots.qq_residuals(fit)),
                draw(f"{tag}-qq-ranef", f"{name}: normal QQ of each random-effect column", lambda: plots.qq_ranef(fit)),
                draw(f"{tag}-caterpillar", f"{name}: random effects with intervals", lambda: plots.caterpillar(fit))]
    design = fit.design
    if design.family == "gaussian" and any("(Intercept)" in term.columns for term in design.terms):
        figures.append(draw(f"{tag}-shrinkage", f"{name}: shrinkage of group means", lambda: plots.shrinkage(fit)))
    return Panel(f"{label}, {name} fit: residual and random-effect diagnostics", tuple(figures))


def _predictive_panel(label: str, fit: Any, prior_fit: Any | None) -> Panel:
    tag = f"{label}-bayes"
    figures = [draw(f"{tag}-ppc", "posterior predictive: observed vs replicated data", lambda: predictive_density(fit)),
               draw(f"{tag}-ppc-group", "posterior predictive group means", lambda: predictive_by_group(fit))]
    if prior_fit is not None:
        figures.append(draw(f"{tag}-prior-predictive", "prior predictive: data the priors imagine",
                            lambda: predictive_density(prior_fit, title="Prior predictive check")))
    return Panel(f"{label}, Bayes fit: posterior and prior predictive checks", tuple(figures))


def _note_quick(context: Any, section: Section) -> None:
    skipped = [label for label in context.fits if label not in context.diagnosed()]
    if skipped:
        section.add(Paragraph(f"Quick (draft) report: figures for the first model only, none for "
                              f"{', '.join(skipped)}.", "note"))


def diagnostics_section(context: Any) -> Section:
    """Per model: a panel grid for the frequentist fit, one for the Bayesian fit, and the predictive checks."""
    section = Section("diagnostics", "Diagnostics")
    section.add(Paragraph("Residuals against fitted values and each predictor (a trend or funnel shows a missing term "
                          "or unequal variance), normal QQ plots of the residuals and of each random-effect column "
                          "with 95% simulation envelopes, the random effects with their intervals, shrinkage of the "
                          "group means, and posterior / prior predictive checks. For a GLMM the normal QQ plot of "
                          "Pearson residuals is not expected to be straight: see the simulated residuals below."))
    _note_quick(context, section)
    for label, by_method in context.diagnosed().items():
        section.add(Heading(label))
        frequentist = _frequentist(by_method)
        if frequentist is not None:
            context.step(f"diagnostics {label} {frequentist[0]}")
            section.add(_residual_panel(label, *frequentist))
        if "bayes" in by_method:
            context.step(f"diagnostics {label} bayes")
            section.add(_residual_panel(label, "bayes", by_method["bayes"]))
            section.add(_predictive_panel(label, by_method["bayes"], context.prior_fit(label)))
    return section


def simulated_residuals_section(context: Any) -> Section:
    """DHARMa's scaled residuals for the ML and Bayesian fits of every model, with their three tests."""
    section = Section("simulated-residuals", "Simulated (DHARMa) residuals")
    section.add(Paragraph(
        f"Each observation's rank among {SIMULATIONS} responses simulated from the fit (ties of discrete responses "
        "broken at random): uniform on (0, 1) when the model is right, whatever the family. Simulations are "
        "conditional on the fitted random effects (Bayes: one posterior predictive draw per posterior draw). "
        "The dispersion test compares var(y − ŷ) with its simulated distribution; conditional simulations make it "
        "lean towards underdispersion (the fitted random effects absorb part of the noise), so for ML fits the "
        "table also gives the test with new random effects simulated (unconditional), the calibrated one. The "
        "outlier test counts observations outside every simulation."))
    _note_quick(context, section)
    seed = context.spec.sampler.seed if context.spec is not None else 0
    for label, by_method in context.diagnosed().items():
        rows, figures = [], []
        for method in ("ml", "reml", "bayes"):
            fit = by_method.get(method)
            if fit is None or (method == "reml" and "ml" in by_method):
                continue
            context.step(f"simulated residuals {label} {method}")
            name = METHOD_LABELS[method]
            result = simulate_residuals(fit, n=SIMULATIONS, seed=seed, label=name)
            rows += [{"fit": name, "simulation": "conditional", "test": test.name, "statistic": test.statistic,
                      "p": test.p_value, "what": test.description} for test in result.tests()]
            if method != "bayes":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    unconditional = simulate_residuals(fit, n=SIMULATIONS, seed=seed, conditional=False, label=name)
                test = unconditional.dispersion()
                rows.append({"fit": name, "simulation": "unconditional", "test": test.name,
                             "statistic": test.statistic, "p": test.p_value, "what": test.description})
            figures.append(draw(f"{label}-{method}-dharma", f"{name}: simulated residuals",
                                lambda result=result: scaled_residuals(result, f"Simulated residuals: {label}, {name}")))
        section.add(Heading(label))
        section.add(Table(f"{label}: tests on the scaled residuals", pd.DataFrame(rows).set_index(["fit", "simulation", "test"])))
        section.add(Panel(f"{label}: uniform QQ, residuals vs predicted, dispersion", tuple(figures), wide=True))
    return section


def sampler_section(context: Any) -> Section:
    """R-hat, ESS, divergences and E-BFMI from each Bayesian fit's diagnose(), its posterior table, rank plots."""
    section = Section("sampler", "Sampler diagnostics")
    bayes = {label: by_method["bayes"] for label, by_method in context.fits.items() if "bayes" in by_method}
    if not bayes:
        return section.add(Paragraph("No Bayesian fits in this report."))
    for label, fit in bayes.items():
        context.step(f"sampler diagnostics {label}")
        section.add(Heading(label))
        diagnosis = fit.diagnose()
        if diagnosis is not None:
            section.add(Paragraph(str(diagnosis).splitlines()[0]))
            section.add(*(Paragraph(problem, "warning") for problem in diagnosis.problems))
            if diagnosis.ok:
                section.add(Paragraph("All convergence checks passed."))
        section.add(Table(f"{label}: posterior summary with R-hat and ESS", _posterior_table(fit)))
        section.add(Panel(f"{label}: rank plots (uniform bars when chains mix well)",
                          (draw(f"{label}-rank", "rank plots", lambda fit=fit: plots.rank(fit)),)))
    return section


def _posterior_table(fit: Any) -> pd.DataFrame:
    """ArviZ's summary of the population-level parameters."""
    import arviz as az

    from ..plots.bayesian import _population_vars

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.summary(fit.idata, var_names=_population_vars(fit.idata), kind="all", round_to=4)

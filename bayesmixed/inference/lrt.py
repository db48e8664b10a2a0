"""Likelihood-ratio tests between nested fits (lme4's anova) and AIC/BIC tables, with the lecture's rules.

- Fits by REML are refitted by ML before testing (lme4's refit = TRUE), and the table says so.
- refit=False keeps REML only when the fixed effects are identical (then the REML likelihood ratio
  tests the variance components); with different fixed effects it is refused, with the reason.
- H0: σ² = 0 sits on the boundary of the parameter space, where the χ² reference distribution is
  wrong (the p-value is too large): the table notes it, with the 50:50 χ² mixture p-value and a pointer
  to the parametric bootstrap.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import BayesmixedError
from .fits import (REML_FIXED_EFFECTS_EXPLANATION, added_variances, check_same_data, fit_label, is_reml, ml_version,
                   nesting_problems, require_frequentist, same_fixed_effects)
from .fixed_anova import TermTests, term_tests
from .table import NotedFrame

ANOVA_COLUMNS = ["npar", "aic", "bic", "loglik", "deviance", "chisq", "df", "p"]


def labelled_fits(fits: tuple[Any, ...], named_fits: dict[str, Any]) -> dict[str, Any]:
    """Positional fits labelled by their formulas (made unique), keyword fits by their keywords."""
    labelled: dict[str, Any] = {}
    for fit in fits:
        label, copy = fit_label(fit), 2
        while label in labelled:
            label, copy = f"{fit_label(fit)} [{copy}]", copy + 1
        labelled[label] = fit
    for name, fit in named_fits.items():
        if name in labelled:
            raise BayesmixedError(f"two fits are labelled {name!r}")
        labelled[name] = fit
    return labelled


def prepare_for_comparison(labelled: dict[str, Any], refit: bool, what: str,
                           refit_option: bool = True) -> tuple[dict[str, Any], list[str]]:
    """The fits to compare (ML refits of REML fits when refit) and the notes saying what was done.

    refit_option=False is for callers without a refit argument (aic_table, which compares REML fits
    as they are): the messages then do not point to one.
    """
    fits = list(labelled.values())
    require_frequentist(fits, what)
    if len(fits) < 2:
        raise BayesmixedError(f"{what} compares two or more fits; got {len(fits)}")
    check_same_data(fits, what)
    reml_labels = [label for label, fit in labelled.items() if is_reml(fit)]
    if not reml_labels:
        return dict(labelled), []
    if refit:
        fixed_differ = not all(same_fixed_effects(fits[0], other) for other in fits[1:])
        why = ("needed here: REML likelihoods of fits with different fixed effects are likelihoods of different "
               "data and cannot be compared" if fixed_differ else
               "as lme4's anova does; the fixed effects are identical, so refit=False (a REML test of the variance "
               "components) is valid too")
        note = f"refitted with ML (instead of REML): {', '.join(reml_labels)}; {why}"
        return {label: ml_version(fit) for label, fit in labelled.items()}, [note]
    if len(reml_labels) < len(fits):
        raise BayesmixedError(f"{what} cannot mix REML and ML fits" + ("; refit the REML fits by ML (refit=True)"
                              if refit_option else ": their likelihoods are of different things"))
    if not all(same_fixed_effects(fits[0], other) for other in fits[1:]):
        raise BayesmixedError((f"{what} with refit=False refused: the fits differ in fixed effects. " if refit_option
                               else f"{what} refused: these REML fits differ in fixed effects. ")
                              + REML_FIXED_EFFECTS_EXPLANATION)
    note = ("REML likelihoods (refit=False): valid here because every fit has the same fixed effects, so the "
            "test compares the variance components only" if refit_option
            else "REML fits with identical fixed effects: their AICs compare the variance components only")
    return dict(labelled), [note]


def boundary_note(small_label: str, big_label: str, variances: list[str], chisq: float, df: int, p: float) -> str:
    """What H0: σ² = 0 on the boundary does to the χ² p-value, with the mixture p-value when it applies."""
    text = (f"{big_label} vs {small_label}: H0 sets the variance of ({'), ('.join(variances)}) to 0, the boundary "
            f"of its parameter space, so the χ² p-value ({p:.4g}) is conservative (too large)")
    if len(variances) == 1:
        mixture = 0.5 * stats.chi2.sf(chisq, df) + 0.5 * (stats.chi2.sf(chisq, df - 1) if df > 1 else 0.0)
        text += f"; the 50:50 mixture of χ²({df - 1}) and χ²({df}) (χ²(0) being a point mass at 0) gives p = {mixture:.4g}"
    return text + "; bootstrap_lrt(small, big) gives a parametric-bootstrap p-value"


def anova(*fits: Any, refit: bool = True, type: str | None = None, ddf: str | None = None,
          **named_fits: Any) -> NotedFrame | TermTests:
    """Likelihood-ratio tests between nested fits, in increasing npar: χ² = 2(ℓ_bigger − ℓ_smaller) on
    Δnpar degrees of freedom, each row against the row above (lme4's anova).

    Fits are labelled by their formulas, or by keyword: anova(null=m0, full=m1). REML fits are refitted
    by ML unless refit=False (allowed only when the fixed effects are identical). The returned table
    (columns npar, aic, bic, loglik, deviance, chisq, df, p) prints its notes beneath it.

    With one fit: F-tests of its fixed-effect terms as lmerTest's anova(fit), type "III" (default), "II"
    or "I", ddf "Satterthwaite" (default) or "Kenward-Roger"; Wald χ² for GLMMs (see fixed_anova).
    """
    if len(fits) + len(named_fits) == 1:
        (fit,) = fits or tuple(named_fits.values())
        return term_tests(fit, type=type or "III", ddf=ddf or "Satterthwaite")
    if type is not None or ddf is not None:
        raise BayesmixedError("type and ddf choose the F-tests of one fit's terms (anova(fit, type='II')); "
                              "with two or more fits anova compares them by likelihood ratio")
    labelled, notes = prepare_for_comparison(labelled_fits(fits, named_fits), refit, "anova")
    order = sorted(labelled, key=lambda label: labelled[label].npar)  # stable: ties keep the given order
    npars = [labelled[label].npar for label in order]
    if len(set(npars)) < len(npars):
        raise BayesmixedError(
            "anova needs nested fits, each with more parameters than the last; these have npar "
            + ", ".join(f"{label}: {labelled[label].npar}" for label in order)
        )
    rows = []
    for position, label in enumerate(order):
        fit = labelled[label]
        row = {"npar": fit.npar, "aic": fit.aic, "bic": fit.bic, "loglik": fit.loglik, "deviance": -2.0 * fit.loglik,
               "chisq": np.nan, "df": np.nan, "p": np.nan}
        if position:
            previous = labelled[order[position - 1]]
            row["chisq"] = max(0.0, 2.0 * (fit.loglik - previous.loglik))
            row["df"] = fit.npar - previous.npar
            row["p"] = float(stats.chi2.sf(row["chisq"], row["df"]))
            notes.extend(_pair_notes(order[position - 1], previous, label, fit, row))
        rows.append(row)
    unconverged = [label for label in order if getattr(labelled[label], "converged", True) is False]
    if unconverged:
        notes.append(f"not converged: {', '.join(unconverged)}; their log-likelihoods may be too low")
    likelihood = "REML" if any(is_reml(fit) for fit in labelled.values()) else "ML"
    notes.append(f"{likelihood} log-likelihoods; each row tested against the row above: chisq = 2Δℓ on df = Δnpar, "
                 "p from the χ² distribution")
    table = pd.DataFrame(rows, index=pd.Index(order, name="model"), columns=ANOVA_COLUMNS)
    table["npar"] = table["npar"].astype(int)
    table["df"] = table["df"].astype("Int64")
    return NotedFrame.with_notes(table, notes)


def _pair_notes(small_label: str, small: Any, big_label: str, big: Any, row: dict) -> list[str]:
    notes = [f"{big_label} does not look nested in {small_label}: {problem}; the χ² test assumes nested models"
             for problem in nesting_problems(small, big)]
    if notes:
        # The boundary mixture and the small-sample caution are statements about nested models: for
        # models that are not nested they would lend the χ² p-value a meaning it does not have.
        return notes
    variances = added_variances(small, big)
    if variances:
        notes.append(boundary_note(small_label, big_label, variances, row["chisq"], int(row["df"]), row["p"]))
    if not same_fixed_effects(small, big):
        notes.append(f"{big_label} vs {small_label} differ in fixed effects: with few groups the χ² p-value for "
                     "fixed effects tends to be too small; bootstrap_lrt gives a parametric-bootstrap p-value")
    return notes


def aic_table(*fits: Any, **named_fits: Any) -> NotedFrame:
    """AIC = −2ℓ + 2·npar and BIC = −2ℓ + npar·log n per fit, smallest AIC first, with differences to it.

    REML fits with different fixed effects are refused (their REML likelihoods are of different data);
    REML fits with identical fixed effects are compared as they are.
    """
    labelled, notes = prepare_for_comparison(labelled_fits(fits, named_fits), refit=False, what="aic_table",
                                             refit_option=False)
    fit_list = list(labelled.values())
    random_parts = {tuple(fit.design.theta_names) for fit in fit_list if hasattr(fit.design, "theta_names")}
    if len(random_parts) > 1:
        notes.append("the fits differ in random effects: a variance near 0 does not count as a whole parameter, so "
                     "AIC's penalty is only approximate there (the lecture: comparing random-effects structures is "
                     "hard; prefer bootstrap_lrt or a Bayesian comparison)")
    table = pd.DataFrame(
        {"npar": [fit.npar for fit in fit_list], "loglik": [fit.loglik for fit in fit_list],
         "aic": [fit.aic for fit in fit_list], "bic": [fit.bic for fit in fit_list]},
        index=pd.Index(list(labelled), name="model"),
    ).sort_values("aic", kind="stable")
    likelihood = "REML" if any(is_reml(fit) for fit in fit_list) else "ML"
    notes.append(f"aic = −2ℓ + 2·npar and bic = −2ℓ + npar·log(n) from each fit's {likelihood} log-likelihood ℓ")
    table["delta_aic"] = table["aic"] - table["aic"].min()
    table["delta_bic"] = table["bic"] - table["bic"].min()
    return NotedFrame.with_notes(table, notes)

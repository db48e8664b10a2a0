"""Likelihood-ratio tests of fixed-effect terms by dropping each in turn (lme4's drop1(fit, test = "Chisq")).

Only terms that no other term contains can be dropped (R's drop.scope): dropping a main effect while its
interaction stays would test a hypothesis that depends on the coding.  Each reduced model is refitted by
maximum likelihood and compared with the full model: LRT = 2(ℓ_full − ℓ_reduced) on the number of columns
dropped, against χ².  A REML fit is refitted by ML first (REML likelihoods of models with different fixed
effects are not comparable).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import BayesmixedError
from ..families import get_family
from .fits import ml_version, require_frequentist
from .hypotheses import FixedTerm, term_structure
from .table import NotedFrame

DROP1_COLUMNS = ["npar", "aic", "lrt", "p"]


def drop1(fit: Any) -> NotedFrame:
    """Each droppable fixed-effect term removed in turn and the model refitted by ML: rows "<none>" (the
    full model) and one per term with npar (columns dropped), AIC, LRT = 2(ℓ_full − ℓ_reduced) and its
    χ²(npar) p-value, as lme4's drop1(fit, test = "Chisq")."""
    require_frequentist([fit], "drop1")
    notes = []
    if getattr(fit, "reml", False):
        notes.append("refitted with ML (instead of REML): REML likelihoods of models with different fixed effects "
                     "cannot be compared")
    full = ml_version(fit)
    structure = term_structure(full.design)
    droppable = [term for term in structure.terms
                 if not any(term.relative_of(other) for other in structure.terms)]
    if not droppable:
        raise BayesmixedError(f"{fit.design.formula!r} has no fixed-effect term to drop")
    rows = [{"npar": pd.NA, "aic": full.aic, "lrt": np.nan, "p": np.nan}]
    for term in droppable:
        reduced = _refit_without(full, term)
        lrt = max(0.0, 2.0 * (full.loglik - reduced.loglik))
        rows.append({"npar": len(term.columns), "aic": reduced.aic, "lrt": lrt,
                     "p": float(stats.chi2.sf(lrt, len(term.columns)))})
        if getattr(reduced, "converged", True) is False:
            notes.append(f"the refit without {term.label} did not converge: its LRT may be off")
    table = pd.DataFrame(rows, index=pd.Index(["<none>"] + [t.label for t in droppable], name="term"),
                         columns=DROP1_COLUMNS)
    table["npar"] = table["npar"].astype("Int64")
    return NotedFrame.with_notes(table, notes)


def _refit_without(fit: Any, term: FixedTerm) -> Any:
    """The model without the term's columns, fitted by ML from the full fit's θ."""
    design = fit.design
    keep = [j for j in range(design.p) if j not in set(term.columns)]
    reduced = dataclasses.replace(design, X=design.X[:, keep],
                                  fixef_names=tuple(design.fixef_names[j] for j in keep))
    if get_family(design.family).profiled_scale:
        from ..engines.lmm import fit_lmm

        return fit_lmm(reduced, reml=False, start=np.asarray(fit.theta))
    from ..engines.glmm.fit import fit_glmm

    return fit_glmm(reduced, fit.nagq, link=fit.link_name, start={"theta": np.asarray(fit.theta)},
                    check_derivatives=False)

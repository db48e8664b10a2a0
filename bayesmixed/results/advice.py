"""Messages about numerical trouble, written for students: what happened, and what to do about it.

Shared by the frequentist engines (LMM, GLMM): each takes plain facts and returns one paragraph.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..design.types import RandomTerm
from .varcorr import group_labels

SIMPLIFY = (
    "What to do: simplify the random effects - drop the correlation with `(x || g)`, or remove the term "
    "whose variance is zero - or fit the model with method='bayes', where a weakly informative prior "
    "keeps variances off zero and correlations off +-1."
)


def degenerate_parts(term: RandomTerm, block: np.ndarray, tol: float) -> list[str]:
    """What is degenerate in one term's Λ block: zero variances, or perfect correlation."""
    rows_zero = [c for c in range(term.n_columns) if np.all(np.abs(block[c]) < tol)]
    parts = [f"the variance of {term.columns[c]} is estimated as 0" for c in rows_zero]
    if not parts and np.any(np.abs(np.diag(block)) < tol):
        parts.append(f"the random effects {', '.join(term.columns)} are perfectly correlated (correlation +-1)")
    return parts


def singular_fit_message(terms: Sequence[RandomTerm], lambda_blocks: Sequence[np.ndarray], tol: float) -> str:
    """A boundary (singular) fit: which term is degenerate and what to do."""
    findings = []
    for label, term, block in zip(group_labels(terms), terms, lambda_blocks):
        findings += [f"{label}: {part}" for part in degenerate_parts(term, block, tol)]
    found = "; ".join(findings) if findings else "a random-effects covariance matrix is singular"
    return (
        f"boundary (singular) fit: {found}. The data do not support this random-effects structure. "
        "The estimates are still the (RE)ML optimum, but the model sits on the edge of its parameter space, "
        "so standard errors, tests and intervals that depend on this part of it are unreliable. " + SIMPLIFY
    )


def convergence_message(problems: Sequence[str]) -> str:
    """The optimiser's end point failed lme4's checks: the estimates may not be the optimum."""
    return (
        f"the optimiser may not have converged ({'; '.join(problems)}). The estimates might not maximise the "
        "likelihood. What to do: centre and scale continuous predictors (very different scales are the usual "
        "cause), simplify the random effects (use `||`, drop a term), or compare with method='bayes'."
    )


def identifiability_message(problems: Sequence[str]) -> str:
    """Hessian warnings that are not convergence failures: the criterion is nearly flat in some direction."""
    return (
        f"{'; '.join(problems)}. Some covariance parameters are only weakly determined by these data. "
        "What to do: centre and scale continuous predictors; if that does not help, simplify the random effects."
    )

"""Messages about numerical trouble, written for students: what happened, and what to do about it.

Shared by the frequentist engines (LMM, GLMM): each takes plain facts and returns one paragraph.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..design.types import RandomTerm

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


SINGULAR_PREFIX = "boundary (singular) fit"


def boundary_theta_names(term: RandomTerm, block: np.ndarray, tol: float) -> list[str]:
    """lme4's names of the term's θ held at their lower bound 0 (diagonal entries of Λ's block below tol)."""
    rows, cols = term.theta_pattern()
    return [name for name, r, c in zip(term.theta_names(), rows, cols) if r == c and abs(block[r, c]) < tol]


def term_advice(term: RandomTerm, block: np.ndarray, tol: float) -> str:
    """What to do about one degenerate term: drop a scalar term; for a vector term, `||` or fewer columns."""
    if term.n_columns == 1:
        return (f"consider dropping {term.label}: its variance is 0, so the groups of {term.group} add nothing "
                "beyond the other terms and the residual variation")
    zero = [term.columns[c] for c in range(term.n_columns) if np.all(np.abs(block[c]) < tol)]
    uncorrelated = f"({term.lhs} || {term.group})"
    if zero:
        return (f"use a simpler structure for {term.label}: drop {', '.join(zero)} from it (its variance is 0), "
                f"or fit the columns without correlations, {uncorrelated}")
    return (f"drop the correlation with {uncorrelated}, or use a simpler structure for {term.label} "
            "(fewer columns)")


def singular_fit_message(terms: Sequence[RandomTerm], lambda_blocks: Sequence[np.ndarray], tol: float) -> str:
    """A boundary (singular) fit (lme4's "boundary (singular) fit: see help('isSingular')"): which term and
    which θ sit at the boundary, and advice that fits each such term."""
    findings, advice = [], []
    for term, block in zip(terms, lambda_blocks):
        parts = degenerate_parts(term, block, tol)
        if not parts:
            continue
        at_bound = boundary_theta_names(term, block, tol)
        findings.append(f"{term.label}: {'; '.join(parts)} (theta {', '.join(at_bound)} = 0, its lower bound)")
        advice.append(term_advice(term, block, tol))
    found = "; ".join(findings) if findings else "a random-effects covariance matrix is singular"
    todo = "; ".join(advice) if advice else "simplify the random effects"
    return (
        f"{SINGULAR_PREFIX}: {found}. The data do not support this random-effects structure. "
        "The estimates are still the (RE)ML optimum, but the model sits on the edge of its parameter space, "
        "so standard errors, tests and intervals that depend on this part of it are unreliable. "
        f"What to do: {todo}; or fit the model with method='bayes', where a weakly informative prior keeps "
        "variances off zero and correlations off +-1."
    )


class SingularFitWarning(UserWarning):
    """A fit ended on the boundary of its parameter space (a variance 0 or a correlation +-1)."""


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

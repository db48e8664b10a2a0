"""What can go wrong in a GLMM fit, found and said plainly: separation, PIRLS failure, overdispersion.

Each check takes plain facts of a finished fit and returns messages that say what happened and
what to do (in the style of results.advice); fit_glmm puts them in `messages` and warns with them.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ...design.types import Design
from ...results.advice import SIMPLIFY
from ...results.varcorr import group_labels
from .pirls import Problem

# A fitted mean this close to the edge of its range is 0 or 1 (or a 0 count) for any practical purpose.
BOUNDARY_MEAN = 1e-6
# Beyond this |β| (on the link scale) a coefficient whose rows all sit on the boundary is running to ±∞.
LARGE_COEFFICIENT = 8.0
# Random-effect sd beyond this on the link scale (odds or rates multiplied by e^±16 at ±2 sd) is not a
# variance the data can pin down: it is separation of the term's levels.
LARGE_SD = 8.0

BAYES_ADVICE = (
    "or fit the model with method='bayes', where a weakly informative prior keeps the estimates finite"
)


class GlmmWarning(UserWarning):
    """Numerical trouble in a GLMM fit (separation, PIRLS or optimiser failure, singular fit)."""


def separation_messages(problem: Problem, beta: np.ndarray, theta: np.ndarray, eta: np.ndarray) -> list[str]:
    """Fixed effects or random terms driven towards ±∞ by outcomes that are all 0 (or all 1) where they act."""
    design: Design = problem.design
    mu = problem.family.link.inverse(eta)
    boundary = problem.family.on_boundary(mu, BOUNDARY_MEAN)
    messages = []
    separated = [
        name for j, name in enumerate(design.fixef_names)
        if abs(beta[j]) > LARGE_COEFFICIENT and np.all(boundary[problem.X[:, j] != 0])
    ]
    if separated:
        messages.append(
            f"separation: the fixed effect{'s' if len(separated) > 1 else ''} {', '.join(repr(s) for s in separated)} "
            f"{'are' if len(separated) > 1 else 'is'} running off to infinity - every observation where "
            f"{'they act has' if len(separated) > 1 else 'it acts has'} fitted mean 0 or 1 (or 0 counts), so the "
            "maximum-likelihood estimate does not exist and its standard error is meaningless. What to do: merge "
            f"or drop the category whose outcomes are all the same, {BAYES_ADVICE}."
        )
    outcome = problem.family.extreme_outcome(problem.y)
    for label, term, block in zip(group_labels(design.terms), design.terms, design.lambda_blocks(theta)):
        sd = np.sqrt(np.diag(block @ block.T))
        if sd.max() <= LARGE_SD:
            continue
        all_extreme = np.bincount(term.codes, weights=~outcome, minlength=term.n_levels) == 0
        messages.append(
            f"separation in the random term {term.label}: its standard deviation is estimated at {sd.max():.3g} on the "
            f"{problem.family.link.name} scale, because {int(all_extreme.sum())} of its {term.n_levels} levels of "
            f"{label!r} have outcomes that are all 0 (or all 1), which pushes their effects towards infinity; "
            "the maximum-likelihood variance may be infinite. What to do: drop or merge those levels, simplify "
            f"the random effects, {BAYES_ADVICE}."
        )
    if not messages and boundary.mean() > 0.0 and problem.family.bounded_mean:
        messages.append(
            f"fitted probabilities numerically 0 or 1 occurred in {int(boundary.sum())} of {boundary.size} rows: "
            "some outcomes are (nearly) perfectly predicted, which can make estimates and standard errors "
            f"unstable. What to do: look for a category or level whose outcomes are all the same, {BAYES_ADVICE}."
        )
    return messages


def pirls_message(failure: str) -> str:
    """PIRLS failed at the optimum: the modes (and so the likelihood) there are not trustworthy."""
    return (
        f"PIRLS (the inner iteration for the random effects' conditional modes) failed at the estimates: "
        f"{failure}. The reported likelihood and estimates may be wrong. What to do: check for levels whose "
        f"outcomes are all 0 or all 1, simplify the random effects, {BAYES_ADVICE}."
    )


def pirls_trouble_message(count: int, total: int, example: str) -> str:
    """PIRLS failed at some trial points of the optimiser but not at the estimates."""
    return (
        f"PIRLS failed at {count} of {total} trial parameter values during optimisation (for example: {example}); "
        "the optimiser steered around them and the final estimates converged, but the likelihood surface is "
        f"awkward. {SIMPLIFY}"
    )


def overdispersion(problem: Problem, eta: np.ndarray, df_residual: int) -> tuple[float, float, float]:
    """(Pearson χ², its ratio to the residual df, p-value of χ²_df > observed) for a Poisson fit."""
    mu = problem.family.link.inverse(eta)
    chi2 = float(np.sum((problem.y - mu) ** 2 / mu))
    ratio = chi2 / df_residual if df_residual > 0 else np.nan
    p = float(special.chdtrc(df_residual, chi2)) if df_residual > 0 else np.nan
    return chi2, ratio, p


def overdispersion_note(chi2: float, ratio: float, p: float, df_residual: int) -> str:
    """The summary's line on Poisson overdispersion, with advice when the ratio is well above 1."""
    line = f"Overdispersion check: Pearson chi2 = {chi2:.1f} on {df_residual} residual df, ratio = {ratio:.3f}, p = {p:.3g}"
    if ratio > 1.5 and p < 0.05:
        line += (
            " - the counts vary more than a Poisson model allows, so standard errors are too small. What to do: "
            "add an observation-level random effect, (1 | obs) with obs = one level per row, or model the extra "
            "variation another way."
        )
    return line

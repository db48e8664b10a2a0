"""The variance parameters on lme4's profiling scale: standard deviations and correlations, then σ.

θ holds each term's relative Cholesky factor Λ_t (column-wise lower triangle); the covariance of one
level's random effects is σ² Λ_t Λ_t'.  The sd/cor vector has θ's layout with each diagonal entry
replaced by an sd and each off-diagonal one by a correlation (lme4's Cv_to_Sv), and σ appended.
"""

from __future__ import annotations

import numpy as np

from ..design.types import Design

# Below this fraction of its diagonal, a pivot of a covariance matrix counts as zero (a singular fit).
PIVOT_TOL = 1e-12


def psd_cholesky(covariance: np.ndarray) -> np.ndarray:
    """Lower-triangular L with LL' = S for a positive semi-definite S; a zero pivot gives a zero column.

    Raises ValueError when S is not positive semi-definite (correlations that no matrix can have).
    """
    k = covariance.shape[0]
    chol = np.zeros((k, k))
    for j in range(k):
        pivot = covariance[j, j] - chol[j, :j] @ chol[j, :j]
        if pivot < -PIVOT_TOL * max(1.0, abs(covariance[j, j])):
            raise ValueError("not positive semi-definite")
        if pivot <= PIVOT_TOL * max(1.0, abs(covariance[j, j])):
            residual = covariance[j + 1:, j] - chol[j + 1:, :j] @ chol[j, :j]
            if np.any(np.abs(residual) > 1e-8 * max(1.0, np.abs(covariance).max())):
                raise ValueError("not positive semi-definite")
            continue
        chol[j, j] = np.sqrt(pivot)
        chol[j + 1:, j] = (covariance[j + 1:, j] - chol[j + 1:, :j] @ chol[j, :j]) / chol[j, j]
    return chol


def sdcor_from_theta(design: Design, theta: np.ndarray, sigma: float) -> np.ndarray:
    """(sd and correlation of each term in θ's layout, σ): lme4's Cv_to_Sv with σ appended."""
    values = []
    for term, block in zip(design.terms, design.lambda_blocks(np.asarray(theta, dtype=float))):
        covariance = sigma**2 * block @ block.T
        sd = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
        for r, c in zip(*term.theta_pattern()):
            if r == c:
                values.append(sd[r])
            else:
                values.append(covariance[r, c] / (sd[r] * sd[c]) if sd[r] > 0 and sd[c] > 0 else 0.0)
    return np.array(values + [sigma])


def theta_from_sdcor(design: Design, sdcor: np.ndarray) -> np.ndarray:
    """θ for a vector of sds, correlations and σ (lme4's Sv_to_Cv); ValueError for impossible correlations."""
    sigma = sdcor[-1]
    theta = np.empty(design.n_theta)
    for term, theta_slice in zip(design.terms, design.theta_slices):
        rows, cols = term.theta_pattern()
        values = sdcor[theta_slice]
        k = term.n_columns
        sd = np.zeros(k)
        correlation = np.eye(k)
        for (r, c), value in zip(zip(rows, cols), values):
            if r == c:
                sd[r] = value
            else:
                correlation[r, c] = correlation[c, r] = value
        block = psd_cholesky(correlation * np.outer(sd, sd) / sigma**2)
        theta[theta_slice] = block[rows, cols]
    return theta


def sdcor_bounds(design: Design) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the sd/cor/σ vector: sds and σ in [0, ∞), correlations in [-1, 1]."""
    diagonal = design.theta_lower == 0
    lower = np.append(np.where(diagonal, 0.0, -1.0), 0.0)
    upper = np.append(np.where(diagonal, np.inf, 1.0), np.inf)
    return lower, upper


def sdcor_names(design: Design, old_names: bool = True) -> list[str]:
    """lme4's names: '.sig01', ..., '.sigma' (old_names) or 'sd_(Intercept)|Subject',
    'cor_Days.(Intercept)|Subject', ..., 'sigma'."""
    if old_names:
        return [f".sig{i + 1:02d}" for i in range(design.n_theta)] + [".sigma"]
    names = []
    for term in design.terms:
        for r, c in zip(*term.theta_pattern()):
            if r == c:
                names.append(f"sd_{term.columns[r]}|{term.group}")
            else:
                names.append(f"cor_{term.columns[r]}.{term.columns[c]}|{term.group}")
    return names + ["sigma"]


def embed_theta(small: Design, big: Design, theta_small: np.ndarray) -> np.ndarray:
    """θ of `big` giving the random effects the covariance that `small` has at θ_small (relative to σ).

    Covariances are matched by (grouping factor, column) names; what `small` lacks is 0.  When `small`
    is nested in `big`, big's criterion at this θ is at most small's: a refit of `big` started here
    cannot end above the refit of `small`, so bootstrap statistics stay >= 0.
    """
    covariance_of: dict[tuple[str, str, str], float] = {}
    for term, block in zip(small.terms, small.covariance_blocks(np.asarray(theta_small, dtype=float))):
        for a, column_a in enumerate(term.columns):
            for b, column_b in enumerate(term.columns):
                covariance_of[(term.group, column_a, column_b)] = block[a, b]
    theta = np.empty(big.n_theta)
    for term, theta_slice in zip(big.terms, big.theta_slices):
        columns = term.columns
        covariance = np.array([[covariance_of.get((term.group, a, b), 0.0) for b in columns] for a in columns])
        if not term.correlated:
            covariance = np.diag(np.diag(covariance))
        rows, cols = term.theta_pattern()
        try:
            theta[theta_slice] = psd_cholesky(covariance)[rows, cols]
        except ValueError:
            theta[theta_slice] = np.sqrt(np.clip(np.diag(covariance), 0.0, None))[rows] * (rows == cols)
    return theta

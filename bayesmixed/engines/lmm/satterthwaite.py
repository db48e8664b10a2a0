"""Satterthwaite degrees of freedom for fixed-effect contrasts, as lmerTest computes them.

With varpar = (θ, σ): A = 2 H⁻¹, H the Hessian of -2 log L(θ, σ) (β at its optimum; REML's form
for REML fits), and J_k = ∂ vcov(β) / ∂ varpar_k.  For a contrast l: df = 2 (l'Cl)² / (g'Ag) with
C = vcov(β) and g_k = l'J_k l.  Derivatives are numDeriv's Richardson differences, as in lmerTest.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..blocked_factor import factorize
from ..derivatives import richardson_hessian, richardson_jacobian
from .objective import deviance_from_terms
from .system import PlsSystem

# lmerTest's tolerance for "positive" eigenvalues of H when inverting it (Moore-Penrose).
EIGEN_TOL = 1e-8


@dataclass(frozen=True, eq=False)
class Satterthwaite:
    """The pieces lmerTest keeps: vcov(β) at the fit, A = vcov(varpar), and ∂vcov(β)/∂varpar."""

    vcov_beta: np.ndarray
    vcov_varpar: np.ndarray
    jacobian: np.ndarray  # (n_varpar, p, p)

    def df(self, contrast: np.ndarray) -> float:
        """Satterthwaite df of l'β for a contrast vector l: 2 (l'Cl)² / (g'Ag)."""
        contrast = np.asarray(contrast, dtype=float)
        variance = contrast @ self.vcov_beta @ contrast
        gradient = np.einsum("i,kij,j->k", contrast, self.jacobian, contrast)
        return float(2.0 * variance**2 / (gradient @ self.vcov_varpar @ gradient))

    def coefficient_df(self) -> np.ndarray:
        """df of each coefficient β_i on its own (the summary table's df column)."""
        return np.array([self.df(row) for row in np.eye(self.vcov_beta.shape[0])])


def satterthwaite(system: PlsSystem, theta: np.ndarray, sigma: float, reml: bool) -> Satterthwaite:
    """lmerTest's Satterthwaite ingredients at the fitted (θ, σ)."""

    @lru_cache(maxsize=None)
    def at_theta(key: bytes) -> tuple[tuple[float, float, float], np.ndarray]:
        # Keep the factor's scalars and the p x p covariance only, not its (possibly large) blocks.
        factor = factorize(system, np.frombuffer(key))
        return (factor.logdet_random, factor.logdet_fixed, factor.pwrss), factor.unscaled_vcov()

    def deviance(varpar: np.ndarray) -> float:
        terms, _ = at_theta(varpar[:-1].tobytes())
        return deviance_from_terms(*terms, system.n, system.p, varpar[-1], reml)

    def vcov_beta(varpar: np.ndarray) -> np.ndarray:
        return varpar[-1] ** 2 * at_theta(varpar[:-1].tobytes())[1]

    varpar = np.append(np.asarray(theta, dtype=float), sigma)
    hessian = richardson_hessian(deviance, varpar)
    eigenvalues, vectors = np.linalg.eigh(hessian)
    positive = eigenvalues > EIGEN_TOL
    pseudo_inverse = (vectors[:, positive] / eigenvalues[positive]) @ vectors[:, positive].T
    p = system.p
    jacobian = richardson_jacobian(lambda v: vcov_beta(v).ravel(), varpar)  # (p*p, n_varpar)
    return Satterthwaite(
        vcov_beta=vcov_beta(varpar),
        vcov_varpar=2.0 * pseudo_inverse,
        jacobian=np.moveaxis(jacobian.reshape(p, p, varpar.size), -1, 0),
    )

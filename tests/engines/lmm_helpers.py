"""Shared pieces of the LMM tests: each reference model fitted once per session, and dense formulas.

The dense formulas (V = I + ZΛΛ'Z' as an n x n matrix) are the textbook definitions the engine's
blocked kernels must agree with; they are only usable on small designs.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

import bayesmixed as bm
from bayesmixed.design.types import Design
from bayesmixed.engines.lmm import fit_lmm
from bayesmixed.results.lmm import LmmFit
from tests.conftest import as_list, named, reference_fits

LMM_REFERENCES = reference_fits("gaussian")


@lru_cache(maxsize=None)
def reference_design(fit_id: str) -> Design:
    spec = LMM_REFERENCES[fit_id]
    return bm.build_design(spec["formula"], bm.datasets.load(spec["data"]))


@lru_cache(maxsize=None)
def reference_fit(fit_id: str) -> LmmFit:
    """The engine's fit of one reference model (cached: several tests read the same fit)."""
    spec = LMM_REFERENCES[fit_id]
    return fit_lmm(reference_design(fit_id), reml=spec["method"] == "REML")


def reference_vector(spec: dict, key: str) -> np.ndarray:
    names = spec["fixef"].keys() if isinstance(spec["fixef"], dict) else ["(Intercept)"]
    return np.array(list(named(spec[key], list(names)).values()), dtype=float)


def reference_theta(spec: dict) -> np.ndarray:
    return np.array(as_list(spec["theta"]), dtype=float)


def dense_reference(design: Design, theta: np.ndarray, reml: bool) -> dict:
    """Criterion, β̂, σ̂, conditional modes and condVar from the n x n marginal covariance."""
    n, p = design.n, design.p
    Z = design.Z.toarray()
    lam = design.Lambda(theta).toarray()
    ZL = Z @ lam
    V0 = np.eye(n) + ZL @ ZL.T  # Var(y) / σ²
    X, y = design.X, design.y - design.offset
    V0inv = np.linalg.inv(V0)
    xtvx = X.T @ V0inv @ X
    beta = np.linalg.solve(xtvx, X.T @ V0inv @ y)
    resid = y - X @ beta
    pwrss = resid @ V0inv @ resid
    logdet_v = np.linalg.slogdet(V0)[1]
    if reml:
        objective = logdet_v + np.linalg.slogdet(xtvx)[1] + (n - p) * (1 + np.log(2 * np.pi * pwrss / (n - p)))
        sigma2 = pwrss / (n - p)
    else:
        objective = logdet_v + n * (1 + np.log(2 * np.pi * pwrss / n))
        sigma2 = pwrss / n
    modes = lam @ lam.T @ Z.T @ V0inv @ resid
    q = lam.shape[0]
    cond_cov = sigma2 * lam @ np.linalg.inv(ZL.T @ ZL + np.eye(q)) @ lam.T
    return {
        "objective": objective,
        "beta": beta,
        "sigma": np.sqrt(sigma2),
        "modes": modes,
        "cond_cov": cond_cov,
        "vcov": sigma2 * np.linalg.inv(xtvx),
        "pwrss": pwrss,
        "logdet_random": logdet_v,
    }


def crossed_data(seed: int = 11, correlated_second: bool = True) -> "pd.DataFrame":
    """Synthetic data with a scalar first term (g1, 40 levels) crossed with a vector term (x | g2, 8 levels)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = 240
    g1 = rng.integers(0, 40, n)
    g2 = rng.integers(0, 8, n)
    x = rng.uniform(-1, 2, n)
    a1 = rng.normal(0, 1.0, 40)
    b2 = rng.multivariate_normal([0, 0], [[1.0, 0.4], [0.4, 0.5]], 8)
    z = rng.normal(0, 1, n)
    y = 2 + 0.5 * x + a1[g1] + b2[g2, 0] + b2[g2, 1] * x + 0.3 * z + rng.normal(0, 0.7, n)
    return pd.DataFrame({"y": y, "x": x, "z": z, "g1": [f"a{i}" for i in g1], "g2": [f"b{i}" for i in g2]})

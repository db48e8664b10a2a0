"""Finite-difference derivatives: lme4's quick central differences and numDeriv's Richardson scheme.

`central_gradient_hessian` is lme4's deriv12 (step 1e-4), used for the convergence checks.
`richardson_hessian` / `richardson_jacobian` follow numDeriv's hessian / jacobian with the defaults
that lmerTest's Satterthwaite degrees of freedom are computed with: central differences at steps
h, h/2, h/4, h/8, extrapolated to h -> 0, which removes the O(h²) .. O(h⁶) error terms.  numDeriv's
hessian starts from a large relative step (10% of each coordinate), its jacobian from 0.01%;
matching lmerTest's df to 1e-2 needs the same steps, so they are kept.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# numDeriv's defaults: relative step d (hessian / jacobian), absolute step eps for coordinates near
# zero, r steps halved by v.
HESSIAN_RELATIVE_STEP = 0.1
JACOBIAN_RELATIVE_STEP = 1e-4
ABSOLUTE_STEP = 1e-4
ZERO_TOL = float(np.sqrt(np.finfo(float).eps / 7e-7))
RICHARDSON_STEPS = 4
STEP_RATIO = 2.0


def central_gradient(fun: Callable[[np.ndarray], float], x: np.ndarray, delta: float = 1e-4) -> np.ndarray:
    """Gradient (f(x+δe_i) - f(x-δe_i))/2δ by central differences of step δ."""
    x = np.asarray(x, dtype=float)
    step = delta * np.eye(x.size)
    return np.array([(fun(x + e) - fun(x - e)) / (2 * delta) for e in step])


def central_gradient_hessian(
    fun: Callable[[np.ndarray], float], x: np.ndarray, fx: float, delta: float = 1e-4
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient (f(x+δe_i) - f(x-δe_i))/2δ and Hessian by central differences of step δ (lme4's deriv12)."""
    x = np.asarray(x, dtype=float)
    k = x.size
    gradient, hessian = np.empty(k), np.empty((k, k))
    step = delta * np.eye(k)
    for i in range(k):
        f_add, f_sub = fun(x + step[i]), fun(x - step[i])
        gradient[i] = (f_add - f_sub) / (2 * delta)
        hessian[i, i] = (f_add + f_sub - 2 * fx) / delta**2
        for j in range(i):
            mixed = (
                fun(x + step[i] + step[j]) - fun(x + step[i] - step[j])
                - fun(x - step[i] + step[j]) + fun(x - step[i] - step[j])
            )
            hessian[i, j] = hessian[j, i] = mixed / (4 * delta**2)
    return gradient, hessian


def _base_steps(x: np.ndarray, relative: float) -> np.ndarray:
    return np.abs(relative * x) + ABSOLUTE_STEP * (np.abs(x) < ZERO_TOL)


def _extrapolate(estimates: np.ndarray) -> np.ndarray:
    """Richardson extrapolation over the first axis (steps h, h/v, h/v², ...) of an O(h²) estimate."""
    estimates = np.array(estimates, dtype=float)
    for m in range(1, estimates.shape[0]):
        factor = 4.0**m
        estimates = (factor * estimates[1:] - estimates[:-1]) / (factor - 1.0)
    return estimates[0]


def richardson_hessian(fun: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """Hessian of a scalar function by Richardson-extrapolated central differences (numDeriv::hessian)."""
    x = np.asarray(x, dtype=float)
    k = x.size
    f0 = fun(x)
    h0 = _base_steps(x, HESSIAN_RELATIVE_STEP)
    hessian = np.empty((k, k))
    steps = [h0 / STEP_RATIO**r for r in range(RICHARDSON_STEPS)]
    for i in range(k):
        second = []
        for h in steps:
            e = np.zeros(k)
            e[i] = h[i]
            second.append((fun(x + e) - 2 * f0 + fun(x - e)) / h[i] ** 2)
        hessian[i, i] = _extrapolate(second)
    for i in range(k):
        for j in range(i):
            mixed = []
            for h in steps:
                e = np.zeros(k)
                e[i], e[j] = h[i], h[j]
                value = (fun(x + e) - 2 * f0 + fun(x - e) - hessian[i, i] * h[i] ** 2 - hessian[j, j] * h[j] ** 2)
                mixed.append(value / (2 * h[i] * h[j]))
            hessian[i, j] = hessian[j, i] = _extrapolate(mixed)
    return hessian


def richardson_jacobian(fun: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """Jacobian (outputs x inputs) of a vector function by Richardson-extrapolated central differences."""
    x = np.asarray(x, dtype=float)
    h0 = _base_steps(x, JACOBIAN_RELATIVE_STEP)
    columns = []
    for i in range(x.size):
        slopes = []
        for r in range(RICHARDSON_STEPS):
            e = np.zeros(x.size)
            e[i] = h0[i] / STEP_RATIO**r
            slopes.append((np.ravel(fun(x + e)) - np.ravel(fun(x - e))) / (2 * e[i]))
        columns.append(_extrapolate(slopes))
    return np.column_stack(columns)

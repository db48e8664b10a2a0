"""Where chains start and the metric they start with: a few Newton steps on the log posterior.

Without a scale guess, the first warm-up window runs with a unit metric on parameters whose posterior
sds differ by 10⁴ (an intercept near 250 beside a log σ known to ±0.005), and most warm-up gradients go
there. The negative inverse Hessian at the mode, −H⁻¹ (a Laplace approximation), fixes that from the start.
Newton runs over `coordinates` only (all of them on the marginal route; β and log σ on the full route,
where u and the sds stay put); the other coordinates keep a unit metric.
"""

from __future__ import annotations

import numpy as np

NEWTON_STEPS = 25


def laplace_start(model: tuple, x0: np.ndarray, coordinates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mode, covariance (m, m) over the m coordinates) from damped Newton; falls back to (x0, I) on trouble."""
    from .kernels import route_log_density

    log_density = route_log_density(model)  # compiles (or loads) the route's kernel only
    grad = np.zeros(x0.size)

    def value_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
        lp = log_density(x, grad, model)
        return lp, grad[coordinates].copy()

    def hessian(x: np.ndarray) -> np.ndarray:
        """Central differences of the analytic gradient, symmetrised: (m, m) over the coordinates."""
        m = coordinates.size
        H = np.empty((m, m))
        for j, index in enumerate(coordinates):
            step = 1e-5 * max(1.0, abs(x[index]))
            shifted = x.copy()
            shifted[index] += step
            upper = value_and_gradient(shifted)[1]
            shifted[index] -= 2 * step
            lower = value_and_gradient(shifted)[1]
            H[:, j] = (upper - lower) / (2 * step)
        return 0.5 * (H + H.T)

    x = x0.copy()
    lp, g = value_and_gradient(x)
    identity = np.eye(coordinates.size)
    if not np.isfinite(lp):
        return x0, identity
    for _ in range(NEWTON_STEPS):
        precision = -hessian(x)
        try:
            np.linalg.cholesky(precision)
            direction = np.linalg.solve(precision, g)
        except np.linalg.LinAlgError:  # not concave here: a gradient step scaled by the curvature's size
            direction = g / max(np.abs(np.diag(precision)).max(), 1.0)
        scale = 1.0
        while scale > 1e-6:
            trial = x.copy()
            trial[coordinates] += scale * direction
            lp_trial, g_trial = value_and_gradient(trial)
            if np.isfinite(lp_trial) and lp_trial >= lp - 1e-10:
                break
            scale *= 0.5
        else:
            break
        improvement = lp_trial - lp
        x, lp, g = trial, lp_trial, g_trial
        if improvement < 1e-8:
            break
    try:
        root = np.linalg.inv(np.linalg.cholesky(-hessian(x)))
    except np.linalg.LinAlgError:
        return x, identity
    covariance = root.T @ root
    return (x, covariance) if np.all(np.isfinite(covariance)) else (x, identity)

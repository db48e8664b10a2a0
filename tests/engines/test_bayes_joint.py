"""The joint marginal route (every Gaussian structure: crossed, nested, several vector terms): its log density and
gradient against the dense multivariate normal and finite differences, γ's exact conditional, route choice,
and short default fits on penicillin (crossed) and pastes (nested) that must sample cleanly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.linalg import block_diag

import bayesmixed as bm
from bayesmixed.design import build_design
from bayesmixed.engines.bayes import default_priors, fit_bayes
from bayesmixed.engines.bayes.layout import MARGINAL, MARGINAL_JOINT, constrain_draws, make_layout, pack_model
from bayesmixed.engines.bayes.prior import cor_name, sd_name
from bayesmixed.engines.bayes.sample_stats import DIVERGING


def two_factor_frame(seed: int = 0, n: int = 70) -> pd.DataFrame:
    """A correlated (x | g) term crossed with (1 | h), unbalanced."""
    rng = np.random.default_rng(seed)
    g, h = rng.integers(0, 6, n), rng.integers(0, 8, n)
    x = rng.normal(size=n)
    b = rng.normal(size=(6, 2)) * [0.8, 0.4]
    y = 1.0 + 0.5 * x + b[g, 0] + b[g, 1] * x + 0.6 * rng.normal(size=8)[h] + 0.5 * rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{i}" for i in g], "h": [f"h{i}" for i in h]})


STRUCTURES = {
    "penicillin crossed": ("diameter ~ 1 + (1 | plate) + (1 | sample)", lambda: bm.datasets.load("penicillin")),
    "pastes nested": ("strength ~ 1 + (1 | batch/cask)", lambda: bm.datasets.load("pastes")),
    "correlated vector term crossed": ("y ~ x + (x | g) + (1 | h)", two_factor_frame),
    "uncorrelated vector term nested": ("y ~ x + (x || g/h)", two_factor_frame),
}


@pytest.fixture(scope="module", params=list(STRUCTURES))
def joint_case(request):
    formula, data = STRUCTURES[request.param]
    design = build_design(formula, data())
    layout = make_layout(design, MARGINAL_JOINT)
    return design, layout, pack_model(design, layout, default_priors(design))


def evaluate(model, x):
    from bayesmixed.engines.bayes.kernels import log_density

    grad = np.zeros(x.size)
    return log_density(np.asarray(x, dtype=float), grad, model), grad


def random_point(design, layout, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(scale=0.4, size=layout.size)
    x[0] += float(np.mean(design.y))  # the intercept near the data, so the likelihood is not flat
    return x


def marginal_covariance(design, layout, x, weights=None) -> np.ndarray:
    """V = σ²W⁻¹ + Z Λ Λ' Z' (n, n), built densely from the unconstrained point."""
    c = constrain_draws(layout, x)
    Lam = block_diag(*[np.kron(np.eye(t.n_levels), c[f"sd{i}"][:, None] * c[f"chol{i}"]) for i, t in enumerate(layout.terms)])
    Z = design.Z.toarray()
    residual = np.diag(1.0 / weights) if weights is not None else np.eye(design.n)
    return c["sigma"] ** 2 * residual + Z @ Lam @ Lam.T @ Z.T


def log_prior(design, layout, x) -> float:
    """The default priors' log density at x with the log and tanh Jacobians (scipy, not the kernel)."""
    priors = default_priors(design)
    c = constrain_draws(layout, x)

    def density(prior, value):
        p = dict(prior.params)
        if prior.family == "Normal":
            return stats.norm(p["mu"], p["sigma"]).logpdf(value)
        if prior.family == "HalfNormal":
            return stats.halfnorm(scale=p["sigma"]).logpdf(value)
        assert prior.family == "Exponential", prior
        return stats.expon(scale=1 / p["lam"]).logpdf(value)

    total = sum(density(priors[name], x[j]) for j, name in enumerate(design.fixef_names))
    total += density(priors["sigma"], c["sigma"]) + x[layout.sigma_index]
    for i, t in enumerate(layout.terms):
        for a, column in enumerate(t.columns):
            total += density(priors[sd_name(t.group, column)], c[f"sd{i}"][a]) + x[t.sd_index + a]
        if t.correlated:
            assert t.k == 2
            r = np.tanh(x[t.corr_index])  # LKJ(η) for k = 2 (unnormalised, as the kernel), times dr/dz = 1 − r²
            total += (priors[cor_name(t.group)].param("eta") - 1.0) * np.log1p(-r * r) + np.log1p(-r * r)
    return float(total)


def test_log_density_is_the_dense_multivariate_normal(joint_case):
    design, layout, model = joint_case
    for seed in (1, 2):
        x = random_point(design, layout, seed)
        lp, _ = evaluate(model, x)
        mean = design.X @ x[: design.p]
        loglik = stats.multivariate_normal(mean, marginal_covariance(design, layout, x)).logpdf(design.y)
        assert lp == pytest.approx(loglik + log_prior(design, layout, x), rel=1e-10, abs=1e-8)


def test_gradient_matches_finite_differences(joint_case):
    design, layout, model = joint_case
    x = random_point(design, layout, 3)
    lp, grad = evaluate(model, x)
    assert np.isfinite(lp) and np.all(np.isfinite(grad))
    step = 1e-6
    numeric = np.array([(evaluate(model, x + step * e)[0] - evaluate(model, x - step * e)[0]) / (2 * step)
                        for e in np.eye(layout.size)])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-4)


def test_fixed_effects_integrated_out_give_the_dense_normal(joint_case):
    """With β ~ N(m, S) integrated out: y ~ N(Xm, V + XSX'); the sampler's vector holds log σ, log sds, correlations."""
    from bayesmixed.engines.bayes.layout import integrated_beta_model

    design, layout, _ = joint_case
    integrated = integrated_beta_model(design, layout, default_priors(design))
    assert integrated.layout.size == layout.size - design.p
    reduced = random_point(design, layout, 11)[design.p:]
    lp, grad = evaluate(integrated.model, reduced)
    x = np.concatenate([np.zeros(design.p), reduced])  # β's value is irrelevant below: its prior is not in lp
    V = marginal_covariance(design, layout, x) + design.X @ np.diag(integrated.sd**2) @ design.X.T
    loglik = stats.multivariate_normal(design.X @ integrated.mean, V).logpdf(design.y)
    beta_prior = sum(stats.norm(integrated.mean[j], integrated.sd[j]).logpdf(0.0) for j in range(design.p))
    assert lp == pytest.approx(loglik + log_prior(design, layout, x) - beta_prior, rel=1e-10)
    step = 1e-6
    numeric = np.array([(evaluate(integrated.model, reduced + step * e)[0] - evaluate(integrated.model, reduced - step * e)[0])
                        / (2 * step) for e in np.eye(reduced.size)])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-4)


def test_integrated_fixed_effects_are_drawn_from_their_exact_conditional():
    """β | σ, Σ, y ~ N(P⁻¹(X'V⁻¹y + S⁻¹m), P⁻¹), P = X'V⁻¹X + S⁻¹."""
    from bayesmixed.engines.bayes.fit import draw_integrated_beta
    from bayesmixed.engines.bayes.layout import integrated_beta_model

    design = build_design("y ~ x + (x | g) + (1 | h)", two_factor_frame(12))
    layout = make_layout(design, MARGINAL_JOINT)
    integrated = integrated_beta_model(design, layout, default_priors(design))
    reduced = random_point(design, layout, 13)[design.p:]
    S = 4000
    beta = draw_integrated_beta(integrated, np.repeat(reduced[None, None, :], S, axis=1), seed=3)[0, :, : design.p]
    V = marginal_covariance(design, layout, np.concatenate([np.zeros(design.p), reduced]))
    Vinv_X = np.linalg.solve(V, design.X)
    precision = design.X.T @ Vinv_X + np.diag(1 / integrated.sd**2)
    cov = np.linalg.inv(precision)
    mean = cov @ (Vinv_X.T @ design.y + integrated.mean / integrated.sd**2)
    z = (beta.mean(axis=0) - mean) / np.sqrt(np.diag(cov) / S)
    assert np.abs(z).max() < 5
    np.testing.assert_allclose(beta.var(axis=0, ddof=1), np.diag(cov), rtol=0.12)


def test_gradient_on_a_factor_valued_correlated_term():
    """(0 + f | g) with three levels of f: a 3 x 3 LKJ term crossed with (1 | h), β sampled and integrated out."""
    from bayesmixed.engines.bayes.layout import integrated_beta_model

    frame = two_factor_frame(3, 120)
    frame["f"] = np.random.default_rng(0).choice(["a", "b", "c"], len(frame))
    design = build_design("y ~ x + (0 + f | g) + (1 | h)", frame)
    layout = make_layout(design, MARGINAL_JOINT)
    priors = default_priors(design)
    for model in (pack_model(design, layout, priors), integrated_beta_model(design, layout, priors).model):
        size = int(model[0][7])
        x = np.random.default_rng(1).normal(scale=0.4, size=size)
        lp, grad = evaluate(model, x)
        assert np.isfinite(lp)
        numeric = np.array([(evaluate(model, x + 1e-6 * e)[0] - evaluate(model, x - 1e-6 * e)[0]) / 2e-6 for e in np.eye(size)])
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-4)


def test_joint_route_equals_the_per_group_route_on_one_grouping_factor():
    frame = two_factor_frame(4)
    design = build_design("y ~ x + (x | g)", frame)
    priors = default_priors(design)
    per_group = pack_model(design, make_layout(design, MARGINAL), priors)
    joint = pack_model(design, make_layout(design, MARGINAL_JOINT), priors)
    x = random_point(design, make_layout(design, MARGINAL), 5)
    lp_group, grad_group = evaluate(per_group, x)
    lp_joint, grad_joint = evaluate(joint, x)
    assert lp_joint == pytest.approx(lp_group, rel=1e-12)
    np.testing.assert_allclose(grad_joint, grad_group, rtol=1e-9, atol=1e-10)


class WeightedDesign:
    """A design with prior weights (residual variance σ²/wᵢ) attached, for designs built before weights= existed."""

    def __init__(self, design, weights):
        self._design, self.weights = design, weights

    def __getattr__(self, name):
        return getattr(self._design, name)


def test_prior_weights_enter_as_residual_precisions():
    design = build_design("y ~ x + (x | g) + (1 | h)", two_factor_frame(6))
    weights = np.random.default_rng(7).uniform(0.3, 3.0, design.n)
    weighted = WeightedDesign(design, weights)
    layout = make_layout(design, MARGINAL_JOINT)
    model = pack_model(weighted, layout, default_priors(design))
    x = random_point(design, layout, 8)
    lp, grad = evaluate(model, x)
    V = marginal_covariance(design, layout, x, weights)
    expected = stats.multivariate_normal(design.X @ x[: design.p], V).logpdf(design.y) + log_prior(design, layout, x)
    assert lp == pytest.approx(expected, rel=1e-10)
    step = 1e-6
    numeric = np.array([(evaluate(model, x + step * e)[0] - evaluate(model, x - step * e)[0]) / (2 * step)
                        for e in np.eye(layout.size)])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-4)


def test_ranef_draws_follow_the_exact_conditional():
    """γ | y, β, σ, Σ ~ N(V Z'r/σ², V), V = (Σ⁻¹ + Z'Z/σ²)⁻¹ over every term at once."""
    from bayesmixed.engines.bayes.result import BayesFit

    design = build_design("y ~ x + (x | g) + (1 | h)", two_factor_frame(9))
    layout = make_layout(design, MARGINAL_JOINT)
    x = random_point(design, layout, 10)
    S = 4000
    fit = BayesFit(design, default_priors(design), layout, np.repeat(x[None, None, :], S, axis=1), None,
                   sampler="numba", seed=4, max_depth=10, timings={"total": 0.0})
    gamma = np.concatenate([g.reshape(S, -1) for g in fit.ranef_samples], axis=1)  # (S, q) in Z's column order
    c = constrain_draws(layout, x)
    Lam = block_diag(*[np.kron(np.eye(t.n_levels), c[f"sd{i}"][:, None] * c[f"chol{i}"]) for i, t in enumerate(layout.terms)])
    Z, sigma2 = design.Z.toarray(), c["sigma"] ** 2
    V = np.linalg.inv(np.linalg.inv(Lam @ Lam.T) + Z.T @ Z / sigma2)
    mean = V @ Z.T @ (design.y - design.X @ x[: design.p]) / sigma2
    z = (gamma.mean(axis=0) - mean) / np.sqrt(np.diag(V) / S)
    assert np.abs(z).max() < 5
    np.testing.assert_allclose(gamma.var(axis=0, ddof=1), np.diag(V), rtol=0.12)


def test_route_choice():
    from bayesmixed.engines.bayes.fit import choose_route
    from bayesmixed.engines.bayes.layout import FULL

    crossed = build_design("y ~ x + (x | g) + (1 | h)", two_factor_frame())
    assert choose_route(crossed, None, "numba") == MARGINAL_JOINT
    assert choose_route(crossed, True, "numba") == MARGINAL_JOINT
    assert choose_route(crossed, False, "numba") == FULL
    assert choose_route(crossed, None, "pymc") == FULL
    one = build_design("y ~ x + (x | g)", two_factor_frame())  # 12 random effects: small, joint
    assert choose_route(one, None, "numba") == MARGINAL_JOINT
    sleep = build_design("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
    assert choose_route(sleep, None, "numba") == MARGINAL  # 36 effects, off the boundary: per group
    noise = pd.DataFrame({"y": np.random.default_rng(100).standard_normal(300), "g": [f"g{i % 100}" for i in range(300)]})
    singular = build_design("y ~ 1 + (1 | g)", noise)
    assert choose_route(singular, None, "numba") == MARGINAL_JOINT  # g is noise: REML puts its variance at 0
    assert choose_route(WeightedDesign(one, np.full(one.n, 2.0)), None, "numba") == MARGINAL_JOINT


@pytest.mark.parametrize("name", ["penicillin crossed", "pastes nested"])
def test_default_fit_samples_cleanly(name):
    formula, data = STRUCTURES[name]
    fit = fit_bayes(build_design(formula, data()), seed=1, draws=500, tune=500, progressbar=False, warn=False)
    assert fit.route == "joint marginal"
    assert fit.sample_stats[..., DIVERGING].sum() == 0
    assert fit.parameters["r_hat"].max() <= 1.01
    assert fit.parameters["ess_bulk"].min() > 400
    assert "joint marginal" in fit.summary()

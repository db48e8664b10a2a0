"""The blocked marginal route (Gaussian models beyond the joint route's JOINT_MAX_Q random effects): its log density
against the joint route's (itself pinned to the dense multivariate normal in test_bayes_joint.py) and against the
dense normal directly, β's and γ's exact conditional draws, route choice, and a short fit against the joint route."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

import bayesmixed as bm
from bayesmixed.design import build_design
from bayesmixed.engines.bayes import default_priors, fit_bayes
from bayesmixed.engines.bayes import fit as fit_module
from bayesmixed.engines.bayes.blocked import BlockedPosterior, TProposal
from bayesmixed.engines.bayes.layout import MARGINAL_BLOCKED, MARGINAL_JOINT, integrated_beta_model, make_layout
from bayesmixed.inference.compare import ParetoKWarning

from .test_bayes_joint import WeightedDesign, evaluate, marginal_covariance, random_point, two_factor_frame


def factor_frame():
    frame = two_factor_frame(3, 120)
    frame["f"] = np.random.default_rng(0).choice(["a", "b", "c"], len(frame))
    return frame


CASES = {
    "penicillin crossed": ("diameter ~ 1 + (1 | plate) + (1 | sample)", lambda: bm.datasets.load("penicillin")),
    "pastes nested": ("strength ~ 1 + (1 | batch/cask)", lambda: bm.datasets.load("pastes")),
    "correlated slope crossed": ("y ~ x + (x | g) + (1 | h)", two_factor_frame),
    "3 x 3 factor term crossed": ("y ~ x + (0 + f | g) + (1 | h)", factor_frame),
    "uncorrelated slope crossed": ("y ~ x + (x || g) + (1 | h)", two_factor_frame),
}


def posteriors(design):
    priors = default_priors(design)
    joint = integrated_beta_model(design, make_layout(design, MARGINAL_JOINT), priors)
    blocked = integrated_beta_model(design, make_layout(design, MARGINAL_BLOCKED), priors)
    return joint, BlockedPosterior(design, blocked)


@pytest.mark.parametrize("name", list(CASES))
def test_log_density_equals_the_joint_routes(name):
    formula, data = CASES[name]
    design = build_design(formula, data())
    joint, blocked = posteriors(design)
    for seed in (1, 2, 3):
        x = random_point(design, make_layout(design, MARGINAL_JOINT), seed)[design.p:]
        assert blocked.log_density(x) == pytest.approx(evaluate(joint.model, x)[0], rel=1e-10, abs=1e-8)


def test_weighted_log_density_is_the_dense_normal():
    """σ²W⁻¹ + ZΛΛ'Z' + XSX', the β prior integrated out, against scipy's multivariate normal."""
    design = build_design("y ~ x + (x | g) + (1 | h)", two_factor_frame(5))
    weights = np.random.default_rng(2).uniform(0.5, 3.0, design.n)
    weighted = WeightedDesign(design, weights)
    layout = make_layout(design, MARGINAL_JOINT)
    integrated = integrated_beta_model(weighted, make_layout(design, MARGINAL_BLOCKED), default_priors(design))
    blocked = BlockedPosterior(weighted, integrated)
    x = random_point(design, layout, 4)
    x[: design.p] = 0.0
    V = marginal_covariance(design, layout, x, weights) + design.X @ np.diag(integrated.sd**2) @ design.X.T
    expected = stats.multivariate_normal(design.X @ integrated.mean, V).logpdf(design.y)
    reduced = x[design.p:]
    assert blocked.log_density(reduced) == pytest.approx(expected + blocked.theta_sigma(reduced)[2], rel=1e-10)


def test_effects_are_drawn_from_their_exact_conditional():
    """(β, γ) | θ, σ, y is normal with precision [[X'X/σ² + S⁻¹, X'Z/σ²], [Z'X/σ², Z'Z/σ² + (ΛΛ')⁻¹]]: the
    draws' means within 5 Monte Carlo se and variances within 12%."""
    design = build_design("y ~ x + (x | g) + (1 | h)", two_factor_frame(6))
    integrated = integrated_beta_model(design, make_layout(design, MARGINAL_BLOCKED), default_priors(design))
    blocked = BlockedPosterior(design, integrated)
    x = random_point(design, make_layout(design, MARGINAL_JOINT), 7)[design.p:]
    evaluation = blocked.evaluate(x)
    rng = np.random.default_rng(0)
    S = 4000
    draws = np.array([np.concatenate(blocked.draw_effects(evaluation, rng)) for _ in range(S)])
    sigma = evaluation.sigma
    Lam = design.Lambda(evaluation.factor.theta).toarray() * sigma  # prior covariance of γ: σ²ΛΛ'
    W = np.hstack([design.X, design.Z.toarray()])
    prior_precision = np.zeros((W.shape[1], W.shape[1]))
    prior_precision[: design.p, : design.p] = np.diag(1 / integrated.sd**2)
    prior_precision[design.p:, design.p:] = np.linalg.inv(Lam @ Lam.T)
    precision = W.T @ W / sigma**2 + prior_precision
    cov = np.linalg.inv(precision)
    prior_mean = np.concatenate([integrated.mean, np.zeros(design.q)])
    mean = cov @ (W.T @ design.y / sigma**2 + prior_precision @ prior_mean)
    z = (draws.mean(axis=0) - mean) / np.sqrt(np.diag(cov) / S)
    assert np.abs(z).max() < 5
    np.testing.assert_allclose(draws.var(axis=0, ddof=1), np.diag(cov), rtol=0.12)


def test_route_choice_beyond_the_joint_limit(monkeypatch):
    design = build_design("diameter ~ 1 + (1 | plate) + (1 | sample)", bm.datasets.load("penicillin"))  # q = 30
    assert fit_module.choose_route(design, None, "numba") == MARGINAL_JOINT
    monkeypatch.setattr(fit_module, "JOINT_MAX_Q", 20)
    assert fit_module.choose_route(design, None, "numba") == MARGINAL_BLOCKED
    assert fit_module.choose_route(design, True, "numba") == MARGINAL_BLOCKED
    assert fit_module.choose_route(design, False, "numba") == fit_module.FULL


def test_t_proposal_density_is_the_multivariate_t():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(3, 3))
    proposal = TProposal(rng.normal(size=3), np.linalg.cholesky(A @ A.T + np.eye(3)), 5.0)
    t = stats.multivariate_t(proposal.mean, proposal.root @ proposal.root.T, df=5.0)
    points = [proposal.draw(rng) for _ in range(3)]
    differences = [proposal.log_density(p) - t.logpdf(p) for p in points]
    assert np.ptp(differences) < 1e-10  # equal up to the normalising constant


@pytest.mark.parametrize("name", ["penicillin crossed", "pastes nested"])
def test_blocked_fit_agrees_with_the_joint_route(name, monkeypatch):
    formula, data = CASES[name]
    design = build_design(formula, data())
    joint = fit_bayes(design, seed=2, draws=600, tune=400, progressbar=False, warn=False)
    monkeypatch.setattr(fit_module, "JOINT_MAX_Q", 10)
    blocked = fit_bayes(design, seed=2, draws=600, tune=400, progressbar=False, warn=False)
    assert blocked.route == "blocked marginal" and joint.route == "joint marginal"
    table, reference = blocked.parameters, joint.parameters
    assert table["r_hat"].max() <= 1.01 and table["ess_bulk"].min() > 400
    assert blocked.diagnosis.divergences == 0
    # medians within 0.15 posterior sd (the Monte Carlo error of both is below 0.05 sd)
    assert (np.abs(table["median"] - reference["median"]) / reference["sd"]).max() < 0.15
    np.testing.assert_allclose(table["sd"], reference["sd"], rtol=0.12)
    for ours, theirs in zip(blocked.ranef_samples, joint.ranef_samples):
        assert ours.shape == theirs.shape
        assert (np.abs(ours.mean(axis=0) - theirs.mean(axis=0)) / theirs.std(axis=0)).max() < 0.2
    assert "blocked marginal" in blocked.summary() and "independence Metropolis-Hastings" in blocked.summary()


def test_blocked_fit_serves_the_shared_surface(monkeypatch):
    """fitted, residuals, predict, ranef, log-likelihoods, InferenceData and compare on a blocked-route fit agree
    with the joint route's fit of the same model."""
    data = bm.datasets.load("penicillin")
    model = bm.Model("diameter ~ 1 + (1 | plate) + (1 | sample)", data)
    options = dict(draws=400, tune=300, chains=2, seed=4, progressbar=False, warn=False)
    joint = model.fit("bayes", **options)
    monkeypatch.setattr(fit_module, "JOINT_MAX_Q", 10)
    blocked = model.fit("bayes", **options)
    assert blocked.route == "blocked marginal"
    np.testing.assert_allclose(blocked.fitted(), joint.fitted(), atol=0.1)
    np.testing.assert_allclose(blocked.residuals(), joint.residuals(), atol=0.1)
    new = data.iloc[:5]
    np.testing.assert_allclose(blocked.predict(new), joint.predict(new), atol=0.1)
    for ours, theirs, draws in zip(blocked.ranef.values(), joint.ranef.values(), joint.ranef_samples):
        # posterior means of two 800-draw fits: within 0.3 posterior sd of each other
        difference = np.abs(np.asarray(ours, dtype=float) - np.asarray(theirs, dtype=float))
        assert np.all(difference < 0.3 * draws.std(axis=0))
    loglik = blocked.log_likelihood()
    assert loglik.shape == (800, len(data)) and np.all(np.isfinite(loglik))
    assert not blocked.has_group_loglik
    assert "log_likelihood" in blocked.idata.groups()
    with warnings.catch_warnings():  # 144 rows, 800 draws: a Pareto k warning or two is expected here
        warnings.simplefilter("ignore", ParetoKWarning)
        table = bm.compare({"blocked": blocked, "joint": joint})
    assert table["elpd_diff"].abs().max() < 2.0  # the same model: elpd within Monte Carlo and PSIS error

"""Bayesian engine without sampling: priors, kernel log densities and gradients, transforms, diagnostics."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayesmixed as bm
from bayesmixed.design import build_design
from bayesmixed.engines.bayes import default_priors
from bayesmixed.engines.bayes.layout import FULL, MARGINAL, MARGINAL_JOINT, constrain_draws, correlation_cholesky, make_layout, pack_model
from bayesmixed.errors import BayesmixedError


def simulated(family: str, n_groups: int = 12, per_group: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per_group)
    x, z = rng.normal(size=g.size), rng.normal(size=g.size)
    b = rng.normal(size=(n_groups, 3)) * [0.5, 0.3, 0.2]
    eta = 0.3 + 0.5 * x + b[g, 0] + b[g, 1] * x + b[g, 2] * z
    frame = pd.DataFrame({"x": x, "z": z, "g": [f"g{i}" for i in g], "h": [f"h{i % 4}" for i in range(g.size)]})
    if family == "gaussian":
        frame["y"] = eta + rng.normal(size=g.size)
    elif family == "binomial":
        frame["n"] = 5
        frame["y"] = rng.binomial(5, 1 / (1 + np.exp(-eta)))
        frame["fail"] = frame["n"] - frame["y"]
    else:
        frame["y"] = rng.poisson(np.exp(eta))
    return frame


@pytest.fixture(scope="module")
def sleep_design():
    return build_design("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))


def test_import_is_light():
    code = ("import sys, time; t = time.perf_counter(); import bayesmixed, bayesmixed.engines.bayes; "
            "import bayesmixed.engines.bayes.prior as p; p.Normal(0, 1); "
            "heavy = [m for m in ('pymc', 'pytensor', 'arviz', 'numba') if m in sys.modules]; "
            "assert not heavy, heavy; print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) < 1.0


def test_default_priors_table(sleep_design):
    priors = default_priors(sleep_design)
    assert priors.names == ["(Intercept)", "Days", "sigma", "sd(Subject:(Intercept))", "sd(Subject:Days)", "cor(Subject)"]
    sd_y = np.std(sleep_design.y, ddof=1)
    assert priors["sigma"].param("lam") == pytest.approx(1 / sd_y)
    assert priors["Days"].param("sigma") == pytest.approx(2.5 * sd_y / np.std(sleep_design.X[:, 1], ddof=1))
    assert priors["cor(Subject)"].param("eta") == 2.0
    text = str(priors)
    assert "Normal(mu=0, sigma=" in text and "LKJ(eta=2)" in text and "Exponential" in text


def test_prior_overrides_and_bad_keys(sleep_design):
    priors = default_priors(sleep_design).updated({"Days": bm.prior.Normal(0, 5), "cor(Subject)": bm.prior.LKJ(4)})
    assert repr(priors["Days"]) == "Normal(mu=0, sigma=5)" and priors["cor(Subject)"].param("eta") == 4
    with pytest.raises(ValueError, match="did you mean 'sd\\(Subject:Days\\)'"):
        default_priors(sleep_design).updated({"sd(Subject:Day)": bm.prior.HalfNormal(1)})
    with pytest.raises(ValueError, match="needs a prior on positive values"):
        default_priors(sleep_design).updated({"sigma": bm.prior.Normal(0, 1)})
    with pytest.raises(ValueError, match="positive"):
        bm.prior.HalfNormal(-1)


def test_bad_input_errors(sleep_design):
    from bayesmixed.engines.bayes import fit_bayes

    with pytest.raises(BayesmixedError, match="unknown prior key 'Dayz'; did you mean 'Days'"):
        fit_bayes(sleep_design, priors={"Dayz": bm.prior.Normal(0, 1)})
    with pytest.raises(BayesmixedError, match="unknown sampler"):
        fit_bayes(sleep_design, sampler="stan")
    with pytest.raises(BayesmixedError, match="unknown option"):
        fit_bayes(sleep_design, drawz=10)
    poisson = build_design("y ~ x + (1 | g)", simulated("poisson"), family="poisson")
    with pytest.raises(BayesmixedError, match="marginalize=True needs a gaussian model"):
        fit_bayes(poisson, marginalize=True)


def kernel(design, route, centred=frozenset()):
    from bayesmixed.engines.bayes.kernels import log_density

    layout = make_layout(design, route, centred)
    model = pack_model(design, layout, default_priors(design))

    def evaluate(x):
        grad = np.zeros(layout.size)
        return log_density(np.asarray(x, dtype=float), grad, model), grad

    return layout, evaluate


CASES = [
    ("gaussian", "y ~ x + (x | g)", MARGINAL, ()),
    ("gaussian", "y ~ x + (x + z | g)", MARGINAL, ()),
    ("gaussian", "y ~ x + (x || g)", MARGINAL, ()),
    ("gaussian", "y ~ x + (x + z | g) + (1 | h)", FULL, ()),
    ("gaussian", "y ~ x + (x + z | g) + (1 | h)", FULL, ("g", "h")),
    ("binomial", "cbind(y, fail) ~ x + (x + z | g)", FULL, ()),
    ("binomial", "cbind(y, fail) ~ x + (x + z | g) + (1 | h)", FULL, ("g",)),
    ("poisson", "y ~ x + (x || g) + (1 | h)", FULL, ()),
]


@pytest.mark.parametrize(("family", "formula", "route", "centred"), CASES)
def test_gradient_matches_finite_differences(family, formula, route, centred):
    design = build_design(formula, simulated(family), family=family)
    layout, evaluate = kernel(design, route, frozenset(centred))
    x = np.random.default_rng(1).normal(scale=0.4, size=layout.size)
    lp, grad = evaluate(x)
    assert np.isfinite(lp) and np.all(np.isfinite(grad))
    step = 1e-6
    numeric = np.array([(evaluate(x + step * e)[0] - evaluate(x - step * e)[0]) / (2 * step) for e in np.eye(layout.size)])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5)


def log_prior(design, layout, x) -> float:
    """The default priors' log density at x, with the log-σ, log-sd and tanh Jacobians, for a (x | g) model."""
    priors = default_priors(design)
    c = constrain_draws(layout, x)
    total = sum(stats.norm(priors[n].param("mu"), priors[n].param("sigma")).logpdf(x[j])
                for j, n in enumerate(design.fixef_names))
    total += stats.expon(scale=1 / priors["sigma"].param("lam")).logpdf(c["sigma"]) + x[layout.sigma_index]
    term = layout.terms[0]
    for a, column in enumerate(term.columns):
        total += stats.halfnorm(scale=priors[f"sd(g:{column})"].param("sigma")).logpdf(c["sd0"][a]) + x[term.sd_index + a]
    r = np.tanh(x[term.corr_index])
    return total + (2.0 - 1.0) * np.log1p(-r * r) + np.log1p(-r * r)  # LKJ(2) for k = 2, times dr/dz


def test_marginal_logp_equals_dense_normal():
    design = build_design("y ~ x + (x | g)", simulated("gaussian"))
    layout, evaluate = kernel(design, MARGINAL)
    x = np.array([0.2, 0.4, np.log(0.9), np.log(0.6), np.log(0.3), 0.5])
    lp, _ = evaluate(x)
    c = constrain_draws(layout, x)
    C = np.diag(c["sd0"]) @ c["chol0"]
    Z = design.Z.toarray()
    V = c["sigma"] ** 2 * np.eye(design.n) + Z @ np.kron(np.eye(design.terms[0].n_levels), C @ C.T) @ Z.T
    loglik = stats.multivariate_normal(design.X @ x[:2], V).logpdf(design.y)
    assert lp == pytest.approx(loglik + log_prior(design, layout, x), rel=1e-10)


def test_full_logp_is_marginal_after_integrating_u():
    """The full route's joint density integrates (over u) to the marginal route's: check one Gaussian identity."""
    design = build_design("y ~ x + (x | g)", simulated("gaussian"))
    marginal_layout, marginal = kernel(design, MARGINAL)
    full_layout, full = kernel(design, FULL)
    theta = np.array([0.2, 0.4, np.log(0.9), np.log(0.6), np.log(0.3), 0.5])
    # at the conditional mode of u, log p(y, u) − log p(u | y) = log p(y): both sides from the kernels
    from bayesmixed.engines.bayes.posterior import covariance_factors

    C = covariance_factors(marginal_layout, theta[None, :])[0][0]
    Zs = design.Z.toarray() @ np.kron(np.eye(design.terms[0].n_levels), C)  # (n, levels * 2): Z (I ⊗ C)
    sigma2 = np.exp(2 * theta[2])
    precision = np.eye(Zs.shape[1]) + Zs.T @ Zs / sigma2
    mode = np.linalg.solve(precision, Zs.T @ (design.y - design.X @ theta[:2]) / sigma2)
    x_full = np.concatenate([theta, mode])
    lp_full, _ = full(x_full)
    log_conditional = -0.5 * mode.size * np.log(2 * np.pi) + 0.5 * np.linalg.slogdet(precision)[1]
    # the full kernel drops −n/2 log 2π and −q/2 log 2π (data-only constants)
    constant = -0.5 * (design.n + mode.size) * np.log(2 * np.pi)
    assert lp_full + constant - log_conditional == pytest.approx(marginal(theta)[0], rel=1e-10)


def test_correlation_transform_round_trip():
    from bayesmixed.engines.bayes.layout import partial_correlations

    z = np.random.default_rng(2).normal(size=(5, 6))
    L = correlation_cholesky(z, 4)
    np.testing.assert_allclose(np.einsum("sij,sij->si", L, L), 1.0)  # unit rows: R has unit diagonal
    np.testing.assert_allclose(partial_correlations(L), z, atol=1e-10)


def test_warmup_schedule_matches_stan():
    from bayesmixed.engines.bayes.nuts import warmup_schedule

    schedule = warmup_schedule(1000)
    assert tuple(schedule[:2]) == (75, 950)
    assert list(np.flatnonzero(schedule[2:]) + 1) == [100, 150, 250, 450, 950]


def test_diagnostics_match_arviz():
    import arviz as az

    from bayesmixed.engines.bayes.diagnostics import ess_bulk, ess_tail, rhat

    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=(4, 500)), axis=1) * 0.05 + rng.normal(size=(4, 500))
    assert rhat(x) == pytest.approx(float(az.rhat(x)), rel=1e-6)
    assert ess_bulk(x) == pytest.approx(float(az.ess(x, method="bulk")), rel=0.02)
    assert ess_tail(x) == pytest.approx(float(az.ess(x, method="tail")), rel=0.02)


def test_stale_compiled_cache_is_dropped(tmp_path):
    """numba checks a cached function against its own file only; the engine drops its entries when any
    compiled source (or numba) changes, so a cached sampler never runs an old kernel."""
    from types import SimpleNamespace

    from bayesmixed.engines.bayes.compiled_cache import MARKER, drop_stale_entries, source_fingerprint

    stale = [tmp_path / "nuts.run_iterations-247.py311.nbi", tmp_path / "kernels.log_density-461.py311.1.nbc"]
    unrelated = tmp_path / "other.f-1.py311.nbi"
    for path in stale + [unrelated]:
        path.write_text("x")
    (tmp_path / MARKER).write_text("an older fingerprint")
    dispatcher = SimpleNamespace(_cache=SimpleNamespace(_cache_path=str(tmp_path)))
    drop_stale_entries(dispatcher)
    assert not any(p.exists() for p in stale) and unrelated.exists()
    assert (tmp_path / MARKER).read_text() == source_fingerprint()
    stale[0].write_text("fresh entry")
    drop_stale_entries(dispatcher)  # fingerprint matches now: entries stay
    assert stale[0].exists()


MARGINAL_FORMULAS = ["y ~ x + (x | g)", "y ~ x + (x + z | g)", "y ~ x + (x || g)"]


def fit_at(design, rows: np.ndarray, route: int = MARGINAL):
    """A BayesFit on a marginal route whose draws are the given unconstrained rows (no sampling)."""
    from bayesmixed.engines.bayes.result import BayesFit

    layout = make_layout(design, route)
    return BayesFit(design, default_priors(design), layout, rows[None, :, :], None, sampler="numba", seed=4,
                    max_depth=10, timings={"total": 0.0})


def group_covariance(design, layout, x) -> tuple[np.ndarray, np.ndarray, float]:
    """(Σ of all terms' columns (K, K), Z with the terms' columns side by side (n, K), σ) at unconstrained x."""
    from bayesmixed.engines.bayes.posterior import covariance_factors

    C = np.zeros((sum(t.k for t in layout.terms),) * 2)
    for t, factor in zip(layout.terms, covariance_factors(layout, x[None, :])):
        C[t.column_offset:t.column_offset + t.k, t.column_offset:t.column_offset + t.k] = factor[0]
    return C @ C.T, np.hstack([t.matrix for t in design.terms]), float(np.exp(x[layout.sigma_index]))


@pytest.mark.parametrize("route", [MARGINAL, MARGINAL_JOINT])
@pytest.mark.parametrize("formula", MARGINAL_FORMULAS)
def test_group_loglik_is_the_dense_marginal_per_group(formula, route):
    """On either marginal route (small one-factor models sample on the joint one) the group log-likelihoods
    are each group's dense multivariate normal density."""
    design = build_design(formula, simulated("gaussian"))
    layout = make_layout(design, MARGINAL)
    rows = np.random.default_rng(3).normal(scale=0.4, size=(3, layout.size))
    fit = fit_at(design, rows, route)
    assert fit.has_group_loglik
    loglik = fit.log_likelihood()
    codes = design.terms[0].codes
    for s, x in enumerate(rows):
        Sigma, Z, sigma = group_covariance(design, layout, x)
        for i in range(design.terms[0].n_levels):
            rows_i = codes == i
            V = sigma**2 * np.eye(rows_i.sum()) + Z[rows_i] @ Sigma @ Z[rows_i].T
            expected = stats.multivariate_normal(design.X[rows_i] @ x[:design.p], V).logpdf(design.y[rows_i])
            assert loglik[s, i] == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("formula", MARGINAL_FORMULAS)
def test_marginal_route_ranef_draws_follow_the_exact_conditional(formula):
    """γ_i | y, β, σ, Σ ~ N(V Z_i'r_i/σ², V), V = (Σ⁻¹ + Z_i'Z_i/σ²)⁻¹: draws' means and variances agree."""
    design = build_design(formula, simulated("gaussian"))
    layout = make_layout(design, MARGINAL)
    x = np.random.default_rng(5).normal(scale=0.4, size=layout.size)
    S = 4000
    gamma = np.concatenate(fit_at(design, np.repeat(x[None, :], S, axis=0)).ranef_samples, axis=2)  # (S, G, K)
    Sigma, Z, sigma = group_covariance(design, layout, x)
    codes = design.terms[0].codes
    r = design.y - design.X @ x[:design.p]
    for i in range(design.terms[0].n_levels):
        rows_i = codes == i
        V = np.linalg.inv(np.linalg.inv(Sigma) + Z[rows_i].T @ Z[rows_i] / sigma**2)
        mean = V @ Z[rows_i].T @ r[rows_i] / sigma**2
        z = (gamma[:, i].mean(axis=0) - mean) / np.sqrt(np.diag(V) / S)
        assert np.abs(z).max() < 5, (i, z)
        np.testing.assert_allclose(gamma[:, i].var(axis=0, ddof=1), np.diag(V), rtol=0.12)

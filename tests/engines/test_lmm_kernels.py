"""The blocked kernels against the textbook dense formulas, on every block layout the engine has.

Layouts: first term scalar or vector; no other terms, scalar others (Λ_W diagonal), a correlated
other term (Λ_W with off-diagonal blocks); the sparse Schur map and the dense route.
"""

from __future__ import annotations

import numpy as np
import pytest

import bayesmixed as bm
from bayesmixed.engines.lmm import system as system_module
from bayesmixed.engines.lmm.conditional import conditional_covariances, conditional_modes
from bayesmixed.engines.blocked_factor import factorize
from bayesmixed.engines.lmm.objective import profiled_objective, residual_sd, unprofiled_deviance
from bayesmixed.engines.lmm.system import build_system
from tests.engines.lmm_helpers import crossed_data, dense_reference

LAYOUTS = {
    "vector first, nothing else": ("sleepstudy", "Reaction ~ Days + (Days | Subject)"),
    "two scalar terms of one factor": ("sleepstudy", "Reaction ~ Days + (Days || Subject)"),
    "crossed scalar terms": ("penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)"),
    "nested scalar terms": ("pastes", "strength ~ 1 + (1 | batch/cask)"),
    "scalar first, correlated second": (None, "y ~ x + (1 | g1) + (x | g2)"),
    "vector first, scalar second": (None, "y ~ x + (x | g1) + (1 | g2)"),
    "scalar first, uncorrelated vector second": (None, "y ~ x + (1 | g1) + (x || g2)"),
    "three-column first, intercept-free second": (None, "y ~ x + z + (x + z | g1) + (0 + x | g2)"),
}


def layout_design(name: str):
    data_name, formula = LAYOUTS[name]
    data = crossed_data() if data_name is None else bm.datasets.load(data_name)
    return bm.build_design(formula, data)


def random_theta(design, seed: int) -> np.ndarray:
    """A θ away from the start: positive diagonals, off-diagonals of either sign."""
    rng = np.random.default_rng(seed)
    theta = np.where(design.theta_lower == 0, rng.uniform(0.2, 1.8, design.n_theta), rng.normal(0, 0.5, design.n_theta))
    return theta


def per_term_dense(design, vector: np.ndarray) -> list[np.ndarray]:
    out, start = [], 0
    for term in design.terms:
        out.append(vector[start:start + term.size].reshape(term.n_levels, term.n_columns))
        start += term.size
    return out


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_random_effects_from_spherical_is_lambda_times_u_per_term(name):
    design = layout_design(name)
    theta = random_theta(design, 3)
    u = np.random.default_rng(1).standard_normal((2, design.q))
    effects = design.random_effects_from_spherical(theta, u)  # a batch of two u's
    for row in range(2):
        expected = per_term_dense(design, design.Lambda(theta) @ u[row])
        for got, want in zip(effects, expected):
            np.testing.assert_allclose(got[row], want, rtol=1e-13, atol=1e-13)
    rest = design.random_effects_from_spherical(theta, u[0, design.terms[0].size:], first=1)
    assert len(rest) == len(design.terms) - 1
    for got, want in zip(rest, effects[1:]):
        np.testing.assert_array_equal(got, want[0])


@pytest.mark.parametrize("name", list(LAYOUTS))
@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
def test_blocked_factor_matches_dense_formulas(name, reml):
    design = layout_design(name)
    theta = random_theta(design, len(name))
    expected = dense_reference(design, theta, reml)
    factor = factorize(build_system(design), theta)
    assert profiled_objective(factor, reml) == pytest.approx(expected["objective"], rel=1e-10)
    assert factor.pwrss == pytest.approx(expected["pwrss"], rel=1e-9)
    assert factor.logdet_random == pytest.approx(expected["logdet_random"], rel=1e-9, abs=1e-9)
    sigma = residual_sd(factor, reml)
    assert sigma == pytest.approx(expected["sigma"], rel=1e-9)
    beta, effects = conditional_modes(factor, design)
    np.testing.assert_allclose(beta, expected["beta"], rtol=1e-8)
    for mine, dense in zip(effects, per_term_dense(design, expected["modes"])):
        np.testing.assert_allclose(mine, dense, rtol=1e-7, atol=1e-9 * np.abs(dense).max())
    np.testing.assert_allclose(sigma**2 * factor.unscaled_vcov(), expected["vcov"], rtol=1e-8)
    start = 0
    for term, blocks in zip(design.terms, conditional_covariances(factor, design, sigma)):
        k = term.n_columns
        for level in (0, term.n_levels - 1):
            rows = slice(start + level * k, start + (level + 1) * k)
            np.testing.assert_allclose(blocks[level], expected["cond_cov"][rows, rows], rtol=1e-8, atol=1e-12)
        start += term.size


@pytest.mark.parametrize("name", ["crossed scalar terms", "scalar first, correlated second", "vector first, scalar second"])
def test_dense_route_equals_sparse_schur_map(name, monkeypatch):
    design = layout_design(name)
    theta = random_theta(design, 3)
    sparse_route = build_system(design)
    monkeypatch.setattr(system_module, "SCHUR_MAP_MAX_ENTRIES", 0)
    dense_route = build_system(design)
    assert sparse_route.schur_map is not None and dense_route.schur_map is None
    a, b = factorize(sparse_route, theta), factorize(dense_route, theta)
    np.testing.assert_allclose(a.dense, b.dense, rtol=1e-11, atol=1e-11)
    assert a.logdet_random == pytest.approx(b.logdet_random, rel=1e-13)


def test_unprofiled_deviance_is_minimised_at_the_profiled_sigma():
    """-2ℓ(θ, σ) at σ̂(θ) equals the profiled criterion, and is larger at any other σ."""
    design = layout_design("crossed scalar terms")
    theta = random_theta(design, 4)
    factor = factorize(build_system(design), theta)
    for reml in (True, False):
        sigma = residual_sd(factor, reml)
        assert unprofiled_deviance(factor, sigma, reml) == pytest.approx(profiled_objective(factor, reml), rel=1e-12)
        assert unprofiled_deviance(factor, sigma * 1.01, reml) > profiled_objective(factor, reml)
        assert unprofiled_deviance(factor, sigma * 0.99, reml) > profiled_objective(factor, reml)


def test_offset_is_subtracted_from_the_response():
    data = bm.datasets.load("sleepstudy").assign(base=lambda d: 3.0 * d["Days"])
    with_offset = bm.lmer("Reaction ~ Days + offset(base) + (1 | Subject)", data)
    shifted = bm.lmer("Reaction ~ Days + (1 | Subject)", data.assign(Reaction=data["Reaction"] - data["base"]))
    assert with_offset.objective == pytest.approx(shifted.objective, rel=1e-12)
    assert with_offset.fixef["Days"] == pytest.approx(shifted.fixef["Days"], rel=1e-9)
    np.testing.assert_allclose(with_offset.fitted(), shifted.fitted() + data["base"].to_numpy(), rtol=1e-10)


def test_too_large_a_dense_block_is_refused_with_a_reason(monkeypatch):
    monkeypatch.setattr(system_module, "MAX_DENSE_BLOCK", 5)
    with pytest.raises(bm.BayesmixedError, match=r"\(1 \| sample\).*dense"):
        build_system(layout_design("crossed scalar terms"))


@pytest.mark.parametrize("name", ["crossed scalar terms", "vector first, scalar second"])
def test_schur_map_built_in_chunks_equals_one_piece(name, monkeypatch):
    design = layout_design(name)
    monkeypatch.setattr(system_module, "DENSE_MAP_MAX_ENTRIES", 0)
    whole = build_system(design).schur_map
    monkeypatch.setattr(system_module, "PAIR_CHUNK", 7)
    chunked = build_system(design).schur_map
    assert abs(whole - chunked).max() == 0.0 and whole.nnz == chunked.nnz


def test_the_engines_factor_with_one_blas_thread_whatever_the_block_size():
    from threadpoolctl import threadpool_info

    from bayesmixed.engines import threads
    from bayesmixed.engines.glmm import fit as glmm_fit
    from bayesmixed.engines.lmm import fit as lmm_fit

    def blas_threads() -> list[int]:
        return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]

    before = blas_threads()
    with threads.engine_threads():
        assert blas_threads() and all(n == 1 for n in blas_threads())
    assert blas_threads() == before  # restored on exit
    assert lmm_fit.engine_threads is glmm_fit.engine_threads is threads.engine_threads  # one rule

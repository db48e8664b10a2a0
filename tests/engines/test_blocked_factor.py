"""The shared blocked factor (engines/blocked_factor.py) against dense formulas, with random row weights.

A = Λ'Z'WZΛ + I (and, with X, the joint [[A, Λ'Z'WX], [X'WZΛ, X'WX]]) is formed as a dense matrix: its
log-determinant, solves, V = ΛA⁻¹Λ' and the leverages diag(ZΛA⁻¹Λ'Z') must equal the factor's.  The
GLMM's assembly (weights per PIRLS step) and the LMM's (cross-products built once) must give the same
factor for the same weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.engines.blocked_factor import NotPositiveDefinite, factorize
from bayesmixed.engines.glmm import system as glmm_system
from bayesmixed.engines.lmm.system import build_system

LAYOUTS = {
    "crossed: scalar first, correlated second": "y ~ x + (1 | g1) + (x | g2)",
    "crossed: two-column first, scalar second": "y ~ x + (x | g1) + (1 | g2)",
    "nested: scalar terms": "y ~ x + (1 | g2/g1)",
    "three-column first, uncorrelated second": "y ~ x + (x + z | g1) + (x || g2)",
    "one term": "y ~ x + (x | g1)",
}


def layout_data(seed: int = 5, n: int = 300) -> pd.DataFrame:
    """g1 (50 levels) crossed with g2 (7 levels); the nested layout (1 | g2/g1) uses their g2:g1 cells."""
    rng = np.random.default_rng(seed)
    g1, g2 = rng.integers(0, 50, n), rng.integers(0, 7, n)
    x, z = rng.uniform(-1, 2, n), rng.normal(0, 1, n)
    y = 1 + 0.5 * x + rng.normal(0, 1, 50)[g1] + rng.normal(0, 1, 7)[g2] + rng.normal(0, 0.5, n)
    return pd.DataFrame({"y": y, "x": x, "z": z, "g1": [f"a{i}" for i in g1], "g2": [f"b{i}" for i in g2]})


def random_theta(design, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.where(design.theta_lower == 0, rng.uniform(0.3, 1.8, design.n_theta), rng.normal(0, 0.5, design.n_theta))


@pytest.fixture(params=list(LAYOUTS), scope="module")
def case(request):
    formula = LAYOUTS[request.param]
    design = bm.build_design(formula, layout_data())
    theta = random_theta(design, len(request.param))
    weights = np.random.default_rng(2).uniform(0.2, 3.0, design.n)
    ZL = (design.Z @ design.Lambda(theta)).toarray()
    A = ZL.T @ (weights[:, None] * ZL) + np.eye(design.q)
    cross = ZL.T @ (weights[:, None] * design.X)
    joint = np.block([[A, cross], [cross.T, design.X.T @ (weights[:, None] * design.X)]])
    lam = design.Lambda(theta).toarray()
    return {"formula": formula, "design": design, "theta": theta, "weights": weights, "ZL": ZL, "A": A, "joint": joint,
            "V": lam @ np.linalg.inv(A) @ lam.T, "rows": glmm_system.theta_rows(design, theta)}


def glmm_factor(case, with_x: bool):
    return glmm_system.factorize(case["rows"], case["design"].X if with_x else None, case["weights"])


@pytest.mark.parametrize("with_x", [False, True], ids=["u only", "u and beta"])
def test_log_determinant_and_solve_equal_the_dense_ones(case, with_x):
    design = case["design"]
    factor = glmm_factor(case, with_x)
    assert factor.logdet_random == pytest.approx(np.linalg.slogdet(case["A"])[1], rel=1e-12)
    rng = np.random.default_rng(7)
    # over u alone (A⁻¹, even from the joint factor: β comes last) and, with X, over (u, β)
    rhs = rng.standard_normal(design.q)
    np.testing.assert_allclose(factor.solve(rhs), np.linalg.solve(case["A"], rhs), rtol=1e-10, atol=1e-12)
    if with_x:
        rhs = rng.standard_normal(design.q + design.p)
        np.testing.assert_allclose(factor.solve(rhs), np.linalg.solve(case["joint"], rhs), rtol=1e-10, atol=1e-12)
        vcov = np.linalg.inv(case["joint"])[design.q:, design.q:]
        np.testing.assert_allclose(factor.unscaled_vcov(), vcov, rtol=1e-10)
        assert factor.logdet_fixed == pytest.approx(np.linalg.slogdet(case["joint"])[1] - factor.logdet_random, rel=1e-10)


def test_first_term_blocks_are_those_of_a(case):
    design = case["design"]
    factor = glmm_factor(case, True)
    first = design.terms[0]
    k, lam1 = first.n_columns, design.lambda_blocks(case["theta"])[0]
    for level in (0, first.n_levels // 2, first.n_levels - 1):
        block = case["A"][level * k:(level + 1) * k, level * k:(level + 1) * k]
        np.testing.assert_allclose(factor.block_inverse[level], np.linalg.inv(block), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(factor.first_inverse[level], lam1 @ np.linalg.inv(block) @ lam1.T, rtol=1e-12,
                                   atol=1e-14)


def test_inverse_blocks_equal_the_dense_inverse(case):
    design, V = case["design"], case["V"]
    factor = glmm_factor(case, True)  # the joint factor: its random effects' part is used
    start = 0
    for term, blocks in zip(design.terms, factor.covariance_blocks()):
        k = term.n_columns
        assert blocks.shape == (term.n_levels, k, k)
        for level in range(term.n_levels):
            rows = slice(start + level * k, start + (level + 1) * k)
            np.testing.assert_allclose(blocks[level], V[rows, rows], rtol=1e-10, atol=1e-13)
        start += term.size
    first_blocks, first_rest, rest = factor.inverse_parts()
    q1 = design.terms[0].size
    np.testing.assert_allclose(first_blocks, factor.covariance_blocks()[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(first_rest, V[:q1, q1:], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(rest, V[q1:, q1:], rtol=1e-10, atol=1e-13)


def test_leverages_are_the_hat_diagonal(case):
    ZL = case["ZL"]
    expected = np.einsum("ij,jk,ik->i", ZL, np.linalg.inv(case["A"]), ZL)
    np.testing.assert_allclose(glmm_system.leverages(glmm_factor(case, True), case["rows"]), expected, rtol=1e-10)


@pytest.mark.parametrize("weighted", [False, True], ids=["unit weights", "prior weights"])
def test_the_lmm_system_gives_the_same_factor(case, weighted):
    """The LMM's system (its C ends with y; prior weights scale the rows by √w) factors as the GLMM's
    assembly of the same weights does, up to y's row and column and the LMM's -Σ log w."""
    design, theta = case["design"], case["theta"]
    weights = case["weights"] if weighted else np.ones(design.n)
    lmm_design = bm.build_design(case["formula"], layout_data(), weights=weights) if weighted else design
    lmm = factorize(build_system(lmm_design), theta)
    glmm = glmm_system.factorize(case["rows"], design.X, weights)
    m = design.q - design.terms[0].size + design.p
    assert lmm.dense.shape == (m + 1, m + 1) and glmm.dense.shape == (m, m)
    np.testing.assert_allclose(lmm.dense[:m, :m], glmm.dense, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lmm.first_inverse, glmm.first_inverse, rtol=1e-12, atol=1e-14)
    log_weights = float(np.log(weights).sum())
    assert lmm.logdet_random + log_weights == pytest.approx(glmm.logdet_random, rel=1e-12)
    assert lmm.logdet_fixed == pytest.approx(glmm.logdet_fixed, rel=1e-10, abs=1e-10)
    for mine, theirs in zip(lmm.covariance_blocks(), glmm.covariance_blocks()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-13)


def test_aliased_fixed_effects_are_named_as_such():
    design = bm.build_design("y ~ x + (1 | g1) + (1 | g2)", layout_data())
    rows = glmm_system.theta_rows(design, np.array([1.0, 1.0]))
    X = np.column_stack([design.X, np.zeros(design.n)])  # a column the data leave at zero
    with pytest.raises(NotPositiveDefinite, match="rank-deficient") as error:
        glmm_system.factorize(rows, X, np.ones(design.n))
    assert isinstance(error.value, np.linalg.LinAlgError)  # what PIRLS catches as a failed step

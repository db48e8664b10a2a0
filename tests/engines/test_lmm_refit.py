"""Refitting to a new response: `PlsSystem.with_response` against a freshly built system and the dense
formulas, on every block layout and storage of the Schur map."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bayesmixed.engines.lmm import system as system_module
from bayesmixed.engines.blocked_factor import factorize
from bayesmixed.engines.lmm.objective import profiled_objective
from bayesmixed.engines.lmm.system import build_system
from bayesmixed.errors import BayesmixedError
from tests.engines.lmm_helpers import dense_reference
from tests.engines.test_lmm_kernels import LAYOUTS, layout_design, random_theta

# How the first term's elimination is stored: the small dense map, the sparse map, no map at all.
ROUTES = {
    "dense map": {},
    "sparse map": {"DENSE_MAP_MAX_ENTRIES": 0},
    "dense route": {"SCHUR_MAP_MAX_ENTRIES": 0},
}


def another_response(design, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return design.y + rng.normal(0.0, design.y.std(), design.n)


def as_array(matrix) -> np.ndarray | None:
    return matrix.toarray() if hasattr(matrix, "toarray") else matrix


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("name", list(LAYOUTS))
def test_with_response_equals_a_system_built_for_that_response(name, route, monkeypatch):
    for setting, value in ROUTES[route].items():
        monkeypatch.setattr(system_module, setting, value)
    design = layout_design(name)
    y = another_response(design, len(name))
    original = build_system(design)
    original_wtw = original.wtw.copy()
    refilled = original.with_response(y)
    fresh = build_system(dataclasses.replace(design, y=y))
    for field in ("first_rhs", "schur_map", "first_rhs_dense", "wtw", "beta_shift"):
        np.testing.assert_array_equal(as_array(getattr(refilled, field)), as_array(getattr(fresh, field)),
                                      err_msg=field)
    np.testing.assert_array_equal(original.wtw, original_wtw)  # the original system is left as it was
    theta = random_theta(design, 5)
    expected = dense_reference(dataclasses.replace(design, y=y), theta, reml=False)
    assert profiled_objective(factorize(refilled, theta), reml=False) == pytest.approx(expected["objective"], rel=1e-10)


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_cross_products_are_those_of_the_augmented_columns(name):
    """wtw = lower triangle of W'W and G = Z₁'W for W = [Z_2 ... Z_m, X, y - offset - Xβ_shift]."""
    design = layout_design(name)
    system = build_system(design)
    shifted = design.y - design.offset - design.X @ system.beta_shift
    W = np.column_stack([term.Z.toarray() for term in design.terms[1:]] + [design.X, shifted])
    scale = np.abs(W).max() ** 2 * design.n
    np.testing.assert_allclose(system.wtw, np.tril(W.T @ W), rtol=1e-12, atol=1e-13 * scale)
    np.testing.assert_allclose(system.first_rhs.toarray(), design.terms[0].Z.T.toarray() @ W, rtol=1e-12,
                               atol=1e-13 * scale)
    np.testing.assert_allclose(system.beta_shift, np.linalg.lstsq(design.X, design.y - design.offset, rcond=None)[0],
                               rtol=1e-10)


def test_a_response_of_the_wrong_length_is_refused():
    system = build_system(layout_design("vector first, nothing else"))
    with pytest.raises(BayesmixedError, match="one per row"):
        system.with_response(np.zeros(system.n + 1))


# --- the fit's own deviance-function stage: devfun() and refit(y) (lme4's mkLmerDevfun and refit) -----------

def test_devfun_is_the_criterion_the_fit_minimised_and_ml_deviance_on_request():
    from tests.engines.lmm_helpers import LMM_REFERENCES, reference_fit, reference_theta

    reml_fit = reference_fit("sleep_corr_reml")
    assert reml_fit.devfun()(reml_fit.theta) == pytest.approx(LMM_REFERENCES["sleep_corr_reml"]["objective"], abs=1e-6)
    ml_spec = LMM_REFERENCES["sleep_corr_ml"]
    assert reml_fit.devfun(reml=False)(reference_theta(ml_spec)) == pytest.approx(ml_spec["objective"], abs=1e-5)


def test_refit_by_ml_matches_lme4s_ml_fit_and_refit_to_a_new_response_matches_a_fresh_fit():
    from bayesmixed.engines.lmm import fit_lmm
    from tests.engines.lmm_helpers import LMM_REFERENCES, reference_fit, reference_theta

    reml_fit = reference_fit("sleep_corr_reml")
    ml = reml_fit.refit(reml=False)
    spec = LMM_REFERENCES["sleep_corr_ml"]
    assert not ml.reml
    assert ml.objective == pytest.approx(spec["objective"], abs=1e-6)
    np.testing.assert_allclose(ml.theta, reference_theta(spec), atol=5e-5)  # a flat optimum: θ to ~1e-5
    y = reml_fit.simulate(1, seed=3)[0]
    refitted = reml_fit.refit(y)
    fresh = fit_lmm(dataclasses.replace(reml_fit.design, y=y), reml=True)
    assert refitted.reml and refitted.objective == pytest.approx(fresh.objective, abs=1e-6)
    np.testing.assert_allclose(refitted.beta, fresh.beta, rtol=1e-5)
    with pytest.raises(BayesmixedError, match="one response value per row"):
        reml_fit.refit(y[:-1])

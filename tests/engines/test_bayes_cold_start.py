"""What a first Bayesian fit compiles: the route's own kernel, and one sampler shared by every route.

The sampler (nuts.run_iterations) takes the log density as a numba first-class function of one fixed type
(kernels.LOG_DENSITY_SIGNATURE), so it compiles once, apart from the kernels, and its numba cache serves every
route; kernels.route_log_density picks the kernel from the packed model's route, so a fit compiles no other route.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numba
import numpy as np
import pytest

import bayesmixed as bm
from bayesmixed.design import build_design
from bayesmixed.engines.bayes import default_priors
from bayesmixed.engines.bayes.kernels import (LOG_DENSITY_SIGNATURE, PACKED_MODEL, ROUTE_LOG_DENSITIES,
                                              full_logp_grad, log_density, log_density_pointer, marginal_logp_grad,
                                              route_log_density)
from bayesmixed.engines.bayes.joint import joint_logp_grad
from bayesmixed.engines.bayes.layout import FULL, MARGINAL, MARGINAL_JOINT, integrated_beta_model, make_layout, pack_model
from tests.engines.numba_events import RECORD_COMPILES


def packed(formula: str, data: str, route: int, centred=frozenset()):
    design = build_design(formula, bm.datasets.load(data))
    layout = make_layout(design, route, centred)
    priors = default_priors(design)
    return design, layout, priors, pack_model(design, layout, priors)


@pytest.fixture(scope="module")
def models():
    return {
        "marginal": packed("Reaction ~ Days + (Days | Subject)", "sleepstudy", MARGINAL),
        "full": packed("Reaction ~ Days + (Days | Subject)", "sleepstudy", FULL),
        "full centred": packed("Reaction ~ Days + (Days | Subject)", "sleepstudy", FULL, frozenset({"Subject"})),
        "joint": packed("diameter ~ 1 + (1 | plate) + (1 | sample)", "penicillin", MARGINAL_JOINT),
    }


def test_every_packed_model_has_the_sampler_signature_type(models):
    """The sampler is compiled for FunctionType(LOG_DENSITY_SIGNATURE): a packed model of another numba type
    (a read-only or non-contiguous array, a changed dtype) would not match it."""
    assert LOG_DENSITY_SIGNATURE.args[2] == PACKED_MODEL
    for name, (design, layout, priors, model) in models.items():
        assert numba.typeof(model) == PACKED_MODEL, name
    design, layout, priors, _ = models["joint"]
    integrated = integrated_beta_model(design, layout, priors)
    assert integrated is not None and numba.typeof(integrated.model) == PACKED_MODEL


def test_route_log_density_picks_the_route_kernel(models):
    assert ROUTE_LOG_DENSITIES == {MARGINAL: marginal_logp_grad, FULL: full_logp_grad,
                                   MARGINAL_JOINT: joint_logp_grad}
    assert route_log_density(models["marginal"][3]) is marginal_logp_grad
    assert route_log_density(models["full"][3]) is full_logp_grad
    assert route_log_density(models["full centred"][3]) is full_logp_grad
    assert route_log_density(models["joint"][3]) is joint_logp_grad
    unknown = (models["marginal"][3][0].copy(),) + models["marginal"][3][1:]
    unknown[0][0] = 7
    with pytest.raises(ValueError, match="no compiled log density for route 7"):
        route_log_density(unknown)
    assert log_density_pointer(models["full"][3]) is log_density_pointer(models["full centred"][3])


def test_non_finite_density_is_minus_infinity(models):
    """log_density (Python callers) and nuts.evaluate (the sampler, through the function pointer) agree with the
    kernel where it is finite and give −inf where it is not."""
    from bayesmixed.engines.bayes.nuts import evaluate as compiled_evaluate

    @numba.njit
    def evaluate(log_density, x, grad, model):  # nuts' helpers have no Python wrapper: call it from compiled code
        return compiled_evaluate(log_density, x, grad, model)

    for name in ("marginal", "full"):
        design, layout, priors, model = models[name]
        x = np.full(layout.size, 0.1)
        x[0] = float(np.mean(design.y))
        grad, grad_pointer = np.zeros(layout.size), np.zeros(layout.size)
        lp = log_density(x, grad, model)
        assert np.isfinite(lp) and evaluate(log_density_pointer(model), x, grad_pointer, model) == lp
        np.testing.assert_array_equal(grad, grad_pointer)
        x[:] = np.nan
        assert log_density(x, grad, model) == -np.inf
        assert evaluate(log_density_pointer(model), x, grad, model) == -np.inf


CHILD = RECORD_COMPILES + r'''
import json, sys
import bayesmixed as bm
data = bm.datasets.load("sleepstudy")
marginalize = {"marginal": True, "full": False}[sys.argv[1]]
fit = bm.Model("Reaction ~ Days + (Days | Subject)", data).fit("bayes", seed=1, draws=50, tune=50, chains=2,
                                                                 marginalize=marginalize, progressbar=False, warn=False)
print("RESULT " + json.dumps({"route": str(fit.route), "compiled": compiled}))
'''


def compiles(route: str, cache) -> list[str]:
    # the sampler compiled here, not the prebuilt one (test_bayes_prebuilt.py), to see what it compiles with
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), BAYESMIXED_NO_PREBUILT="1")
    done = subprocess.run([sys.executable, "-c", CHILD, route], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    line = [row for row in done.stdout.splitlines() if row.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])["compiled"]


@pytest.mark.slow
def test_cold_fit_compiles_its_route_only_and_the_sampler_once(tmp_path):
    """Empty numba cache: a marginal fit compiles the marginal kernel and the sampler, not the full or joint
    kernels; a new process then loads both from the cache, and a full-route fit compiles its kernel only."""
    cold = compiles("marginal", tmp_path)
    assert cold.count("kernels.marginal_logp_grad") == 1 and cold.count("nuts.run_iterations") == 1
    assert not {"kernels.full_logp_grad", "joint.joint_logp_grad", "kernels.centred_prior"} & set(cold)
    warm = compiles("marginal", tmp_path)
    assert not [name for name in warm if name.split(".")[0] in ("kernels", "nuts", "joint", "factors", "conditional")], warm
    other_route = compiles("full", tmp_path)
    assert "kernels.full_logp_grad" in other_route
    assert not [name for name in other_route if name.startswith("nuts.")], other_route

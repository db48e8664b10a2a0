"""Simulation-based calibration (slow): ranks of prior draws among posterior draws are uniform (χ² test)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from bayesmixed.engines.bayes.sbc import simulation_based_calibration


def sbc_designs():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "sbc.py"
    spec = importlib.util.spec_from_file_location("bayes_sbc_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.sbc_designs()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gaussian", "gaussian crossed", "binomial"])
def test_ranks_are_uniform(name):
    design, priors = sbc_designs()[name]
    result = simulation_based_calibration(design, priors, n_simulations=100, draws=300, tune=300, seed=4)
    p_values = result.chi_square()["p_value"]
    # one test per parameter at the 0.001 level: a miscalibrated sampler fails by far more
    assert (p_values > 0.001).all(), result.chi_square()

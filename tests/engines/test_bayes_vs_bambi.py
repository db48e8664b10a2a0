"""bambi as an independent check of the Bayesian engine: same models, same priors, same posterior.

tests/reference/bambi_reference.json holds bambi 0.17 + nutpie's posterior mean, sd and mcse of the mean for
each parameter, fitted with bayesmixed's default priors written in bambi's terms (benchmarks/make_bambi_reference.py,
which needs bambi; this test does not). Our default fit (4 chains x 1000 draws, the numba sampler) must agree:
    |mean_ours − mean_bambi| < 4 √(mcse_ours² + mcse_bambi²)   and   sd_ours / sd_bambi within 15%.
"""

from __future__ import annotations

import importlib.util
import json
import math
from functools import cache
from pathlib import Path

import pytest

import bayesmixed as bm

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = json.loads((ROOT / "tests" / "reference" / "bambi_reference.json").read_text())
SD_RATIO_TOLERANCE = 0.15


@cache
def reference_script():
    """benchmarks/make_bambi_reference.py, for its data loader and posterior summary (it imports bambi lazily)."""
    spec = importlib.util.spec_from_file_location("make_bambi_reference", ROOT / "benchmarks" / "make_bambi_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def ours(name: str) -> tuple[object, dict]:
    case = REFERENCE["cases"][name]
    script = reference_script()
    model = bm.Model(case["formula"], script.load_data(case["data"]), family=case["family"])
    fit = model.fit("bayes", seed=1)
    return model, script.posterior_summary(fit.draws)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REFERENCE["cases"]))
def test_posterior_matches_bambi(name):
    case = REFERENCE["cases"][name]
    model, summary = ours(name)
    # the reference was made with today's default priors, or the comparison would be between two posteriors
    assert {entry.name: repr(entry.prior) for entry in model.priors} == case["priors"]
    assert set(summary) == set(case["posterior"])
    problems = []
    for parameter, theirs in case["posterior"].items():
        mine = summary[parameter]
        bound = 4 * math.hypot(mine["mcse_mean"], theirs["mcse_mean"])
        if abs(mine["mean"] - theirs["mean"]) >= bound:
            problems.append(f"{parameter}: mean {mine['mean']:.4g} vs bambi {theirs['mean']:.4g} (bound {bound:.3g})")
        if abs(mine["sd"] / theirs["sd"] - 1) >= SD_RATIO_TOLERANCE:
            problems.append(f"{parameter}: sd {mine['sd']:.4g} vs bambi {theirs['sd']:.4g}")
    assert not problems, "; ".join(problems)


def test_reference_sets_bambis_prior_on_every_parameter():
    """No bambi default prior slipped in: each of our parameters has its bambi term's prior written out."""
    for name, case in REFERENCE["cases"].items():
        assert set(case["names"]) == set(case["posterior"]) == set(case["priors"]), name
        for ours_name, bambi_name in case["names"].items():
            term = bambi_name.removesuffix("_sigma").split("[")[0]
            assert term in case["bambi_priors"], (name, ours_name)

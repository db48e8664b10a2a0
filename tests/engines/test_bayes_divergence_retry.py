"""A default Bayesian fit that diverges at target_accept 0.8 is sampled again at 0.95, then 0.99, and says so."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayesmixed.design import build_design
from bayesmixed.engines.bayes import fit_bayes
from bayesmixed.engines.bayes.diagnostics import diagnose
from bayesmixed.engines.bayes.fit import TARGET_ACCEPT_STEPS
from bayesmixed.engines.bayes.sample_stats import DIVERGING, ENERGY, N_STATS
from bayesmixed.errors import BayesmixedError


@pytest.fixture(scope="module")
def few_groups():
    """Poisson (1 | g) with 5 groups of 10: the sd's posterior reaches into a funnel's neck."""
    rng = np.random.default_rng(100)
    g = np.repeat(np.arange(5), 10)
    y = rng.poisson(np.exp(0.5 + 0.4 * rng.standard_normal(5)[g]))
    return build_design("y ~ 1 + (1 | g)", pd.DataFrame({"y": y, "g": [f"G{c}" for c in g]}), family="poisson")


def divergences(fit) -> int:
    return int(fit.sample_stats[..., DIVERGING].sum())


def test_a_diverging_default_fit_is_sampled_again_higher(few_groups):
    once = fit_bayes(few_groups, seed=1, target_accept=0.8, progressbar=False, warn=False)
    assert divergences(once) > 0 and once.diverged_runs == ()
    assert "raise target_accept" in " ".join(once.diagnosis.problems)
    default = fit_bayes(few_groups, seed=1, progressbar=False, warn=False)
    # the first run is the explicit 0.8 one (same seed), recorded; the draws kept are a later, clean run's
    assert default.diverged_runs[0] == (TARGET_ACCEPT_STEPS[0], divergences(once))
    assert divergences(default) == 0 and default.timings["target_accept"] > TARGET_ACCEPT_STEPS[0]
    assert default.timings["target_accept"] == TARGET_ACCEPT_STEPS[len(default.diverged_runs)]
    assert f"sampled again after divergences: {divergences(once)} at 0.8" in str(default.summary())
    assert not np.allclose(default.unconstrained, once.unconstrained)


def test_a_clean_default_fit_runs_once(few_groups):
    fit = fit_bayes(few_groups, seed=1, target_accept=0.95, progressbar=False, warn=False)
    assert divergences(fit) == 0 and fit.diverged_runs == () and fit.timings["target_accept"] == 0.95
    assert "sampled again" not in str(fit.summary())


def test_remaining_divergences_are_not_met_with_the_same_advice():
    stats = np.zeros((2, 50, N_STATS))
    stats[..., ENERGY] = np.random.default_rng(0).standard_normal((2, 50))
    stats[0, :3, DIVERGING] = 1.0
    table = pd.DataFrame({"r_hat": [1.0], "ess_bulk": [1000.0], "ess_tail": [1000.0]}, index=["x"])
    assert "raise target_accept (e.g. 0.95)" in diagnose(table, stats, 10, 0.8).problems[0]
    at_top = diagnose(table, stats, 10, 0.99).problems[0]
    assert "3 divergent transitions" in at_top and "they remain at target_accept 0.99" in at_top
    assert "raise target_accept" not in at_top


@pytest.mark.parametrize("value", [0.0, 1.0, 1.5, -0.2])
def test_target_accept_out_of_range_is_refused(few_groups, value):
    with pytest.raises(BayesmixedError, match="target_accept must be between 0 and 1"):
        fit_bayes(few_groups, seed=1, target_accept=value)

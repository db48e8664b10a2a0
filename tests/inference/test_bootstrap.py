"""bootstrap_lrt: reproducible by seed whatever runs the refits, failures counted, pbkrtest's p-value."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import bayesmixed as bm
from bayesmixed.errors import BayesmixedError
from bayesmixed.inference.bootstrap import run_replicates
from bayesmixed.inference.refit import RefitFailure
from tests.inference.helpers import SLEEP_CORRELATED, SLEEP_INTERCEPT, SLEEP_NO_DAYS, SLEEP_UNCORRELATED, bayes, lmm

# pbkrtest's PBmodcomp, sleepstudy correlated vs uncorrelated slopes (the figure).
PBKRTEST_P = 0.828


def correlated_pair():
    return lmm(SLEEP_UNCORRELATED, reml=False), lmm(SLEEP_CORRELATED, reml=False)


def test_observed_statistic_and_chisq_p_are_anovas():
    small, big = correlated_pair()
    result = bm.bootstrap_lrt(small, big, n=10, seed=1, progress=False)
    row = bm.anova(small, big).iloc[1]
    assert result.stat == pytest.approx(row["chisq"], abs=1e-10)
    assert result.chisq_p == pytest.approx(row["p"])
    assert result.df == 1 and result.n == 10 and result.n_ok + result.n_failed == 10


def test_same_seed_same_statistics_whatever_n_jobs():
    small, big = correlated_pair()
    serial = bm.bootstrap_lrt(small, big, n=24, seed=11, progress=False)
    parallel = bm.bootstrap_lrt(small, big, n=24, seed=11, n_jobs=2, progress=False)
    np.testing.assert_array_equal(serial.simulated, parallel.simulated)
    other_seed = bm.bootstrap_lrt(small, big, n=24, seed=12, progress=False)
    assert not np.array_equal(serial.simulated, other_seed.simulated)


def test_refits_of_the_bigger_model_never_end_above_the_smaller_one():
    result = bm.bootstrap_lrt(*correlated_pair(), n=60, seed=3, progress=False)
    assert result.simulated.min() >= 0.0
    assert result.p_value == (np.sum(result.simulated >= result.stat) + 1) / 61
    assert result.mc_se == pytest.approx(np.sqrt(result.p_value * (1 - result.p_value) / 60))


def test_p_value_is_pbkrtests_k_plus_1_over_n_plus_1_never_zero():
    """Days' effect is far beyond any simulated statistic: p is 1/(n + 1), as PBmodcomp reports, not 0."""
    result = bm.bootstrap_lrt(lmm(SLEEP_NO_DAYS, reml=False), lmm(SLEEP_CORRELATED, reml=False), n=8, seed=5,
                              progress=False)
    assert result.n_ok == 8 and result.simulated.max() < result.stat
    assert result.p_value == pytest.approx(1 / 9)
    assert "bootstrap p = 0.1111" in str(result) and "1/9" in str(result)


def test_models_that_are_not_nested_are_refused_with_the_reason():
    with pytest.raises(BayesmixedError, match=r"not nested.*fixed effect\(s\) Days.*aic_table"):
        bm.bootstrap_lrt(lmm(SLEEP_INTERCEPT, reml=False), lmm(SLEEP_NO_DAYS, reml=False), n=5)


def test_statistics_on_the_boundary_are_zero_not_rounding_below_it():
    """Where the bigger refit stays at the nested start, the two criteria differ by rounding (~1e-14)."""
    pastes = bm.datasets.load("pastes")
    small = bm.lmer("strength ~ 1 + (1 | batch)", pastes, REML=False)
    big = bm.lmer("strength ~ 1 + (1 | batch/cask)", pastes, REML=False)
    result = bm.bootstrap_lrt(small, big, n=100, seed=1, progress=False)
    assert result.simulated.min() == 0.0


def test_reml_fits_are_refitted_by_ml_as_in_anova():
    result = bm.bootstrap_lrt(lmm(SLEEP_INTERCEPT), lmm(SLEEP_UNCORRELATED), n=5, seed=1, progress=False)
    assert "refitted with ML" in str(result)
    assert result.stat == pytest.approx(bm.anova(lmm(SLEEP_INTERCEPT), lmm(SLEEP_UNCORRELATED))["chisq"].iloc[1])


def test_wrong_order_and_bayesian_fits_are_refused():
    small, big = correlated_pair()
    with pytest.raises(BayesmixedError, match="m0 nested in m1.*swap"):
        bm.bootstrap_lrt(big, small, n=5)
    with pytest.raises(BayesmixedError, match="Bayesian"):
        bm.bootstrap_lrt(small, bayes(SLEEP_CORRELATED), n=5)


class FlakyReplicate:
    """Fails for a third of the generators (a refit that did not converge), else returns a uniform draw."""

    def __call__(self, rng: np.random.Generator) -> float:
        value = rng.random()
        if value < 1 / 3:
            raise RefitFailure("did not converge (simulated failure)")
        return value


def test_failed_refits_are_counted_not_fatal():
    run = run_replicates(FlakyReplicate(), n=90, size=1, seed=4, n_jobs=1, progress=False, description="test")
    failed = np.isnan(run.values[:, 0])
    assert run.n_failed == failed.sum() > 0
    assert all("simulated failure" in failure for failure in run.failures)
    assert np.all(run.values[~failed, 0] >= 1 / 3)


def test_progress_bar_and_printed_result(capsys):
    result = bm.bootstrap_lrt(*correlated_pair(), n=6, seed=2, progress=True)
    text = str(result)
    assert "6 of 6 simulations" in text and "bootstrap p" in text and "Monte Carlo SE" in text
    frame = result.to_frame()
    assert list(frame.columns) == ["stat", "df", "p_chisq", "p_bootstrap", "mc_se", "n_ok", "n_failed"]


@pytest.mark.slow
def test_pbkrtest_p_value_within_monte_carlo_error_at_n_1000():
    result = bm.bootstrap_lrt(*correlated_pair(), n=1000, seed=2024, progress=False)
    assert result.n_failed == 0
    mc_se = np.sqrt(PBKRTEST_P * (1 - PBKRTEST_P) / 1000)
    assert abs(result.p_value - PBKRTEST_P) < 3 * mc_se, (result.p_value, mc_se)
    # under H0 the statistic's distribution is close to a χ²(1) here (the correlation is interior)
    assert stats.kstest(result.simulated, stats.chi2(1).cdf).statistic < 0.1


def test_refits_run_on_a_dask_cluster_with_the_same_results():
    joblib = pytest.importorskip("joblib")
    distributed = pytest.importorskip("distributed")
    small, big = correlated_pair()
    local = bm.bootstrap_lrt(small, big, n=16, seed=9, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, distributed.get_task_stream(client) as tasks, \
            joblib.parallel_backend("dask"):
        on_dask = bm.bootstrap_lrt(small, big, n=16, seed=9, n_jobs=-1, progress=False)
    assert len(tasks.data) > 0  # the refits ran as Dask tasks
    np.testing.assert_array_equal(local.simulated, on_dask.simulated)

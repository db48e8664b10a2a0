"""Grouped / stratified / random K-fold cross-validation (bm.kfold) and its place in bm.compare."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

import bayesmixed as bm
from bayesmixed.inference import ParetoKWarning
from bayesmixed.inference.compare import pareto_k_message
from bayesmixed.inference.kfold import KFold, KFoldWarning
from tests.inference.helpers import SLEEP_CORRELATED, SLEEP_INTERCEPT, bayes, lmm

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


def test_grouped_folds_score_held_out_subjects_by_their_marginal_density():
    fit = lmm(SLEEP_CORRELATED, reml=False)
    result = bm.kfold(fit, k=6, by="Subject", seed=11)
    sleep = bm.datasets.load("sleepstudy")
    subject = sleep["Subject"].astype(str).to_numpy()
    assert result.scheme == "grouped" and result.pointwise.shape == (180,)
    for fold in (0, 3):
        held = result.folds == fold
        assert not set(subject[held]) & set(subject[~held])  # whole subjects held out
        # the refit on the other subjects' rows alone, from the data frame: the same estimates
        refit = bm.lmer(SLEEP_CORRELATED, sleep[~held], REML=False)
        covariance = refit.covariance_blocks[0]
        z = np.column_stack([np.ones(held.sum()), sleep["Days"][held]])
        mean = z @ refit.beta
        sd = np.sqrt(np.einsum("ik,kl,il->i", z, covariance, z) + refit.sigma**2)
        expected = stats.norm.logpdf(sleep["Reaction"][held], mean, sd)
        np.testing.assert_allclose(result.pointwise[held], expected, rtol=1e-6)
    assert result.elpd_kfold == pytest.approx(result.pointwise.sum())
    assert result.se == pytest.approx(np.sqrt(180 * result.pointwise.var()))


def test_folds_are_reproducible_by_seed_whatever_n_jobs():
    fit = lmm(SLEEP_INTERCEPT, reml=False)
    one = bm.kfold(fit, k=4, by="Subject", seed=5)
    two = bm.kfold(fit, k=4, by="Subject", seed=5, n_jobs=2)
    np.testing.assert_array_equal(one.folds, two.folds)
    np.testing.assert_allclose(one.pointwise, two.pointwise, rtol=1e-12)
    assert not np.array_equal(one.folds, bm.kfold(fit, k=4, by="Subject", seed=6).folds)


def test_stratified_and_random_folds():
    fit = lmm(SLEEP_INTERCEPT, reml=False)
    stratified = bm.kfold(fit, k=5, by="Subject", folds="stratified", seed=1)
    codes = fit.design.terms[0].codes
    for level in range(18):  # 10 rows per subject: two in each of the 5 folds
        assert np.bincount(stratified.folds[codes == level], minlength=5).tolist() == [2] * 5
    random = bm.kfold(fit, k=4, seed=1)
    assert random.scheme == "random" and sorted(np.bincount(random.folds)) == [45] * 4
    # a subject seen in training is predicted better than a new one: observation-level folds score higher
    assert stratified.elpd_kfold > bm.kfold(fit, k=5, by="Subject", seed=1).elpd_kfold


def test_glmm_held_out_herds_integrate_the_random_effect():
    data = bm.datasets.load("cbpp")
    fit = bm.glmer(CBPP, data, "binomial")
    result = bm.kfold(fit, k=5, by="herd", seed=2)
    held = result.folds == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refit = bm.glmer(CBPP, data[~held], "binomial")
    sd = np.sqrt(refit.covariance_blocks[0][0, 0])
    eta = refit.design.fixed.matrix_for(data[held]) @ refit.beta
    for i, row in enumerate(np.flatnonzero(held)[:3]):
        y, n = data["incidence"].iloc[row], data["size"].iloc[row]

        def density(b, eta_i=eta[i], y=y, n=n):
            return stats.binom.pmf(y, n, special.expit(eta_i + b)) * stats.norm.pdf(b, 0, sd)

        expected = np.log(integrate.quad(density, -10 * sd, 10 * sd)[0])
        assert result.pointwise[row] == pytest.approx(expected, rel=1e-6)


def test_bad_arguments_are_named():
    fit = lmm(SLEEP_INTERCEPT, reml=False)
    with pytest.raises(bm.BayesmixedError, match="'Days' is not a grouping factor of the model"):
        bm.kfold(fit, by="Days")
    with pytest.raises(bm.BayesmixedError, match="need at least 40 levels of Subject; it has 18"):
        bm.kfold(fit, k=40, by="Subject")
    with pytest.raises(bm.BayesmixedError, match="unknown folds 'loo'"):
        bm.kfold(fit, by="Subject", folds="loo")
    with pytest.raises(bm.BayesmixedError, match="needs by="):
        bm.kfold(fit, folds="stratified")


def test_compare_takes_kfold_beside_psis_loo_and_pareto_k_points_to_it():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KFoldWarning)  # 150 draws a refit: R-hat and ESS warnings expected
        slopes = bm.kfold(bayes(SLEEP_CORRELATED), k=3, by="Subject", seed=4, draws=150, tune=150)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ParetoKWarning)
        table = bm.compare({"slopes (K-fold)": slopes, "intercepts": bayes(SLEEP_INTERCEPT)})
    assert set(table.index) == {"slopes (K-fold)", "intercepts"}
    assert table.loc["slopes (K-fold)", "elpd_loo"] == pytest.approx(slopes.elpd_kfold)
    assert any("3-fold cross-validation holding out whole levels of Subject" in note for note in table.notes)
    assert "bm.kfold" in pareto_k_message("m", np.array([0.9]), 0.7, "observation")
    # the Bayesian K-fold elpd and the ML one estimate the same quantity
    ml = bm.kfold(lmm(SLEEP_CORRELATED, reml=False), k=3, by="Subject", seed=4)
    np.testing.assert_array_equal(ml.folds, slopes.folds)
    assert slopes.elpd_kfold == pytest.approx(ml.elpd_kfold, abs=2 * ml.se)
    with pytest.raises(bm.BayesmixedError, match="unit='observation'"):
        bm.compare({"a": slopes, "b": bayes(SLEEP_INTERCEPT)}, unit="group")


def test_kfold_is_exported():
    assert "kfold" in bm.__all__
    assert isinstance(bm.kfold(lmm(SLEEP_INTERCEPT, reml=False), k=3, seed=0), KFold)


def test_weighted_gaussian_folds_use_sigma_squared_over_w():
    sleep = bm.datasets.load("sleepstudy")
    sleep = sleep.assign(w=np.where(sleep["Days"] < 5, 1.0, 2.0))
    fit = bm.lmer(SLEEP_INTERCEPT, sleep, REML=False, weights="w")
    result = bm.kfold(fit, k=3, by="Subject", seed=8)
    held = result.folds == 1
    refit = bm.lmer(SLEEP_INTERCEPT, sleep[~held], REML=False, weights="w")
    mean = refit.beta[0] + refit.beta[1] * sleep["Days"][held]
    sd = np.sqrt(refit.covariance_blocks[0][0, 0] + refit.sigma**2 / sleep["w"][held])
    np.testing.assert_allclose(result.pointwise[held], stats.norm.logpdf(sleep["Reaction"][held], mean, sd), rtol=1e-6)


def test_refit_trouble_is_reported_once_naming_the_fold():
    rng = np.random.default_rng(3)  # no group effect at all: the refits are singular (variance 0)
    data = pd.DataFrame({"y": rng.standard_normal(100), "g": np.repeat([f"g{i}" for i in range(10)], 10)})
    fit = bm.lmer("y ~ 1 + (1 | g)", data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = bm.kfold(fit, k=5, by="g", seed=1)
    assert result.messages and all(message.startswith("fold ") for message in result.messages)
    kfold_warnings = [w for w in caught if issubclass(w.category, KFoldWarning)]
    assert len(kfold_warnings) == 1 and "singular" in str(kfold_warnings[0].message)
    with pytest.raises(bm.BayesmixedError, match="K-fold refit without fold 0"):
        bm.kfold(fit, k=2, by="g", seed=1, start=[1.0, 2.0])


def test_refits_run_on_a_dask_cluster_with_the_same_results():
    joblib = pytest.importorskip("joblib")
    distributed = pytest.importorskip("distributed")
    fit = lmm(SLEEP_INTERCEPT, reml=False)
    local = bm.kfold(fit, k=3, by="Subject", seed=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, distributed.get_task_stream(client) as tasks, \
            joblib.parallel_backend("dask"):
        on_dask = bm.kfold(fit, k=3, by="Subject", seed=2, n_jobs=-1)
    assert len(tasks.data) > 0  # the refits ran as Dask tasks
    np.testing.assert_array_equal(local.pointwise, on_dask.pointwise)

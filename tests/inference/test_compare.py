"""compare (PSIS-LOO/WAIC through ArviZ) and side_by_side, on short Bayesian runs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayesmixed as bm
from bayesmixed.errors import BayesmixedError
from bayesmixed.inference import ParetoKWarning
from bayesmixed.inference.compare import pareto_k_message
from tests.inference.helpers import SLEEP_CORRELATED, SLEEP_INTERCEPT, bayes, lmm


def fits():
    return {"slopes": bayes(SLEEP_CORRELATED), "intercepts": bayes(SLEEP_INTERCEPT)}


@pytest.mark.parametrize("ic", ["loo", "waic"])
def test_compare_ranks_the_slope_model_first_with_arviz_columns(ic):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ParetoKWarning)
        table = bm.compare(fits(), ic=ic)
    assert list(table.index) == ["slopes", "intercepts"]  # random slopes are needed in sleepstudy
    assert {f"elpd_{ic}", f"p_{ic}", "elpd_diff", "weight", "se", "dse"} <= set(table.columns)
    assert table["elpd_diff"].iloc[1] > 2 * table["dse"].iloc[1]
    assert "single observations, not groups" in str(table)


def test_observation_level_elpd_is_the_sum_over_observations_of_arviz_loo():
    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = bm.compare(fits(), ic="loo")
        fit = bayes(SLEEP_CORRELATED)
        loglik = fit.log_likelihood("observation").reshape(fit.n_chains, fit.n_draws, -1)
        # ArviZ's relative efficiency comes from the posterior's ESS: the same draws (β) as compare's
        beta = fit.beta_draws.reshape(fit.n_chains, fit.n_draws, -1)
        direct = az.loo(az.from_dict(posterior={"beta": beta}, log_likelihood={"y": loglik}))
    assert table.loc["slopes", "elpd_loo"] == pytest.approx(direct.elpd_loo)


def test_leave_one_group_out_uses_one_unit_per_subject():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ParetoKWarning)
        table = bm.compare(fits(), unit="group")
    assert any("leave-one-group-out" in note and "Subject" in note for note in table.notes)
    # 18 subjects, not 180 observations: the elpd is far less negative per unit but similar in total
    assert -1000 < table["elpd_loo"].min() < -800


def test_large_pareto_k_values_warn_loudly_naming_the_fit():
    message = pareto_k_message("slopes", np.array([0.1, 0.9, 1.2]), 0.7, "observation")
    assert "slopes: 2 of 3 left-out observations have Pareto k > 0.70 (max 1.20)" in message
    assert pareto_k_message("slopes", np.array([0.1, 0.2]), 0.7, "observation") is None
    with pytest.warns(ParetoKWarning, match="Pareto k"):
        tiny = {"a": bayes(SLEEP_CORRELATED), "b": bayes(SLEEP_CORRELATED, seed=2)}
        bm.compare(tiny)  # 600 draws leave a few influential observations in sleepstudy


def test_frequentist_fits_are_refused_with_pointers():
    with pytest.raises(BayesmixedError, match="Bayesian fits.*anova.*bootstrap_lrt"):
        bm.compare({"a": lmm(SLEEP_CORRELATED), "b": bayes(SLEEP_CORRELATED)})
    with pytest.raises(BayesmixedError, match="dict of named"):
        bm.compare([bayes(SLEEP_CORRELATED), bayes(SLEEP_INTERCEPT)])
    with pytest.raises(BayesmixedError, match="unknown ic"):
        bm.compare(fits(), ic="aic")


def test_side_by_side_lines_up_ml_reml_and_bayes():
    model = bm.Model(SLEEP_CORRELATED, bm.datasets.load("sleepstudy"))
    ml, reml, posterior = model.fit("ml"), model.fit("reml"), bayes(SLEEP_CORRELATED)
    table = bm.side_by_side(ml=ml, reml=reml, bayes=posterior)
    frame = table.to_frame()
    assert list(dict.fromkeys(frame.columns.get_level_values(0))) == ["ml", "reml", "bayes"]
    expected_rows = ["(Intercept)", "Days", "sd_(Intercept)|Subject", "cor_Days.(Intercept)|Subject",
                     "sd_Days|Subject", "sigma", "icc_Subject", "R2_marginal", "R2_conditional", "logLik", "AIC",
                     "logLik (REML)", "AIC (REML)"]
    assert list(frame.index) == expected_rows
    assert frame.loc["sd_Days|Subject", ("reml", "estimate")] == pytest.approx(5.92213765889808, rel=1e-5)
    assert frame.loc["sigma", ("ml", "estimate")] == pytest.approx(ml.sigma)
    assert frame.loc["icc_Subject", ("reml", "estimate")] == pytest.approx(reml.icc()["icc"].iloc[0])
    assert frame.loc["logLik", ("ml", "estimate")] == pytest.approx(ml.loglik)
    assert np.isnan(frame.loc["logLik", ("bayes", "estimate")])
    # every fixed effect and variance parameter has an interval containing its estimate
    for fit in ("ml", "reml", "bayes"):
        part = frame[fit].loc[expected_rows[:6]]
        assert (part["lower"] <= part["estimate"]).all() and (part["estimate"] <= part["upper"]).all()
    printed = str(table)
    assert "estimates with 95% intervals" in printed and "credible" in printed and "profile" in printed


def test_side_by_side_refuses_different_models_and_offers_cheap_intervals():
    with pytest.raises(BayesmixedError, match="one model fitted several ways"):
        bm.side_by_side(a=lmm(SLEEP_CORRELATED), b=lmm(SLEEP_INTERCEPT))
    table = bm.side_by_side(reml=lmm(SLEEP_CORRELATED), intervals="wald").to_frame()
    assert table.loc["sigma", ("reml", "lower")] != table.loc["sigma", ("reml", "lower")]  # NaN: none asked for


def test_leave_one_group_out_on_a_full_route_fit_says_what_to_do():
    model = bm.Model(SLEEP_CORRELATED, bm.datasets.load("sleepstudy"))
    full = model.fit("bayes", draws=100, tune=100, chains=2, seed=4, progressbar=False, warn=False, marginalize=False)
    with pytest.raises(BayesmixedError, match="marginal route.*full route.*marginalize=True"):
        bm.compare({"full": full, "intercepts": bayes(SLEEP_INTERCEPT)}, unit="group")

"""A bambi fit beside ML, REML and bayesmixed's posterior: side_by_side and compare read its InferenceData."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayesmixed as bm
from bayesmixed.errors import BayesmixedError
from tests.inference.helpers import SLEEP_CORRELATED, SLEEP_INTERCEPT, bayes, lmm

bambi = pytest.importorskip("bambi", reason="bambi is a test extra (pip install bambi)")


@pytest.fixture(scope="module")
def bambi_idata():
    """A short bambi run of the random-intercept model (most of its ~1 min is PyMC's compilation)."""
    model = bambi.Model(SLEEP_INTERCEPT, bm.datasets.load("sleepstudy"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(draws=300, tune=300, chains=2, cores=1, random_seed=1, progressbar=False,
                         idata_kwargs={"log_likelihood": True})


@pytest.mark.slow
def test_bambi_stands_beside_ml_reml_and_ours(bambi_idata):
    posterior = bambi_idata.posterior
    table = bm.side_by_side(ml=lmm(SLEEP_INTERCEPT, reml=False), reml=lmm(SLEEP_INTERCEPT),
                            ours=bayes(SLEEP_INTERCEPT), bambi=bambi_idata, intervals="wald")
    frame = table.to_frame()
    # bambi's names mapped to ours: the cells are medians of bambi's own draws
    for ours, theirs in (("(Intercept)", "Intercept"), ("Days", "Days"), ("sd_(Intercept)|Subject", "1|Subject_sigma"),
                         ("sigma", "sigma")):
        assert frame.loc[ours, ("bambi", "estimate")] == pytest.approx(float(np.median(posterior[theirs].values)))
        # the same model and data: bambi's median lies inside bayesmixed's 95% credible interval
        lower, upper = frame.loc[ours, ("ours", "lower")], frame.loc[ours, ("ours", "upper")]
        assert lower < frame.loc[ours, ("bambi", "estimate")] < upper, ours
    for row in ("icc_Subject", "R2_marginal", "R2_conditional"):
        assert frame.loc[row, ("bambi", "lower")] < frame.loc[row, ("reml", "estimate")] < frame.loc[row, ("bambi", "upper")]
    assert any("bambi's posterior" in note for note in table.notes)
    assert "bambi" in table.to_html() and "bambi" in str(table)


@pytest.mark.slow
def test_compare_takes_a_bambi_fit(bambi_idata):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = bm.compare({"slopes": bayes(SLEEP_CORRELATED), "bambi intercepts": bambi_idata})
        same = bm.compare({"ours": bayes(SLEEP_INTERCEPT), "bambi": bambi_idata})
    assert list(table.index) == ["slopes", "bambi intercepts"]  # sleepstudy needs its random slopes
    # one model fitted twice: elpds within Monte Carlo and prior differences of each other
    assert same["elpd_diff"].iloc[1] < 3.0 and same["elpd_diff"].iloc[1] < 2 * same["dse"].iloc[1] + 1.0


@pytest.mark.slow
def test_bambi_errors_name_the_problem(bambi_idata):
    with pytest.raises(BayesmixedError, match="add one"):
        bm.side_by_side(bambi=bambi_idata)
    with pytest.raises(BayesmixedError, match="no 'Days\\|Subject_sigma'"):
        bm.side_by_side(reml=lmm(SLEEP_CORRELATED), bambi=bambi_idata, intervals="wald")
    with pytest.raises(BayesmixedError, match="observation-level log-likelihoods only"):
        bm.compare({"ours": bayes(SLEEP_INTERCEPT), "bambi": bambi_idata}, unit="group")

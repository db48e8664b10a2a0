"""Every linear mixed model in the lme4 1.1-31 reference: the engine's fit against lme4's (and lmerTest's).

Tolerances (issue 3): objective within 1e-6 relative or lower; θ, σ, β, SE, VarCorr, ranef and condsd
within 1e-4 relative (1e-6 absolute near zero); Satterthwaite df within 1e-2 relative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import as_list, load_reference
from tests.engines.lmm_helpers import (
    LMM_REFERENCES,
    reference_fit,
    reference_theta,
    reference_vector,
)

SLOW = {"insteval_reml"}
FIT_IDS = [pytest.param(k, marks=pytest.mark.slow) if k in SLOW else k for k in LMM_REFERENCES]


def assert_close(actual, expected, rel=1e-4, abs_near_zero=1e-6, what=""):
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape, what
    scale = np.maximum(np.abs(expected), abs_near_zero / rel)
    worst = np.max(np.abs(actual - expected) / scale)
    assert worst <= rel, f"{what}: max relative error {worst:.3g} > {rel:g}\n{actual}\n{expected}"


def test_every_gaussian_reference_fit_is_covered():
    assert set(LMM_REFERENCES) == {
        "sleep_corr_reml", "sleep_corr_ml", "sleep_uncorr_reml", "sleep_int_reml", "dyestuff_reml",
        "dyestuff_ml", "penicillin_reml", "pastes_reml", "insteval_reml", "sim_slopes_reml", "sim_slopes_ml",
    }


@pytest.mark.parametrize("fit_id", FIT_IDS)
def test_criterion_and_likelihood_numbers(fit_id):
    spec, fit = LMM_REFERENCES[fit_id], reference_fit(fit_id)
    assert fit.objective <= spec["objective"] * (1 + 1e-6)
    assert fit.objective >= spec["objective"] * (1 - 1e-6)
    assert_close(fit.loglik, spec["loglik"], rel=1e-6, what="loglik")
    assert_close(fit.aic, spec["aic"], rel=1e-6, what="aic")
    assert_close(fit.bic, spec["bic"], rel=1e-6, what="bic")
    assert fit.npar == spec["npar"]
    assert fit.nobs == spec["nobs"]
    assert fit.method == spec["method"]
    assert fit.is_singular == spec["singular"]
    assert fit.converged and not fit.messages


@pytest.mark.parametrize("fit_id", FIT_IDS)
def test_parameters(fit_id):
    spec, fit = LMM_REFERENCES[fit_id], reference_fit(fit_id)
    assert list(fit.theta_names) == as_list(spec["theta_names"])
    assert_close(fit.theta, reference_theta(spec), what="theta")
    assert_close(fit.sigma, spec["sigma"], what="sigma")
    assert list(fit.fixef.index) == list(spec["fixef"])
    assert_close(fit.fixef, reference_vector(spec, "fixef"), what="fixef")
    assert_close(fit.se, reference_vector(spec, "se"), what="se")
    assert_close(np.sqrt(np.diag(fit.vcov.to_numpy())), fit.se, rel=1e-12, what="vcov vs se")


@pytest.mark.parametrize("fit_id", FIT_IDS)
def test_varcorr_layout_and_values(fit_id):
    spec, fit = LMM_REFERENCES[fit_id], reference_fit(fit_id)
    expected = pd.DataFrame(spec["varcorr"]).reindex(columns=["grp", "var1", "var2", "vcov", "sdcor"])
    actual = fit.varcorr
    assert list(actual.columns) == ["grp", "var1", "var2", "vcov", "sdcor"]
    assert actual["grp"].tolist() == expected["grp"].tolist()
    for column in ("var1", "var2"):
        assert _labels(actual[column]) == _labels(expected[column]), column
    assert_close(actual["vcov"], expected["vcov"], what="varcorr vcov")
    assert_close(actual["sdcor"], expected["sdcor"], what="varcorr sdcor")


def _labels(column: pd.Series) -> list[str]:
    return ["" if pd.isna(v) else v for v in column]


@pytest.mark.parametrize("fit_id", FIT_IDS)
def test_conditional_modes_and_sds(fit_id):
    spec, fit = LMM_REFERENCES[fit_id], reference_fit(fit_id)
    assert set(fit.ranef) == {entry["group"] for entry in spec["ranef"]}
    for entry in spec["ranef"]:
        group, columns = entry["group"], as_list(entry["terms"])
        modes, sds = fit.ranef[group], fit.ranef_sd[group]
        assert list(modes.columns) == columns and list(sds.columns) == columns
        assert set(modes.index) == set(entry["levels"])
        assert_close(modes.loc[entry["levels"]].to_numpy(), np.array(entry["values"]), what=f"ranef {group}")
        assert_close(sds.loc[entry["levels"]].to_numpy(), np.array(entry["condsd"]), what=f"condsd {group}")


@pytest.mark.parametrize("fit_id", FIT_IDS)
def test_satterthwaite_df_and_p_values(fit_id):
    spec, fit = LMM_REFERENCES[fit_id], reference_fit(fit_id)
    table = fit.coefficients
    assert_close(table["df"], reference_vector(spec, "satterthwaite_df"), rel=1e-2, what="df")
    expected_p = reference_vector(spec, "satterthwaite_p")
    # lmerTest's p-values underflow to 0 where ours are merely tiny; compare where they are representable.
    representable = expected_p > 1e-300
    assert_close(table["Pr(>|t|)"][representable], expected_p[representable], rel=5e-2, what="p")
    assert np.all(table["Pr(>|t|)"][~representable] < 1e-250)


@pytest.mark.parametrize("lrt", load_reference()["lrt"], ids=lambda lrt: lrt["id"])
def test_likelihood_ratio_from_ml_deviances(lrt):
    import bayesmixed as bm

    data = bm.datasets.load("sleepstudy")
    small, big = (bm.lmer(lrt[key], data, REML=False) for key in ("small", "big"))
    assert_close(small.objective - big.objective, lrt["chisq"], rel=1e-4, what="chisq")
    assert big.npar - small.npar == lrt["df"]

"""anova and aic_table: lme4's LRT numbers, the REML/ML rule, boundary notes and refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.errors import BayesmixedError
from bayesmixed.inference import aic_table
from tests.conftest import load_reference
from tests.inference.helpers import (SLEEP_CORRELATED, SLEEP_INTERCEPT, SLEEP_NO_DAYS, SLEEP_UNCORRELATED, bayes,
                                     inference_reference, lmm)

LRT_TOL = 1e-4


@pytest.mark.parametrize("case", load_reference()["lrt"], ids=lambda case: case["id"])
def test_lrt_statistics_match_lme4_anova(case):
    table = bm.anova(lmm(case["small"]), lmm(case["big"]))
    test_row = table.iloc[1]
    assert test_row["chisq"] == pytest.approx(case["chisq"], abs=LRT_TOL)
    assert test_row["df"] == case["df"]
    assert test_row["p"] == pytest.approx(case["p"], rel=LRT_TOL)


@pytest.mark.parametrize("case_id", list(inference_reference()["lrt"]))
def test_whole_anova_tables_match_lme4(case_id):
    case = inference_reference()["lrt"][case_id]
    fits = [lmm(formula, case["data"]) for formula in case["formulas"]]
    table = bm.anova(*fits, refit=case["refit"])
    expected = case["anova"]
    assert list(table["npar"]) == expected["npar"]
    for column in ("aic", "bic", "loglik", "deviance"):
        np.testing.assert_allclose(table[column], expected[column], atol=LRT_TOL, err_msg=column)
    np.testing.assert_allclose(table["chisq"].iloc[1:], expected["chisq"][1:], atol=LRT_TOL)
    np.testing.assert_allclose(table["p"].iloc[1:], expected["p"][1:], rtol=1e-3)


def test_rows_come_in_increasing_npar_and_keyword_labels_name_them():
    table = bm.anova(full=lmm(SLEEP_CORRELATED), null=lmm(SLEEP_INTERCEPT))
    assert list(table.index) == ["null", "full"]
    assert list(table.columns) == ["npar", "aic", "bic", "loglik", "deviance", "chisq", "df", "p"]
    assert np.isnan(table.loc["null", "chisq"]) and pd.isna(table.loc["null", "df"])


def test_reml_fits_are_refitted_by_ml_and_the_printed_table_says_so():
    table = bm.anova(lmm(SLEEP_NO_DAYS), lmm(SLEEP_CORRELATED))
    assert any("refitted with ML (instead of REML)" in note for note in table.notes)
    printed = str(table)
    assert "refitted with ML (instead of REML)" in printed and "different fixed effects" in printed
    # the ML refits' log-likelihoods, not the REML criteria
    assert table["loglik"].iloc[1] == pytest.approx(lmm(SLEEP_CORRELATED, reml=False).loglik, abs=1e-6)


def test_ml_fits_need_no_refit_note():
    table = bm.anova(lmm(SLEEP_UNCORRELATED, reml=False), lmm(SLEEP_CORRELATED, reml=False))
    assert not any("refitted" in note for note in table.notes)


def test_refit_false_refuses_reml_fits_with_different_fixed_effects_with_the_reason():
    with pytest.raises(BayesmixedError, match="differ in fixed effects.*K'X = 0.*ML"):
        bm.anova(lmm(SLEEP_NO_DAYS), lmm(SLEEP_CORRELATED), refit=False)


def test_refit_false_keeps_reml_for_identical_fixed_effects():
    table = bm.anova(lmm(SLEEP_UNCORRELATED), lmm(SLEEP_CORRELATED), refit=False)
    assert table["loglik"].iloc[1] == pytest.approx(lmm(SLEEP_CORRELATED).loglik)
    assert any("REML likelihoods" in note for note in table.notes)


def test_a_variance_on_its_boundary_gets_the_conservative_note_and_the_mixture_p_value():
    table = bm.anova(lmm(SLEEP_INTERCEPT, reml=False), lmm(SLEEP_UNCORRELATED, reml=False))
    (note,) = [note for note in table.notes if "boundary" in note]
    assert "(Days | Subject)" in note and "conservative" in note and "bootstrap_lrt" in note
    chisq = table["chisq"].iloc[1]
    from scipy import stats

    assert f"{0.5 * stats.chi2.sf(chisq, 1):.4g}" in note
    assert "boundary" in str(table)


def test_a_correlation_is_not_on_a_boundary():
    table = bm.anova(lmm(SLEEP_UNCORRELATED, reml=False), lmm(SLEEP_CORRELATED, reml=False))
    assert not any("boundary" in note for note in table.notes)


def test_fits_to_different_data_are_refused():
    shorter = bm.datasets.load("sleepstudy").iloc[:170]
    with pytest.raises(BayesmixedError, match="same data.*180 rows.*170"):
        bm.anova(lmm(SLEEP_INTERCEPT), bm.lmer(SLEEP_CORRELATED, shorter))


def test_fits_with_equal_numbers_of_parameters_are_refused():
    # 1 + 3 + 1 and 2 + 2 + 1 parameters: neither can be nested in the other
    with pytest.raises(BayesmixedError, match="nested.*npar"):
        bm.anova(lmm(SLEEP_NO_DAYS, reml=False), lmm(SLEEP_UNCORRELATED, reml=False))


def test_a_single_fit_gets_its_f_tests_and_a_bayesian_fit_is_refused():
    single = bm.anova(lmm(SLEEP_CORRELATED))
    assert list(single.frame.index) == ["Days"] and "Type III Analysis of Variance" in str(single)
    with pytest.raises(BayesmixedError, match="type and ddf.*one fit"):
        bm.anova(lmm(SLEEP_INTERCEPT), lmm(SLEEP_CORRELATED), type="II")
    with pytest.raises(BayesmixedError, match="Bayesian fit.*compare"):
        bm.anova(lmm(SLEEP_CORRELATED), bayes(SLEEP_CORRELATED))


def test_models_that_are_not_nested_by_name_get_a_note():
    days_only = bm.lmer("Reaction ~ Days + (1 | Subject)", bm.datasets.load("sleepstudy"), REML=False)
    slopes_no_days = lmm(SLEEP_NO_DAYS, reml=False)
    table = bm.anova(days_only, slopes_no_days)
    assert any("does not look nested" in note and "Days" in note for note in table.notes)
    # The slopes' variance is new in the second model, but a boundary mixture p-value means nothing
    # when the first is not nested in it.
    assert not any("mixture" in note or "boundary" in note for note in table.notes)


def test_aic_table_refuses_reml_fits_with_different_fixed_effects_with_the_lectures_reason():
    with pytest.raises(BayesmixedError, match="REML.*fixed effects.*different data"):
        aic_table(lmm(SLEEP_NO_DAYS), lmm(SLEEP_CORRELATED))


def test_aic_table_orders_by_aic_and_matches_the_fits():
    fits = {"slopes": lmm(SLEEP_CORRELATED, reml=False), "intercepts": lmm(SLEEP_INTERCEPT, reml=False),
            "no_days": lmm(SLEEP_NO_DAYS, reml=False)}
    table = aic_table(**fits)
    assert table["aic"].is_monotonic_increasing
    assert table["delta_aic"].iloc[0] == 0.0
    for label, fit in fits.items():
        assert table.loc[label, "aic"] == pytest.approx(fit.aic)
        assert table.loc[label, "bic"] == pytest.approx(fit.bic)
    assert any("differ in random effects" in note for note in table.notes)

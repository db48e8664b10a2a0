"""F-tests of fixed-effect terms against lmerTest (Satterthwaite, Kenward-Roger) and car::Anova (GLMM Wald χ²).

References: tests/reference/make_fixed_anova_reference.R (lmerTest 3.1, pbkrtest 0.5, car 3.1).
"""

from __future__ import annotations

import json
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.design.fixed import RankDeficiencyWarning
from bayesmixed.errors import BayesmixedError
from bayesmixed.inference.fixed_anova import f_statistic_df
from bayesmixed.inference.hypotheses import doolittle_lower

REFERENCE_DIR = Path(__file__).parents[1] / "reference"
LEVELS = {
    "cake": {"replicate": [str(i) for i in range(1, 16)], "recipe": ["A", "B", "C"],
             "temperature": ["175", "185", "195", "205", "215", "225"]},
    "sleep": {"Subject": None, "block": ["early", "middle", "late"], "group": ["A", "B"]},
    "split": {"block": [f"k{i}" for i in range(1, 9)], "A": ["a1", "a2", "a3"], "B": ["b1", "b2"]},
    "binom": {"g": [f"g{i}" for i in range(1, 13)], "A": ["a1", "a2", "a3"], "B": ["b1", "b2"]},
}
SPLIT_SUM_CODED = ("y ~ C(A, contr.sum) * C(B, contr.sum) + x + C(A, contr.sum):x + (1 | block) "
                   "+ (1 | block:A)")


@lru_cache(maxsize=1)
def reference() -> dict:
    return json.loads((REFERENCE_DIR / "fixed_anova_reference.json").read_text())


@lru_cache(maxsize=None)
def data(name: str, reversed_levels: bool = False) -> pd.DataFrame:
    if name == "split_empty_cell":
        split = data("split", reversed_levels)
        return split[~((split["A"] == "a3") & (split["B"] == "b2"))]
    frame = pd.read_csv(REFERENCE_DIR / f"fixed_anova_{name}.csv")
    for column, levels in LEVELS[name].items():
        values = frame[column].astype(str)
        levels = levels or sorted(values.unique())
        frame[column] = pd.Categorical(values, categories=levels[::-1] if reversed_levels else levels)
    return frame


@lru_cache(maxsize=None)
def lmm_fit(case_id: str):
    case = reference()["lmm"][case_id]
    with warnings.catch_warnings():
        # the empty cell's column is aliased and dropped, as lme4 drops it (tested in tests/design)
        warnings.simplefilter("ignore", RankDeficiencyWarning)
        return bm.lmer(case["formula"], data(case["data"]), REML=case["REML"], weights=case.get("weights"))


@lru_cache(maxsize=None)
def glmm_fit():
    case = reference()["glmm"]["binom"]
    return bm.glmer(case["formula"], data("binom"), family="binomial")


def lmm_tables() -> list[tuple[str, str]]:
    """Every lmerTest table, except Kenward-Roger's of the weighted fit: pbkrtest builds Var(y) without the
    prior weights (σ²I where the model has σ²/w; test_kenward_roger_honours_prior_weights)."""
    return [(case_id, key) for case_id, case in reference()["lmm"].items() for key in case["tables"]
            if key != "drop1" and not key.endswith("sum_coding") and not (case.get("weights") and "Kenward" in key)]


def assert_matches_lmertest(frame: pd.DataFrame, expected: dict) -> None:
    np.testing.assert_array_equal(frame["NumDF"].to_numpy(), expected["num_df"])
    np.testing.assert_allclose(frame["F value"], expected["f"], rtol=1e-4)
    np.testing.assert_allclose(frame["DenDF"], expected["den_df"], rtol=1e-3)
    np.testing.assert_allclose(frame["Sum Sq"], expected["sum_sq"], rtol=1e-4)
    np.testing.assert_allclose(frame["Mean Sq"], expected["mean_sq"], rtol=1e-4)
    np.testing.assert_allclose(frame["Pr(>F)"], expected["p"], rtol=1e-3)


@pytest.mark.parametrize(("case_id", "key"), lmm_tables())
def test_f_table_matches_lmertest(case_id: str, key: str):
    kind, ddf = key.split("_")
    fit = lmm_fit(case_id)
    expected = reference()["lmm"][case_id]["tables"][key]
    table = fit.anova(type=kind, ddf=ddf)
    assert list(table.frame.index) == expected["terms"]
    assert_matches_lmertest(table.frame, expected)
    method = "Satterthwaite's" if ddf == "Satterthwaite" else "Kenward-Roger's"
    assert table.heading == f"Type {kind} Analysis of Variance Table with {method} method"


def test_type3_does_not_depend_on_the_coding_or_the_order_of_levels():
    """Sum-to-zero contrasts and reversed levels (other reference levels) test the same hypotheses."""
    expected = reference()["lmm"]["split"]["tables"]["III_Satterthwaite_sum_coding"]
    sum_coded = bm.lmer(SPLIT_SUM_CODED, data("split"))
    assert sum_coded.design.fixef_names != lmm_fit("split").design.fixef_names
    assert_matches_lmertest(sum_coded.anova().frame, expected)
    reordered = bm.lmer(reference()["lmm"]["split"]["formula"], data("split", reversed_levels=True))
    assert_matches_lmertest(reordered.anova().frame, expected)
    # Type II is coding-free too (marginality); Kenward-Roger's type III under sum coding as well.
    assert_matches_lmertest(reordered.anova(type="II").frame, reference()["lmm"]["split"]["tables"]["II_Satterthwaite"])
    assert_matches_lmertest(sum_coded.anova(ddf="Kenward-Roger").frame,
                            reference()["lmm"]["split"]["tables"]["III_Kenward-Roger"])


def test_one_df_term_is_the_squared_t_test_of_the_summary():
    fit = bm.lmer("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
    row = bm.anova(fit).frame.loc["Days"]
    coefficients = fit.coefficients.loc["Days"]
    assert row["F value"] == pytest.approx(coefficients["t value"] ** 2, rel=1e-10)
    assert row["DenDF"] == pytest.approx(coefficients["df"], rel=1e-10)
    assert row["Pr(>F)"] == pytest.approx(coefficients["Pr(>|t|)"], rel=1e-8)


def test_bm_anova_of_one_fit_is_the_fit_method_and_prints_as_lmertest():
    fit = lmm_fit("split")
    table = bm.anova(fit, type="II", ddf="Kenward-Roger")
    pd.testing.assert_frame_equal(table.frame, fit.anova(type="II", ddf="Kenward-Roger").frame)
    text = str(table)
    assert text.startswith("Type II Analysis of Variance Table with Kenward-Roger's method")
    header = text.splitlines()[1].split()
    assert header == ["Sum", "Sq", "Mean", "Sq", "NumDF", "DenDF", "F", "value", "Pr(>F)"]
    assert "A:x" in text and "Signif. codes" in text
    assert "<table" in table.to_html() and "| A:B |" in table.to_markdown().replace("  ", " ")
    # lmerTest's show_tests: the hypothesis matrices are kept, one row per numerator df
    assert {term: L.shape[0] for term, L in table.hypotheses.items()} == {"A": 2, "B": 1, "x": 1, "A:B": 2, "A:x": 2}


def test_wald_chisq_of_a_glmm_matches_car_anova():
    case = reference()["glmm"]["binom"]
    fit = glmm_fit()
    for kind in ("II", "III"):
        table = bm.anova(fit, type=kind)
        assert table.heading == f"Analysis of Deviance Table (Type {kind} Wald chisquare tests)"
        assert list(table.frame.index) == case[kind]["terms"]
        np.testing.assert_array_equal(table.frame["Df"], case[kind]["df"])
        # car's fits are glmer's (type III refitted with sum coding): agreement is to the optimisers' ~1e-4
        np.testing.assert_allclose(table.frame["Chisq"], case[kind]["chisq"], rtol=5e-4)
        np.testing.assert_allclose(table.frame["Pr(>Chisq)"], case[kind]["p"], rtol=2e-3)


def test_bad_options_are_refused_with_the_reason():
    with pytest.raises(BayesmixedError, match="Kenward-Roger.*REML"):
        lmm_fit("split_ml").anova(ddf="Kenward-Roger")
    with pytest.raises(BayesmixedError, match="type must be"):
        lmm_fit("split").anova(type="IV")
    with pytest.raises(BayesmixedError, match="ddf must be"):
        lmm_fit("split").anova(ddf="containment")
    with pytest.raises(BayesmixedError, match="GLMM.*'II' or 'III'.*sequential"):
        glmm_fit().anova(type="I")
    with pytest.raises(BayesmixedError, match="GLMM.*denominator df"):
        glmm_fit().anova(ddf="Kenward-Roger")
    intercept_only = bm.lmer("Yield ~ 1 + (1 | Batch)", bm.datasets.load("dyestuff"))
    with pytest.raises(BayesmixedError, match="no fixed-effect terms"):
        intercept_only.anova()


def test_ml_fits_are_tested_with_a_note():
    assert "ML fit" in str(lmm_fit("split_ml").anova())


def test_doolittle_and_the_combined_df_are_lmertests():
    x = np.array([[4.0, 2.0, 1.0], [2.0, 5.0, 3.0], [1.0, 3.0, 6.0]])
    lower = doolittle_lower(x)
    upper = np.linalg.solve(lower, x)
    np.testing.assert_allclose(lower @ upper, x)
    assert np.allclose(np.triu(lower, 1), 0) and np.allclose(np.diag(lower), 1) and np.allclose(np.tril(upper, -1), 0)
    # get_Fstat_ddf: 2E/(E - q) with E = Σ ν/(ν - 2); equal ν give ν; any ν <= 2 gives 2
    nu = np.array([10.0, 20.0])
    expectation = 10 / 8 + 20 / 18
    assert f_statistic_df(nu) == pytest.approx(2 * expectation / (expectation - 2))
    assert f_statistic_df(np.array([7.0, 7.0])) == 7.0
    assert f_statistic_df(np.array([1.5, 30.0])) == 2.0


def test_kenward_roger_honours_prior_weights():
    """Constant weights c only rescale σ² (σ²_w = cσ²): the test must not change.  pbkrtest, which puts σ²_w I
    into Var(y), fails this; its weighted table differs from ours."""
    split = data("split")
    formula = reference()["lmm"]["split_weighted"]["formula"]
    plain = bm.lmer(formula, split).anova(ddf="Kenward-Roger").frame
    constant = bm.lmer(formula, split.assign(w=4.0), weights="w").anova(ddf="Kenward-Roger")
    np.testing.assert_allclose(constant.frame["F value"], plain["F value"], rtol=1e-6)
    np.testing.assert_allclose(constant.frame["DenDF"], plain["DenDF"], rtol=1e-6)
    assert any("pbkrtest leaves the weights out" in note for note in constant.notes)
    weighted = lmm_fit("split_weighted").anova(ddf="Kenward-Roger").frame
    pbkrtest = reference()["lmm"]["split_weighted"]["tables"]["III_Kenward-Roger"]
    assert not np.allclose(weighted["F value"], pbkrtest["f"], rtol=1e-3)


def test_missing_cells_are_named_in_a_note_as_lmertest_does():
    table = lmm_fit("split_empty_cell").anova()
    assert any("missing cells for: Aa3:Bb2" in note for note in table.notes)
    assert not lmm_fit("split").anova().notes


def assert_matches_drop1(table: pd.DataFrame, expected: dict, rtol: float) -> None:
    assert list(table.index) == expected["terms"]
    assert table["npar"].tolist()[1:] == expected["npar"][1:] and pd.isna(table["npar"].iloc[0])
    np.testing.assert_allclose(table["aic"], expected["aic"], rtol=rtol)
    np.testing.assert_allclose(table["lrt"].iloc[1:], expected["lrt"][1:], rtol=rtol)
    np.testing.assert_allclose(table["p"].iloc[1:], expected["p"][1:], rtol=rtol)


def test_drop1_matches_lme4_for_ml_and_refits_reml_fits_by_ml():
    expected = reference()["lmm"]["split_ml"]["tables"]["drop1"]
    assert_matches_drop1(bm.drop1(lmm_fit("split_ml")), expected, rtol=1e-6)
    from_reml = bm.drop1(lmm_fit("split"))
    assert_matches_drop1(from_reml, expected, rtol=1e-6)
    assert any("refitted with ML" in note for note in from_reml.notes)


def test_drop1_of_a_glmm_matches_lme4():
    """Only terms no other term contains are dropped: x and A:B, not A or B."""
    assert_matches_drop1(bm.drop1(glmm_fit()), reference()["glmm"]["binom"]["drop1"], rtol=1e-4)


def test_type3_wald_tests_of_a_glmm_do_not_depend_on_the_order_of_levels():
    case = reference()["glmm"]["binom"]
    reordered = bm.glmer(case["formula"], data("binom", reversed_levels=True), family="binomial")
    np.testing.assert_allclose(reordered.anova().frame["Chisq"], glmm_fit().anova().frame["Chisq"], rtol=1e-4)


def test_a_bayesian_fit_is_pointed_to_its_posterior():
    class PosteriorFit:
        is_bayes = True
        idata = None

    with pytest.raises(BayesmixedError, match="Bayesian fit.*posterior"):
        bm.anova(PosteriorFit())
    with pytest.raises(BayesmixedError, match="fitted models"):
        bm.anova("not a fit")


def test_to_frame_keeps_heading_and_notes():
    table = lmm_fit("split_ml").anova(type="I")
    frame = table.to_frame()
    assert type(frame) is pd.DataFrame and list(frame.columns) == list(table.frame.columns)
    assert frame.attrs["heading"].startswith("Type I Analysis") and frame.attrs["notes"] == table.notes

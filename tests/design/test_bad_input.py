"""Each bad input gets a clear error (or warning) naming the problem; the CLI prints it on one line."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.design.fixed import RankDeficiencyWarning
from bayesmixed.design.frame import MissingValuesWarning
from bayesmixed.errors import DataError, FormulaError


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return bm.datasets.load("sleepstudy")


@pytest.mark.parametrize(
    "formula, position, expected",
    [
        ("Reaction ~ Days + (Days | Subject", 33, "expected ')'"),
        ("Reaction ~ Days + * (1 | Subject)", 18, "expected a term after '+'"),
        ("Reaction ~ Days + (1 | )", 23, "expected a term"),
        ("Reaction ~ Days $ (1 | Subject)", 16, "unexpected character '$'"),
        ("Reaction Days + (1 | Subject)", 9, "expected an operator or the end of the formula"),
        ("Reaction ~ Days + 1 | Subject", 20, "must be in parentheses"),
        ("Reaction ~ Days + (1 | Subject + Days)", 23, "grouping factor"),
        ("~ Days + (1 | Subject)", 0, "response"),
    ],
)
def test_syntax_errors_name_formula_position_and_expectation(sleep, formula, position, expected):
    with pytest.raises(FormulaError) as info:
        bm.Model(formula, sleep)
    error = info.value
    assert error.position == position
    assert expected in str(error)
    assert formula in str(error)
    assert "^" in str(error).splitlines()[-1]


def test_unknown_column_suggests_close_matches(sleep):
    with pytest.raises(DataError, match=r"unknown column 'Dayz'.*position 11.*did you mean 'Days'"):
        bm.Model("Reaction ~ Dayz + (1 | Subject)", sleep)
    with pytest.raises(DataError, match=r"unknown column 'subject'.*did you mean 'Subject'"):
        bm.Model("Reaction ~ Days + (1 | subject)", sleep)


def test_missing_values_dropped_with_a_counting_warning(sleep):
    data = sleep.copy()
    data.loc[[3, 10], "Reaction"] = np.nan
    data.loc[[10, 50, 51], "Days"] = np.nan
    with pytest.warns(MissingValuesWarning, match=r"dropped 4 of 180 rows .*Reaction: 2, Days: 3"):
        model = bm.Model("Reaction ~ Days + (1 | Subject)", data)
    assert model.design.n == 176
    assert 10 not in model.design.row_index


def test_unused_column_missing_values_do_not_drop_rows(sleep):
    data = sleep.assign(other=np.nan)
    assert bm.Model("Reaction ~ Days + (1 | Subject)", data).design.n == 180


def test_grouping_factor_with_one_level_is_an_error(sleep):
    data = sleep.assign(one="a")
    with pytest.raises(DataError, match=r"grouping factor 'one' in term \(1 \| one\) has 1 level"):
        bm.Model("Reaction ~ Days + (1 | one)", data)


def test_gaussian_grouping_factor_with_a_level_per_observation_is_an_error(sleep):
    data = sleep.assign(row=np.arange(len(sleep)).astype(str))
    with pytest.raises(DataError, match=r"grouping factor 'row' .* 180 levels for 180 observations"):
        bm.Model("Reaction ~ Days + (1 | row)", data)
    # a binomial model may have one level per observation (observation-level random effects)
    data["hit"] = (data["Reaction"] > 300).astype(int)
    assert bm.Model("hit ~ Days + (1 | row)", data, family="binomial").design.terms[0].n_levels == 180


def test_rank_deficient_x_drops_aliased_columns_with_a_warning(sleep):
    data = sleep.assign(Days2=2 * sleep["Days"], hours=24 * sleep["Days"] + 0.0)
    with pytest.warns(RankDeficiencyWarning, match=r"dropping 2 aliased column\(s\) Days2, hours"):
        model = bm.Model("Reaction ~ Days + Days2 + hours + (1 | Subject)", data)
    assert model.design.fixef_names == ("(Intercept)", "Days")
    assert model.design.dropped_fixef == ("Days2", "hours")


def test_bad_family_and_responses(sleep):
    with pytest.raises(DataError, match="unknown family 'gamma'"):
        bm.Model("Reaction ~ Days + (1 | Subject)", sleep, family="gamma")
    with pytest.raises(DataError, match="binomial response 'Reaction' must be 0/1"):
        bm.Model("Reaction ~ Days + (1 | Subject)", sleep, family="binomial")
    with pytest.raises(DataError, match="Poisson response 'Reaction' must hold non-negative whole-number"):
        bm.Model("Reaction ~ Days + (1 | Subject)", sleep, family="poisson")
    with pytest.raises(FormulaError, match="cbind.*binomial response"):
        bm.Model("cbind(Days, Days) ~ 1 + (1 | Subject)", sleep)
    with pytest.raises(DataError, match="response 'Subject' must be numeric"):
        bm.Model("Subject ~ Days + (1 | Days)", sleep)


def test_not_a_dataframe():
    with pytest.raises(DataError, match="data must be a pandas DataFrame"):
        bm.Model("y ~ (1 | g)", {"y": [1, 2], "g": ["a", "b"]})


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bayesmixed.cli", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize(
    "args, message",
    [
        (("parse", "Reaction ~ Days + (Days | Subjct)", "--data", "sleepstudy"),
         "error: unknown column 'Subjct'"),
        (("parse", "Reaction ~ Days + (Days | Subject", "--data", "sleepstudy"),
         "error: expected ')' to close the '(' at position 18, found end of formula at position 33"),
        (("parse", "Reaction ~ Days + (1 | Subject)", "--data", "no_such.csv"), "error: no such file"),
        (("parse", "Reaction ~ Days + (1 | Subject)", "--data", "sleepstudy", "--family", "gamma"),
         "error: unknown family 'gamma'"),
    ],
)
def test_cli_prints_one_line_errors_and_exits_non_zero(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr


def test_cli_reports_dropped_rows_as_a_warning_line(tmp_path, sleep):
    path = tmp_path / "sleep.csv"
    data = sleep.copy()
    data.loc[[0, 1], "Reaction"] = np.nan
    data.to_csv(path, index=False)
    result = run_cli("parse", "Reaction ~ Days + (1 | Subject)", "--data", str(path))
    assert result.returncode == 0
    assert re.search(r"warning: dropped 2 of 180 rows", result.stderr)
    assert "n = 178" in result.stdout


def test_constant_gaussian_response_is_an_error(sleep):
    with pytest.raises(DataError, match=r"response 'flat' is constant \(1 in every row\)"):
        bm.Model("flat ~ Days + (1 | Subject)", sleep.assign(flat=1.0))


def test_overlapping_random_terms_warn(sleep):
    from bayesmixed.design.build import OverlappingTermsWarning

    with pytest.warns(OverlappingTermsWarning, match=r"\(1 \| Subject\) and \(Days \| Subject\) both give \(Intercept\)"):
        bm.Model("Reaction ~ Days + (1 | Subject) + (Days | Subject)", sleep)


def test_new_level_of_a_fixed_factor_in_newdata_is_an_error(sleep):
    data = sleep.assign(week=np.where(sleep["Days"] < 5, "first", "second"))
    fit = bm.lmer("Reaction ~ week + (1 | Subject)", data)
    assert fit.predict(data.head(2)).to_numpy() == pytest.approx(fit.fitted().to_numpy()[:2])
    with pytest.raises(DataError, match=r"newdata column 'week' has level\(s\) 'thrid' not seen in the fit"):
        fit.predict(data.head(2).assign(week=["first", "thrid"]))
    with pytest.raises(DataError, match=r"newdata column 'week' has missing values"):
        fit.predict(data.head(2).assign(week=["first", None]))


def test_lmer_refuses_a_family_and_names_glmer(sleep):
    with pytest.raises(bm.BayesmixedError, match=r"use bm.glmer\(formula, data, family='binomial'\)"):
        bm.lmer("Reaction ~ Days + (1 | Subject)", sleep, family="binomial")


def test_bootstrap_needs_a_positive_number_of_simulations(sleep):
    small = bm.lmer("Reaction ~ Days + (1 | Subject)", sleep, REML=False)
    big = bm.lmer("Reaction ~ Days + (Days | Subject)", sleep, REML=False)
    with pytest.raises(bm.BayesmixedError, match="n >= 1"):
        bm.bootstrap_lrt(small, big, n=-5)


def test_cli_reports_an_unreadable_csv_on_one_line(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text('y,x,g\n1,2,"a\n3,4,b\n')
    result = run_cli("fit", "y ~ x + (1 | g)", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error: cannot read")


def test_response_reproduced_exactly_by_the_fixed_effects_is_an_error(sleep):
    with pytest.raises(DataError, match=r"reproduce the response 'exact' exactly"):
        bm.Model("exact ~ Days + (1 | Subject)", sleep.assign(exact=3 * sleep["Days"] + 1.0))

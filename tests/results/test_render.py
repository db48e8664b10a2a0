"""R-style number formatting and table rendering used by the summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayesmixed.results.render import column_decimals, format_column, format_p_value, render_table, significance_stars
from bayesmixed.results.summary import abbreviate, abbreviate_unique, random_effects_lines
from bayesmixed.results.varcorr import sd_and_correlation


def test_column_decimals_follow_r_format():
    # R: format(c(612.10016, 35.07171, 654.94001), digits = 4) -> "612.10" " 35.07" "654.94"
    assert format_column([612.10016, 35.07171, 654.94001]) == ["612.10", "35.07", "654.94"]
    # R: format(c(24.74066, 5.922138, 25.5918), digits = 4) -> "24.741" " 5.922" "25.592"
    assert format_column([24.74066, 5.922138, 25.5918]) == ["24.741", "5.922", "25.592"]
    # trailing zeros do not count: 0.0231 needs 4 decimals, not 5
    assert column_decimals([-3.9536, 0.0231, 5.1793], 4) == 4
    assert format_column([1.0, None, float("nan")], blank="") == ["1", "", ""]
    assert format_column([1e-12, 2e-12]) == ["1.000e-12", "2.000e-12"]


def test_p_values_and_stars():
    assert format_p_value(1e-20) == "< 2e-16"
    assert format_p_value(3.26382e-06) == "3.26e-06"
    assert format_p_value(0.04567) == "0.0457"
    assert format_p_value(float("nan")) == "NA"
    assert [significance_stars(p) for p in (0.0001, 0.005, 0.02, 0.07, 0.5)] == ["***", "**", "*", ".", ""]


def test_render_table_aligns_columns():
    lines = render_table(["name", "value"], [["a", "1.5"], ["long name", "10.25"]])
    assert lines == ["name      value", "a           1.5", "long name 10.25"]


def test_abbreviate_like_r():
    assert abbreviate("(Intercept)") == "(Intr)"
    assert abbreviate("Days") == "Days"


def test_random_effects_table_shows_correlations_beside_the_variances():
    varcorr = pd.DataFrame(
        [("g", "(Intercept)", None, 4.0, 2.0), ("g", "x", None, 1.0, 1.0), ("g", "(Intercept)", "x", 0.5, 0.25),
         ("Residual", None, None, 9.0, 3.0)],
        columns=["grp", "var1", "var2", "vcov", "sdcor"],
    )
    lines = random_effects_lines(varcorr)
    assert lines[0].split() == ["Groups", "Name", "Variance", "Std.Dev.", "Corr"]
    assert lines[2].split()[-1] == "0.25"
    assert lines[3].split()[0] == "Residual"


def test_sd_and_correlation_with_a_zero_variance():
    sd, correlation = sd_and_correlation(np.array([[4.0, 0.0], [0.0, 0.0]]))
    np.testing.assert_array_equal(sd, [2.0, 0.0])
    np.testing.assert_array_equal(correlation, [[1.0, 0.0], [0.0, 1.0]])


def test_correlation_header_abbreviations_are_distinct_as_r():
    # R: abbreviate(c("(Intercept)", "dose levelhigh", "dose levellow"), 6) gives "(Intr)" "dslvlh" "dslvll"
    assert abbreviate_unique(["(Intercept)", "dose levelhigh", "dose levellow"]) == ["(Intr)", "dslvlh", "dslvll"]
    assert abbreviate_unique(["doselevel1", "doselevel2", "Days"]) == ["dslvl1", "dslvl2", "Days"]
    assert abbreviate_unique(["x", "x"]) == ["x", "x"]  # identical names cannot be told apart; no endless loop


def test_summary_correlation_header_has_no_repeated_names():
    import bayesmixed as bm

    sleep = bm.datasets.load("sleepstudy")
    sleep["dose level"] = np.array(["low", "mid", "high"])[sleep["Days"].to_numpy() % 3]
    text = str(bm.lmer("Reaction ~ Q('dose level') + (1 | Subject)", sleep).summary())
    header = text.split("Correlation of Fixed Effects:")[1].splitlines()[1].split()
    assert len(header) == len(set(header)) == 2, header

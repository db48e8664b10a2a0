"""Column and term names as R writes them, and formula forms R users type (issue 12's small-print defects)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.design import build_design


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 60
    return pd.DataFrame({
        "y": rng.normal(size=n) + np.repeat(rng.normal(size=6), 10),
        "age": rng.normal(size=n),
        "treat": np.tile([True, False], n // 2),
        "g": np.repeat(list("abcdef"), 10),
        "dose level": rng.normal(size=n),
    })


def test_power_logical_and_interaction_names_are_r_names(data):
    # R (lme4 1.1-31): names(fixef(lmer(y ~ treat*age + I(age^2) + (1|g), d))) with a logical treat
    design = build_design("y ~ treat*age + I(age^2) + (1 | g)", data)
    assert design.fixef_names == ("(Intercept)", "treatTRUE", "age", "I(age^2)", "treatTRUE:age")
    for spelling in ("I(age**2)", "I(age ^ 2)", "I(age ** 2)"):
        assert build_design(f"y ~ {spelling} + (1 | g)", data).fixef_names[1] == "I(age^2)"


def test_logical_without_intercept_and_in_a_random_term(data):
    # R: fixef names treatFALSE, treatTRUE; theta names g.(Intercept), g.treatTRUE.(Intercept), g.treatTRUE
    design = build_design("y ~ 0 + treat + (treat | g)", data)
    assert design.fixef_names == ("treatFALSE", "treatTRUE")
    assert design.theta_names == ("g.(Intercept)", "g.treatTRUE.(Intercept)", "g.treatTRUE")
    np.testing.assert_array_equal(design.X[:, 1], data["treat"].to_numpy(dtype=float))


def test_logical_predictor_predicts_on_new_data(data):
    fit = bm.lmer("y ~ treat * age + (1 | g)", data)
    np.testing.assert_allclose(fit.predict(data.iloc[:7]), fit.fitted().iloc[:7], rtol=1e-12)


def test_quoted_column_name_is_found(data):
    quoted = build_design("y ~ Q('dose level') + (1 | g)", data)
    backquoted = build_design("y ~ `dose level` + (1 | g)", data)
    np.testing.assert_array_equal(quoted.X, backquoted.X)
    np.testing.assert_array_equal(quoted.X[:, 1], data["dose level"].to_numpy())


@pytest.mark.parametrize("group", ["factor(g)", "as.factor(g)"])
def test_factor_call_as_grouping_factor(data, group):
    design = build_design(f"y ~ age + (1 | {group})", data)
    plain = build_design("y ~ age + (1 | g)", data)
    (term,) = design.terms
    assert term.group == group and term.label == f"(1 | {group})"
    assert term.theta_names() == [f"{group}.(Intercept)"]
    assert term.levels == plain.terms[0].levels
    np.testing.assert_array_equal(term.Z.toarray(), plain.terms[0].Z.toarray())
    with pytest.raises(bm.FormulaError, match=re.escape("grouping factor 'factor(g, levels = x)' must be")):
        build_design("y ~ age + (1 | factor(g, levels = x))", data)

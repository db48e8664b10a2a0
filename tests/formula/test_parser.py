"""The formula language: lme4's expansions, fixed-part syntax, and properties of the parser."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bayesmixed as bm
from bayesmixed.errors import FormulaError
from bayesmixed.formula import parse_formula


def specs(formula: str) -> list[tuple[str, str, bool]]:
    return [(s.lhs, s.group, s.correlated) for s in parse_formula(formula).random]


def test_double_bar_expands_like_lme4():
    assert specs("y ~ x + (x || g)") == [("1", "g", False), ("0 + x", "g", False)]
    assert specs("y ~ (0 + x + z || g)") == [("0 + x", "g", False), ("0 + z", "g", False)]
    assert specs("y ~ (x * z || g)") == [("1", "g", False), ("0 + x", "g", False), ("0 + z", "g", False),
                                         ("0 + x:z", "g", False)]


def test_single_bar_keeps_the_block_correlated():
    assert specs("y ~ x + (x | g)") == [("x", "g", True)]
    assert specs("y ~ (1 + x + z | g)") == [("1 + x + z", "g", True)]


def test_nesting_and_interaction_grouping():
    assert specs("y ~ (1 | a/b)") == [("1", "a", True), ("1", "b:a", True)]
    # lme4 1.1-31 names the innermost grouping of a/b/c "c:(b:a)"
    assert specs("y ~ (1 | a/b/c)") == [("1", "a", True), ("1", "b:a", True), ("1", "c:(b:a)", True)]
    assert [s.group_factors for s in parse_formula("y ~ (1 | a/b/c)").random] == [("a",), ("b", "a"), ("c", "b", "a")]
    assert specs("y ~ (1 | a:b)") == [("1", "a:b", True)]
    assert specs("y ~ (x || a/b)") == [("1", "a", False), ("0 + x", "a", False), ("1", "b:a", False),
                                       ("0 + x", "b:a", False)]


def test_crossed_terms_and_fixed_part():
    parsed = parse_formula("y ~ x*w + C(f) + np.log(z) + offset(log(n)) + (1 | g1) + (1 | g2) - 1")
    assert parsed.fixed == "x * w + C(f) + np.log(z) - 1"
    assert parsed.offsets == ("log(n)",)
    assert [s.group for s in parsed.random] == ["g1", "g2"]
    assert parse_formula("y ~ (1 | g)").fixed == "1"
    assert parse_formula("y ~ 0 + (1 | g)").fixed == "0"


def test_variables_found_in_every_part():
    parsed = parse_formula("cbind(s, n - s) ~ x + np.log(z) + offset(log(t)) + (w | a/b)")
    assert set(parsed.variables()) == {"s", "n", "x", "z", "t", "w", "a", "b"}


@pytest.fixture(scope="module")
def toy() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 120
    return pd.DataFrame({
        "y": rng.normal(size=n),
        "x": rng.uniform(1, 5, size=n),
        "w": rng.normal(size=n),
        "f": rng.choice(["lo", "mid", "hi"], size=n),
        "machine": rng.choice(["A", "B", "C"], size=n),
        "worker": np.repeat([f"w{i}" for i in range(12)], 10),
        "site": np.tile(["s1", "s2", "s3", "s4"], 30),
        "exposure": rng.uniform(1, 3, size=n),
    })


def test_fixed_part_r_names_and_treatment_contrasts(toy):
    design = bm.build_design("y ~ x * f + C(site) + np.log(x) + center(w) + (1 | worker)", toy)
    assert design.fixef_names == ("(Intercept)", "x", "flo", "fmid", "C(site)s2", "C(site)s3", "C(site)s4",
                                  "np.log(x)", "center(w)", "x:flo", "x:fmid")
    # treatment contrasts: the first sorted level ("hi" < "lo" < "mid") is the reference
    lo = toy["f"].to_numpy() == "lo"
    assert np.array_equal(design.X[:, 2], lo.astype(float))
    assert np.array_equal(design.X[:, 9], lo * toy["x"].to_numpy())
    assert design.X[:, 8].mean() == pytest.approx(0.0, abs=1e-12)


def test_intercept_control(toy):
    assert bm.build_design("y ~ 0 + x + (1 | worker)", toy).fixef_names == ("x",)
    assert bm.build_design("y ~ x - 1 + (1 | worker)", toy).fixef_names == ("x",)
    assert bm.build_design("y ~ -1 + f + (1 | worker)", toy).fixef_names == ("fhi", "flo", "fmid")


def test_offset_is_evaluated(toy):
    design = bm.build_design("y ~ x + offset(np.log(exposure)) + (1 | worker)", toy)
    assert design.offset == pytest.approx(np.log(toy["exposure"].to_numpy()))


def test_double_bar_keeps_a_factor_block_correlated_as_lme4(toy):
    design = bm.build_design("y ~ x + (machine || worker)", toy)
    assert [t.label for t in design.terms] == ["(1 | worker)", "(0 + machine | worker)"]
    assert [t.n_theta for t in design.terms] == [1, 6]


def test_categorical_predictor_inside_a_bar(toy):
    design = bm.build_design("y ~ 1 + (0 + machine | worker)", toy)
    (term,) = design.terms
    assert term.columns == ("machineA", "machineB", "machineC")
    assert term.n_theta == 6
    assert design.theta_names[:3] == ("worker.machineA", "worker.machineB.machineA", "worker.machineC.machineA")


def test_terms_ordered_by_decreasing_levels_ties_reversed(toy):
    # site (4 levels) then worker (12): reordered; lme4 uses rev(order(nl)), so equal counts come out reversed
    design = bm.build_design("y ~ (1 | site) + (1 | worker) + (0 + x | site)", toy)
    assert [t.label for t in design.terms] == ["(1 | worker)", "(0 + x | site)", "(1 | site)"]
    # already decreasing: left as written
    design = bm.build_design("y ~ (1 | worker) + (1 | site)", toy)
    assert [t.group for t in design.terms] == ["worker", "site"]


def test_interaction_grouping_levels(toy):
    design = bm.build_design("y ~ (1 | site:f)", toy)
    (term,) = design.terms
    assert term.levels[0] == "s1:hi" and term.levels[1] == "s1:lo"
    assert len(term.levels) == len(set(zip(toy["site"], toy["f"])))


def test_binomial_responses():
    frame = pd.DataFrame({"s": [1, 2, 0, 3, 1, 2], "n": [4, 4, 4, 4, 4, 4], "g": list("aabbcc"),
                          "r": ["N", "Y", "N", "Y", "Y", "N"]})
    design = bm.build_design("cbind(s, n - s) ~ 1 + (1 | g)", frame, family="binomial")
    assert design.y.tolist() == [1, 2, 0, 3, 1, 2] and design.trials.tolist() == [4] * 6
    design = bm.build_design("r ~ 1 + (1 | g)", frame, family="binomial")
    assert design.y.tolist() == [0, 1, 0, 1, 1, 0]  # second level "Y" is success, as in R


# --- properties -----------------------------------------------------------------------------------------

NAMES = st.sampled_from(["x", "z", "w", "Days", "age2"])
GROUPS = st.sampled_from(["g", "h", "Subject"])


@st.composite
def random_terms(draw):
    columns = draw(st.lists(NAMES, min_size=0, max_size=3, unique=True))
    intercept = draw(st.sampled_from(["1", "0", ""])) if columns else "1"
    lhs = " + ".join([p for p in [intercept] + columns if p]) or "1"
    bar = draw(st.sampled_from(["|", "||"]))
    group = draw(GROUPS)
    nested = draw(st.booleans())
    rhs = f"{group}/{draw(GROUPS)}" if nested else group
    return lhs, bar, rhs, columns, intercept


@given(st.lists(NAMES, max_size=3, unique=True), st.lists(random_terms(), min_size=1, max_size=3), st.integers(0, 3))
@settings(max_examples=150, deadline=None)
def test_expansion_count_and_whitespace_insensitivity(fixed, randoms, spaces):
    pad = " " * spaces
    pieces = fixed + [f"({lhs}{pad}{bar}{pad}{rhs})" for lhs, bar, rhs, _, _ in randoms]
    formula = "y ~ " + f"{pad}+{pad}".join(pieces)
    parsed = parse_formula(formula)
    expected_flags = []
    for lhs, bar, rhs, columns, intercept in randoms:
        per_group = 1 if bar == "|" else len(columns) + (intercept != "0")
        expected_flags += [bar == "|"] * per_group * (2 if "/" in rhs else 1)
    assert [s.correlated for s in parsed.random] == expected_flags
    compact = parse_formula(formula.replace(" ", ""))
    assert [str(s) for s in compact.random] == [str(s) for s in parsed.random]


@given(st.text(alphabet="yx~+-*/:|()1 g0^", max_size=25))
@settings(max_examples=300, deadline=None)
def test_parser_never_fails_without_a_formula_error(text):
    try:
        parse_formula(text)
    except FormulaError as error:
        assert error.position is None or 0 <= error.position <= len(text)


@pytest.mark.parametrize("text", ["1 + x", "x", "0 + x + w", "x + w - 1", "-1 + w", "1", "0", "x + x"])
def test_plain_numeric_parts_skip_formulaic_with_identical_matrices(toy, text):
    from formulaic import model_matrix

    from bayesmixed.design.columns import materialise, numeric_columns_spec

    assert numeric_columns_spec(text, toy) is not None
    values, names, spec = materialise(text, toy)
    expected = model_matrix(text, toy)
    assert names == list(expected.columns)
    assert np.array_equal(values, np.asarray(expected, dtype=float))
    assert np.array_equal(spec.get_model_matrix(toy.iloc[:5]).to_numpy(), values[:5])


@pytest.mark.parametrize("text", ["f", "x:w", "np.log(x)", "center(w)", "x * w", "C(site)"])
def test_other_parts_go_through_formulaic(toy, text):
    from bayesmixed.design.columns import numeric_columns_spec

    assert numeric_columns_spec(text, toy) is None


def test_power_inside_a_call_is_a_power_not_xor(toy):
    # R's `^` inside I() is a power; Python's would be XOR (silently wrong on integer columns)
    data = toy.assign(k=np.arange(len(toy)) % 7)
    design = bm.build_design("y ~ I(k^2) + (1 | worker)", data)
    assert design.fixef_names[1] == "I(k^2)"  # R's name
    assert np.array_equal(design.X[:, 1], (data["k"] ** 2).to_numpy(dtype=float))
    assert bm.build_design("I(x^2) ~ 1 + (1 | worker)", data).y == pytest.approx(data["x"].to_numpy() ** 2)


def test_r_math_functions_in_fixed_and_random_parts_and_on_new_data(toy):
    fit = bm.lmer("y ~ sqrt(x) + exp(w) + (sqrt(x) | worker)", toy)
    assert fit.design.fixef_names == ("(Intercept)", "sqrt(x)", "exp(w)")
    assert np.allclose(fit.design.X[:, 1], np.sqrt(toy["x"]))
    assert fit.predict(toy.head(4)).to_numpy() == pytest.approx(fit.fitted().to_numpy()[:4])

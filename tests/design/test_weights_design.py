"""Prior weights at the design stage: validation, row alignment with dropped rows, binomial trials."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.design import build_design
from bayesmixed.errors import DataError


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 40
    return pd.DataFrame({
        "y": rng.normal(size=n),
        "x": rng.normal(size=n),
        "g": np.repeat(list("abcdefgh"), 5),
        "w": rng.uniform(0.5, 2.0, size=n),
        "size": rng.integers(1, 9, size=n).astype(float),
    })


def test_weights_column_and_array_give_the_same_design(data):
    by_name = build_design("y ~ x + (1 | g)", data, weights="w")
    by_array = build_design("y ~ x + (1 | g)", data, weights=data["w"].to_numpy())
    np.testing.assert_array_equal(by_name.weights, data["w"].to_numpy())
    np.testing.assert_array_equal(by_array.weights, by_name.weights)
    assert by_name.weights_name == "w"
    assert build_design("y ~ x + (1 | g)", data).weights is None


def test_rows_dropped_for_missing_values_drop_their_weights(data):
    holes = data.copy()
    holes.loc[3, "x"] = np.nan
    holes.loc[7, "w"] = np.nan
    with pytest.warns(UserWarning, match=r"dropped 2 of 40 rows.*\(weights\): 1"):
        design = build_design("y ~ x + (1 | g)", holes, weights="w")
    np.testing.assert_array_equal(design.weights, data["w"].drop(index=[3, 7]).to_numpy())


@pytest.mark.parametrize("values, match", [
    (-1.0, r"weights 'w' must be non-negative finite numbers; row 0 holds -1"),
    (np.inf, r"weights 'w' must be non-negative finite numbers; row 0 holds inf"),
])
def test_bad_weight_values_are_named(data, values, match):
    bad = data.assign(w=data["w"].where(data.index != 0, values))
    with pytest.raises(DataError, match=match):
        build_design("y ~ x + (1 | g)", bad, weights="w")


def test_bad_weight_arguments_are_named(data):
    with pytest.raises(DataError, match=r"unknown column 'wt' \(used in weights=\); did you mean 'w'"):
        build_design("y ~ x + (1 | g)", data, weights="wt")
    with pytest.raises(DataError, match=r"one number per row of data \(40 rows\)"):
        build_design("y ~ x + (1 | g)", data, weights=np.ones(39))
    with pytest.raises(DataError, match=r"weights 'g' must be numbers"):
        build_design("y ~ x + (1 | g)", data, weights="g")
    with pytest.raises(DataError, match=r"weight 0 has infinite residual variance"):
        build_design("y ~ x + (1 | g)", data.assign(w=0.0), weights="w")


def test_binomial_proportion_with_trials_becomes_successes(data):
    successes = np.minimum(np.round(data["size"] * 0.4), data["size"])
    frame = data.assign(p=successes / data["size"])
    design = build_design("p ~ x + (1 | g)", frame, "binomial", weights="size")
    np.testing.assert_allclose(design.y, successes)
    np.testing.assert_array_equal(design.trials, data["size"].to_numpy())
    assert design.weights is None and design.weights_name == "size"
    cbind = build_design("cbind(s, f) ~ x + (1 | g)", frame.assign(s=successes, f=data["size"] - successes),
                         "binomial")
    np.testing.assert_array_equal(cbind.y, design.y)
    np.testing.assert_array_equal(cbind.trials, design.trials)
    with pytest.raises(DataError, match=r"weights 'size' with cbind\(s, f\): give either cbind"):
        build_design("cbind(s, f) ~ x + (1 | g)", frame.assign(s=successes, f=data["size"] - successes),
                     "binomial", weights="size")


def test_binomial_successes_must_be_whole(data):
    frame = data.assign(p=0.5, size=3.0)
    with pytest.raises(DataError, match=r"times weights 'size' must give whole numbers.*row 0 gives 0.5 x 3 = 1.5"):
        build_design("p ~ x + (1 | g)", frame, "binomial", weights="size")
    with pytest.raises(DataError, match=r"proportion with weights= the number of trials"):
        build_design("p ~ x + (1 | g)", frame, "binomial")


def test_poisson_weights_are_refused_by_the_glmm_fit(data):
    counts = data.assign(k=np.arange(40) % 4)
    with pytest.raises(bm.BayesmixedError, match=r"prior weights \('w'\).*poisson GLMM fit does not take them"):
        bm.glmer("k ~ x + (1 | g)", counts, family="poisson", weights="w")

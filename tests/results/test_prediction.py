"""Prediction intervals on simulated data with known parameters: ~95% of new observations fall in the
95% prediction intervals, for groups seen in the fit and for new groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm

TRUTH = {"intercept": 2.0, "slope": 0.5, "sd_group": 1.0, "sigma": 1.0}


def simulate(rng: np.random.Generator, groups: list[str], effects: dict[str, float], per_group: int) -> pd.DataFrame:
    g = np.repeat(groups, per_group)
    x = rng.uniform(0, 4, g.size)
    b = np.array([effects[name] for name in g])
    y = TRUTH["intercept"] + TRUTH["slope"] * x + b + TRUTH["sigma"] * rng.standard_normal(g.size)
    return pd.DataFrame({"y": y, "x": x, "g": g})


@pytest.fixture(scope="module")
def calibration():
    rng = np.random.default_rng(2024)
    seen = [f"g{i}" for i in range(40)]
    new = [f"new{i}" for i in range(20)]
    effects = {name: TRUTH["sd_group"] * rng.standard_normal() for name in seen + new}
    train = simulate(rng, seen, effects, 8)
    fresh = pd.concat([simulate(rng, seen, effects, 5), simulate(rng, new, effects, 10)], ignore_index=True)
    return bm.lmer("y ~ x + (1 | g)", train), fresh  # 200 new points in seen groups, 200 in new groups


def coverage(table: pd.DataFrame, y: pd.Series) -> float:
    return float(((table["lower"] <= y) & (y <= table["upper"])).mean())


def test_prediction_intervals_cover_95_percent_of_new_observations(calibration):
    fit, fresh = calibration
    table = fit.predict(fresh, allow_new_levels=True, interval="prediction", n_sim=4000, seed=1)
    assert 0.92 <= coverage(table, fresh["y"]) <= 0.98
    new_group = fresh["g"].str.startswith("new")
    # a new group's interval carries the group variance as well: wider than a seen group's
    width = table["upper"] - table["lower"]
    assert width[new_group].mean() > 1.2 * width[~new_group].mean()
    assert "N(b̂, conditional covariance)" in table.attrs["interval"]


def test_confidence_intervals_are_narrower_and_population_needs_no_group(calibration):
    fit, fresh = calibration
    seen = fresh[~fresh["g"].str.startswith("new")]
    prediction = fit.predict(seen, interval="prediction", seed=2)
    confidence = fit.predict(seen, interval="confidence", seed=2)
    assert ((confidence["upper"] - confidence["lower"]) < (prediction["upper"] - prediction["lower"])).all()
    fixed = fit.predict(seen, interval="confidence", seed=2, re_uncertainty=False)
    assert "fixed at their estimates" in fixed.attrs["interval"]
    assert ((fixed["upper"] - fixed["lower"]) < (confidence["upper"] - confidence["lower"])).all()
    # the population-level mean curve: β's uncertainty only, on data without the grouping column
    population = fit.predict(seen[["x"]], re=False, interval="confidence", seed=2)
    beta = fit.fixef.to_numpy()
    np.testing.assert_allclose(population["fit"], beta[0] + beta[1] * seen["x"], rtol=1e-12)
    se = np.sqrt(np.einsum("ij,jk,ik->i", np.column_stack([np.ones(len(seen)), seen["x"]]), fit.vcov, 
                           np.column_stack([np.ones(len(seen)), seen["x"]])))
    np.testing.assert_allclose(population["upper"] - population["lower"], 2 * 1.96 * se, rtol=0.1)


def test_interval_options_are_checked(calibration):
    fit, fresh = calibration
    with pytest.raises(bm.BayesmixedError, match="unknown interval 'predictive'"):
        fit.predict(fresh, interval="predictive")
    with pytest.raises(bm.BayesmixedError, match="level must be between 0 and 1"):
        fit.predict(fresh, interval="confidence", level=95)


def test_bayesian_prediction_intervals_cover_new_observations(calibration):
    fit, fresh = calibration
    train_rows = fit.design.n
    assert train_rows == 320
    bayes = bm.Model("y ~ x + (1 | g)", _training_frame(fit)).fit("bayes", draws=500, tune=300, chains=2, seed=5,
                                                                   progressbar=False, warn=False)
    table = bayes.predict(fresh, allow_new_levels=True, interval="prediction", seed=1)
    assert 0.92 <= coverage(table, fresh["y"]) <= 0.98
    assert "posterior predictive" in table.attrs["interval"]
    frequentist = fit.predict(fresh, allow_new_levels=True, interval="prediction", seed=1)
    # Each endpoint is a quantile of 1,000 draws (about 3% noise in a width, so up to ~15% at the worst of 400
    # points); on average the widths agree closely, a new group's slightly wider by the uncertainty in sd(g)
    ratio = ((table["upper"] - table["lower"]) / (frequentist["upper"] - frequentist["lower"])).to_numpy()
    assert abs(ratio[:200].mean() - 1) < 0.02 and 0 < ratio[200:].mean() - 1 < 0.06
    assert np.all(np.abs(ratio - 1) < 0.25)


def _training_frame(fit) -> pd.DataFrame:
    """The training data back from the design (y, x and the group labels)."""
    design = fit.design
    term = design.terms[0]
    return pd.DataFrame({"y": design.y, "x": design.X[:, 1], "g": np.asarray(term.levels)[term.codes]})


def test_weighted_prediction_intervals_scale_the_residual_by_one_over_root_w(calibration):
    _, fresh = calibration
    data = fresh.assign(w=np.where(np.arange(len(fresh)) % 2 == 0, 1.0, 4.0))
    fit = bm.lmer("y ~ x + (1 | g)", data, weights="w")
    table = fit.predict(interval="prediction", n_sim=4000, seed=3, re_uncertainty=False)
    width = (table["upper"] - table["lower"]).to_numpy()
    # β's uncertainty is small beside σ: widths in the ratio √(σ²/1) : √(σ²/4) = 2 : 1
    assert np.median(width[data["w"] == 1.0]) / np.median(width[data["w"] == 4.0]) == pytest.approx(2.0, rel=0.1)

"""The fit object's shared surface, checked by what the quantities mean rather than by stored numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.errors import DataError
from bayesmixed.results.prediction import NewLevelError


@pytest.fixture(scope="module")
def sleep():
    return bm.datasets.load("sleepstudy")


@pytest.fixture(scope="module")
def sleep_fit(sleep):
    return bm.lmer("Reaction ~ Days + (Days | Subject)", sleep)


@pytest.fixture(scope="module")
def penicillin_fit():
    return bm.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", bm.datasets.load("penicillin"))


def test_model_fit_dispatches_to_the_engine(sleep, sleep_fit):
    model = bm.Model("Reaction ~ Days + (Days | Subject)", sleep)
    reml, ml = model.fit("reml"), model.fit("ml")
    assert reml.objective == pytest.approx(sleep_fit.objective, rel=1e-12)
    assert reml.reml and not ml.reml and ml.method == "ML"
    assert ml.objective != pytest.approx(reml.objective)


def test_fitted_is_x_beta_plus_z_b(sleep_fit):
    design = sleep_fit.design
    b = np.concatenate([e.ravel() for e in sleep_fit.random_effects])
    expected = design.X @ sleep_fit.beta + design.Z @ b
    np.testing.assert_allclose(sleep_fit.fitted(), expected, rtol=1e-12)
    np.testing.assert_allclose(sleep_fit.fitted(re=False), design.X @ sleep_fit.beta, rtol=1e-12)


def test_residuals(sleep_fit):
    y = sleep_fit.design.y
    np.testing.assert_allclose(sleep_fit.residuals(), y - sleep_fit.fitted(), rtol=1e-12)
    np.testing.assert_allclose(sleep_fit.residuals("pearson"), (y - sleep_fit.fitted()) / sleep_fit.sigma, rtol=1e-12)
    np.testing.assert_allclose(sleep_fit.residuals(re=False), y - sleep_fit.fitted(re=False), rtol=1e-12)
    # Conditional residuals are orthogonal to X (the fixed-effects normal equations).
    np.testing.assert_allclose(sleep_fit.design.X.T @ sleep_fit.residuals().to_numpy(), 0.0, atol=1e-8)
    # Gaussian deviance residuals are the response residuals (the contract's default kind)
    np.testing.assert_allclose(sleep_fit.residuals("deviance"), sleep_fit.residuals("response"), rtol=1e-12)
    with pytest.raises(bm.BayesmixedError, match="unknown residual kind"):
        sleep_fit.residuals("working")


def test_predict_on_training_data_equals_fitted(sleep, sleep_fit):
    np.testing.assert_allclose(sleep_fit.predict(sleep), sleep_fit.fitted(), rtol=1e-12)
    np.testing.assert_allclose(sleep_fit.predict(sleep, re=False), sleep_fit.fitted(re=False), rtol=1e-12)
    assert sleep_fit.predict().equals(sleep_fit.fitted())


def test_predict_new_level(sleep, sleep_fit):
    new = pd.DataFrame({"Days": [0.0, 5.0, 5.0], "Subject": ["999", "999", "308"]})
    with pytest.raises(NewLevelError, match=r"'999'.*'Subject'") as error:
        sleep_fit.predict(new)
    assert isinstance(error.value, DataError)
    predicted = sleep_fit.predict(new, allow_new_levels=True)
    beta = sleep_fit.fixef
    assert predicted.iloc[0] == pytest.approx(beta["(Intercept)"])
    assert predicted.iloc[1] == pytest.approx(beta["(Intercept)"] + 5 * beta["Days"])
    b308 = sleep_fit.ranef["Subject"].loc["308"]
    assert predicted.iloc[2] == pytest.approx(beta["(Intercept)"] + b308["(Intercept)"] + 5 * (beta["Days"] + b308["Days"]))
    assert list(predicted.index) == list(new.index)


def test_simulate_is_seeded_and_has_the_model_moments():
    fit = bm.lmer("Yield ~ 1 + (1 | Batch)", bm.datasets.load("dyestuff"))
    draws = fit.simulate(4000, seed=5)
    assert draws.shape == (4000, fit.nobs)
    np.testing.assert_array_equal(draws, fit.simulate(4000, seed=5))
    assert not np.allclose(fit.simulate(2, seed=6), draws[:2])
    batch_variance = fit.varcorr["vcov"].iloc[0]
    total = batch_variance + fit.sigma**2
    assert draws.mean() == pytest.approx(fit.fixef.iloc[0], abs=4 * np.sqrt(total / 4000 * 5))
    assert draws[:, 0].var() == pytest.approx(total, rel=0.08)
    # Two rows of one batch share its random effect: their covariance is the batch variance.
    assert np.cov(draws[:, 0], draws[:, 1])[0, 1] == pytest.approx(batch_variance, rel=0.15)
    assert np.cov(draws[:, 0], draws[:, 5])[0, 1] == pytest.approx(0.0, abs=0.1 * batch_variance)


def test_icc(penicillin_fit, sleep_fit):
    dye = bm.lmer("Yield ~ 1 + (1 | Batch)", bm.datasets.load("dyestuff"))
    t2 = dye.theta[0] ** 2
    assert dye.icc().loc["Batch", "icc"] == pytest.approx(t2 / (t2 + 1), rel=1e-12)
    vc = penicillin_fit.varcorr.set_index("grp")["vcov"]
    icc = penicillin_fit.icc()["icc"]
    assert icc["plate"] == pytest.approx(vc["plate"] / vc.sum(), rel=1e-12)
    assert icc["sample"] == pytest.approx(vc["sample"] / vc.sum(), rel=1e-12)
    slope_icc = sleep_fit.icc()["icc"]
    assert list(slope_icc.index) == ["Subject"]
    intercept_var = sleep_fit.varcorr["vcov"].iloc[0]
    assert slope_icc["Subject"] == pytest.approx(intercept_var / (intercept_var + sleep_fit.sigma**2))


def test_double_bar_terms_merge_in_ranef_and_split_in_varcorr(sleep):
    fit = bm.lmer("Reaction ~ Days + (Days || Subject)", sleep)
    assert list(fit.ranef) == ["Subject"]
    assert list(fit.ranef["Subject"].columns) == ["(Intercept)", "Days"]
    assert list(fit.ranef_sd["Subject"].columns) == ["(Intercept)", "Days"]
    assert fit.varcorr["grp"].tolist() == ["Subject", "Subject.1", "Residual"]


def test_summary_text(sleep_fit, sleep):
    text = str(sleep_fit.summary())
    for piece in ("Linear mixed model fit by REML", "REML criterion at convergence: 1743.6", "Scaled residuals",
                  "Random effects:", "Subject  (Intercept) 612.10", "Number of obs: 180, groups:  Subject, 18",
                  "Fixed effects:", "Pr(>|t|)", "17.000", "Satterthwaite", "approximate",
                  "Correlation of Fixed Effects:", "(Intr)"):
        assert piece in text, piece
    assert "WARNINGS" not in text
    ml = str(bm.lmer("Reaction ~ Days + (Days | Subject)", sleep, REML=False).summary())
    assert "maximum likelihood" in ml and "deviance" in ml and "1751.9" in ml
    coefficients = sleep_fit.summary().coefficients
    assert list(coefficients.columns) == ["Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"]


def test_repr_names_the_fit(sleep_fit):
    text = repr(sleep_fit)
    assert "REML" in text and "Reaction ~ Days" in text and "Subject.Days" in text


def test_errors_for_models_the_engine_does_not_fit(sleep):
    from bayesmixed.engines.lmm import fit_lmm

    design = bm.build_design("incidence ~ period + (1 | herd)", bm.datasets.load("cbpp"), family="poisson")
    with pytest.raises(bm.BayesmixedError, match="Gaussian"):
        fit_lmm(design)
    with pytest.raises(bm.BayesmixedError, match="start"):
        bm.lmer("Reaction ~ Days + (Days | Subject)", sleep, start=np.ones(2))


def test_a_model_without_fixed_effects(sleep):
    # R: lmer(Reaction ~ 0 + (1 | Subject), sleepstudy) -> theta 6.78968726495, REMLcrit 1985.679690943
    fit = bm.lmer("Reaction ~ 0 + (1 | Subject)", sleep)
    assert fit.theta[0] == pytest.approx(6.78968726495, rel=1e-6)
    assert fit.objective == pytest.approx(1985.679690943, rel=1e-9)
    assert fit.fixef.empty and fit.coefficients.empty
    assert "No fixed effect coefficients" in str(fit.summary())

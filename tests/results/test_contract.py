"""The one fit contract (results.contract.MixedModelFit) over every fit kind: REML, ML, GLMM binomial and
Poisson, Bayes Gaussian and binomial: the same names, signatures and return types, and values that agree
where they are defined."""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.results.contract import FIT_KINDS, RESIDUAL_KINDS, LikelihoodFit, MixedModelFit
from bayesmixed.results.prediction import NewLevelError

POISSON_DATA = Path(__file__).parents[1] / "reference" / "glmm_poisson_sim.csv"
SALAMANDERS = Path(__file__).parents[1] / "reference" / "salamanders.csv"
SLEEP = "Reaction ~ Days + (Days | Subject)"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
POISSON = "y ~ x + offset(log(exposure)) + (1 | g)"
KINDS = ["reml", "ml", "glmm_binomial", "glmm_poisson", "glmm_negbin", "bayes_gaussian", "bayes_binomial"]
LIKELIHOOD_KINDS = [kind for kind in KINDS if not kind.startswith("bayes")]
# (data, formula, family, method): the fits are made once per module
SPECS = {
    "reml": ("sleepstudy", SLEEP, "gaussian", "reml"),
    "ml": ("sleepstudy", SLEEP, "gaussian", "ml"),
    "glmm_binomial": ("cbpp", CBPP, "binomial", "ml"),
    "glmm_poisson": ("poisson", POISSON, "poisson", "ml"),
    "glmm_negbin": ("salamanders", "count ~ mined + (1 | site)", "negbin", "ml"),
    "bayes_gaussian": ("sleepstudy", SLEEP, "gaussian", "bayes"),
    "bayes_binomial": ("cbpp", CBPP, "binomial", "bayes"),
}
GROUP = {"sleepstudy": "Subject", "cbpp": "herd", "poisson": "g", "salamanders": "site"}


def load(name: str) -> pd.DataFrame:
    paths = {"poisson": POISSON_DATA, "salamanders": SALAMANDERS}
    return pd.read_csv(paths[name]) if name in paths else bm.datasets.load(name)


@pytest.fixture(scope="module")
def fits() -> dict:
    made = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kind, (data, formula, family, method) in SPECS.items():
            options = dict(draws=300, tune=300, chains=2, seed=3, progressbar=False, warn=False) if method == "bayes" else {}
            made[kind] = bm.Model(formula, load(data), family=family).fit(method, **options)
    return made


def protocol_parameters(name: str) -> list[inspect.Parameter]:
    return list(inspect.signature(getattr(MixedModelFit, name)).parameters.values())[1:]


MEMBERS = [name for name in dir(MixedModelFit) if not name.startswith("_")]


@pytest.mark.parametrize("kind", KINDS)
def test_every_fit_has_the_contracts_names_and_signatures(fits, kind):
    fit = fits[kind]
    assert isinstance(fit, MixedModelFit)
    assert fit.kind in FIT_KINDS and fit.is_bayes == kind.startswith("bayes")
    for name in MEMBERS:
        declared = getattr(MixedModelFit, name)
        if isinstance(declared, property):
            assert hasattr(fit, name), name
            continue
        if not callable(declared):
            continue
        expected = protocol_parameters(name)
        actual = list(inspect.signature(getattr(type(fit), name)).parameters.values())[1:]
        # the shared parameters come first, in order, with the same kinds and defaults; a fit may add keywords
        shared = [p for p in expected if p.kind is not inspect.Parameter.VAR_KEYWORD]
        assert [(p.name, p.default, p.kind) for p in actual[:len(shared)]] == \
            [(p.name, p.default, p.kind) for p in shared], name
        assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in actual[len(shared):]), name


@pytest.mark.parametrize("kind", KINDS)
def test_return_types_and_shapes(fits, kind):
    fit = fits[kind]
    design = fit.design
    names = list(design.fixef_names)
    assert isinstance(fit.fixef, pd.Series) and list(fit.fixef.index) == names
    assert isinstance(fit.se, pd.Series) and (fit.se > 0).all()
    assert isinstance(fit.vcov, pd.DataFrame) and fit.vcov.shape == (len(names), len(names))
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), fit.se, rtol=1e-8)
    assert list(fit.varcorr.columns) == ["grp", "var1", "var2", "vcov", "sdcor"]
    group = GROUP[SPECS[kind][0]]
    assert isinstance(fit.ranef, dict) and fit.ranef[group].shape == fit.ranef_sd[group].shape
    assert isinstance(fit.sigma, float) and (fit.sigma == 1.0) == (design.family != "gaussian")
    icc = fit.icc()
    assert isinstance(icc, pd.DataFrame) and list(icc.index) == [group] and "icc" in icc.columns
    assert 0 < icc.loc[group, "icc"] < 1
    for re in (True, False):
        mu = fit.fitted(re=re)
        assert isinstance(mu, pd.Series) and mu.index.equals(design.row_index)
        np.testing.assert_allclose(fit.predict(re=re), mu, rtol=1e-10)
    for residual in RESIDUAL_KINDS:
        values = fit.residuals(kind=residual)
        assert isinstance(values, pd.Series) and len(values) == design.n and np.isfinite(values).all()
    assert isinstance(fit.messages, tuple)
    simulated = fit.simulate(2, seed=1)
    assert isinstance(simulated, np.ndarray) and simulated.shape == (2, design.n)
    np.testing.assert_array_equal(simulated, fit.simulate(2, seed=1))
    assert design.formula in str(fit.summary())


@pytest.mark.parametrize("kind", KINDS)
def test_predictions_population_level_intervals_and_new_levels(fits, kind):
    fit = fits[kind]
    data_name = SPECS[kind][0]
    data = load(data_name).head(6)
    group = GROUP[data_name]
    # re=False needs no grouping column (lme4's re.form = NA)
    population = fit.predict(data.drop(columns=[group]), re=False)
    np.testing.assert_allclose(population, fit.predict(data, re=False), rtol=1e-12)
    link = fit.predict(data, scale="link")
    assert np.allclose(link, fit.predict(data)) == (fit.design.family == "gaussian")  # identity link only
    new = data.assign(**{group: "no such level"})
    with pytest.raises(NewLevelError, match="'no such level'"):
        fit.predict(new)  # allow_new_levels defaults to False everywhere
    for interval in ("confidence", "prediction"):
        table = fit.predict(new, allow_new_levels=True, interval=interval, level=0.9, seed=4)
        assert list(table.columns) == ["fit", "lower", "upper"] and table.index.equals(new.index)
        assert (table["lower"] <= table["upper"]).all() and interval in table.attrs["interval"]
    confidence = fit.predict(data, interval="confidence", seed=4)
    assert ((confidence["lower"] <= confidence["fit"]) & (confidence["fit"] <= confidence["upper"])).all()


@pytest.mark.parametrize("kind", KINDS)
def test_confint_has_lme4s_columns(fits, kind):
    table = fits[kind].confint(parm="beta_", method=None if fits[kind].is_bayes else "wald")
    assert list(table.columns) == ["2.5 %", "97.5 %"] and len(table) == fits[kind].design.p
    fixef = fits[kind].fixef.to_numpy()
    assert ((table.iloc[:, 0].to_numpy() < fixef) & (fixef < table.iloc[:, 1].to_numpy())).all()


@pytest.mark.parametrize(("frequentist", "bayes"), [("reml", "bayes_gaussian"), ("glmm_binomial", "bayes_binomial")])
def test_bayes_agrees_with_the_likelihood_fit(fits, frequentist, bayes):
    ml, posterior = fits[frequentist], fits[bayes]
    assert (np.abs(ml.fixef - posterior.fixef) < 1.5 * posterior.se).all()
    assert posterior.se.to_numpy() == pytest.approx(ml.se.to_numpy(), rel=0.35)
    # one ICC definition: the latent-scale ICC of the binomial fits agree as well as their variances do
    assert posterior.icc().loc[:, "icc"].iloc[0] == pytest.approx(ml.icc().loc[:, "icc"].iloc[0], abs=0.1)


def test_latent_scale_icc_follows_nakagawa(fits):
    binomial = fits["glmm_binomial"]
    variance = binomial.varcorr["vcov"].iloc[0]
    assert binomial.icc().loc["herd", "icc"] == pytest.approx(variance / (variance + np.pi**2 / 3), rel=1e-12)
    poisson = fits["glmm_poisson"]
    variance = poisson.varcorr["vcov"].iloc[0]
    # σ²_d as in R² (performance::icc and r2_nakagawa share it): λ of the intercept-only ML refit
    lam = poisson.null_model_mean
    assert poisson.icc().loc["g", "icc"] == pytest.approx(variance / (variance + np.log1p(1 / lam)), rel=1e-12)
    assert poisson.r2().estimate[4] == pytest.approx(np.log1p(1 / lam), rel=1e-12)


@pytest.mark.parametrize("kind", LIKELIHOOD_KINDS)
def test_likelihood_fits_have_the_deviance_function_stage(fits, kind):
    """devfun / refit / null_model_mean: refitting the observed response lands on the same optimum."""
    fit = fits[kind]
    assert isinstance(fit, LikelihoodFit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = fit.refit(fit.design.y)
    assert type(again) is type(fit) and again.objective == pytest.approx(fit.objective, abs=1e-4)
    np.testing.assert_allclose(again.fixef, fit.fixef, rtol=1e-3, atol=1e-4)
    assert callable(fit.devfun()) or hasattr(fit.devfun(), "stage2")
    assert np.isfinite(fit.null_model_mean) and fit.null_model_mean > 0

"""Bayesian fits with short sampling where the numbers matter: sleepstudy against REML, marginal vs full,
recovery per family, the result surface, reproducibility and loud diagnostics."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.design import build_design
from bayesmixed.engines.bayes import fit_bayes
from bayesmixed.engines.bayes.diagnostics import SamplingWarning
from bayesmixed.results.prediction import NewLevelError

# lme4 1.1-31 REML fit of Reaction ~ Days + (Days | Subject) (tests/reference/lme4_reference.json, sleep_corr_reml)
REML_FIXEF = {"(Intercept)": 251.405104848485, "Days": 10.467285959596}
REML_SD = {"sd(Subject:(Intercept))": 24.7406579949841, "sd(Subject:Days)": 5.92213765889808,
           "sigma": 25.5917957216753, "cor(Subject:(Intercept),Days)": 0.0655512382381282}


@pytest.fixture(scope="module")
def sleep_design():
    return build_design("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))


@pytest.fixture(scope="module")
def sleep_fit(sleep_design):
    return fit_bayes(sleep_design, seed=20, progressbar=False)


def test_sleepstudy_agrees_with_reml(sleep_fit):
    table = sleep_fit.parameters
    for name, value in REML_FIXEF.items():
        assert abs(table.loc[name, "median"] - value) < table.loc[name, "sd"]
    for name, value in REML_SD.items():
        if name.startswith("cor"):  # a correlation near 0: 25% of REML's value is below the Monte Carlo error
            assert abs(table.loc[name, "median"] - value) < 0.25 * table.loc[name, "sd"]
        else:
            assert table.loc[name, "median"] == pytest.approx(value, rel=0.25)
    assert sleep_fit.diagnosis.ok and table["ess_bulk"].min() > 1000


def test_result_surface(sleep_fit, sleep_design):
    assert list(sleep_fit.fixef.index) == ["(Intercept)", "Days"]
    assert (sleep_fit.se > 0).all()
    ranef = sleep_fit.ranef["Subject"]
    assert ranef.shape == (18, 2) and list(ranef.columns) == ["(Intercept)", "Days"]
    assert sleep_fit.ranef_sd["Subject"].shape == (18, 2)
    vc = sleep_fit.varcorr
    assert list(vc.columns) == ["grp", "var1", "var2", "vcov", "sdcor"] and len(vc) == 4
    assert vc["sdcor"].iloc[0] == pytest.approx(sleep_fit.parameters.loc["sd(Subject:(Intercept))", "median"])
    assert sleep_fit.sigma == pytest.approx(sleep_fit.parameters.loc["sigma", "median"])
    assert 0 < sleep_fit.icc().loc["Subject", "icc"] < 1
    fitted = sleep_fit.fitted()
    assert fitted.shape == (180,) and fitted.index.equals(sleep_design.row_index)
    np.testing.assert_allclose(sleep_fit.residuals(), sleep_design.y - fitted)
    np.testing.assert_allclose(sleep_fit.residuals("pearson"), (sleep_design.y - fitted) / sleep_fit.sigma)
    population = sleep_design.X @ sleep_fit.beta_draws.mean(axis=0) + sleep_design.offset  # re=False: γ = 0
    np.testing.assert_allclose(sleep_fit.fitted(re=False), population, rtol=1e-10)
    np.testing.assert_allclose(sleep_fit.residuals(re=False), sleep_design.y - population, rtol=1e-10)
    np.testing.assert_allclose(sleep_fit.residuals("deviance"), sleep_fit.residuals("response"))
    with pytest.raises(bm.BayesmixedError, match="unknown residual kind 'working'"):
        sleep_fit.residuals("working")
    text = sleep_fit.summary()
    assert "R-hat" in text and "cor(Subject:(Intercept),Days)" in text and "all checks passed" in text


def test_predict_new_levels_reproducible(sleep_fit):
    new = pd.DataFrame({"Days": [0.0, 5.0, 5.0], "Subject": ["308", "308", "new"]})
    first = sleep_fit.predict_draws(new, allow_new_levels=True, seed=3)
    again = sleep_fit.predict_draws(new, allow_new_levels=True, seed=3)
    np.testing.assert_array_equal(first, again)
    sd = first.std(axis=0)
    assert sd[2] > 2 * sd[1]  # a new subject carries the population spread
    with pytest.raises(bm.DataError, match="not seen in the fit") as raised:
        sleep_fit.predict(new)  # allow_new_levels defaults to False, as on every fit
    assert isinstance(raised.value, NewLevelError)  # the frequentist fits' exception
    np.testing.assert_allclose(sleep_fit.predict(), sleep_fit.fitted())
    np.testing.assert_allclose(sleep_fit.predict(re=False), sleep_fit.fitted(re=False))


def test_inference_data(sleep_fit):
    idata = sleep_fit.idata
    assert {"posterior", "sample_stats", "log_likelihood", "observed_data"} <= set(idata.groups())
    assert idata.log_likelihood["Reaction"].shape == (4, 1000, 18)  # per subject, γ integrated out
    assert "posterior_predictive" in sleep_fit.with_predictive().groups()
    observation = sleep_fit.log_likelihood("observation")
    assert observation.shape == (4000, 180) and np.all(np.isfinite(observation))
    import arviz as az

    with warnings.catch_warnings():  # 18 subjects: Pareto k > 0.7 for some is expected when leaving a whole one out
        warnings.simplefilter("ignore")
        loo = az.loo(idata)  # leave-one-subject-out from the per-group marginal likelihoods
    assert np.isfinite(loo.elpd_loo) and loo.n_data_points == 18


def test_marginal_and_full_routes_agree(sleep_design, sleep_fit):
    full = fit_bayes(sleep_design, seed=21, marginalize=False, progressbar=False, warn=False)
    assert full.route == "full" and sleep_fit.route == "marginal"
    for name in sleep_fit.parameters.index:
        a, b = sleep_fit.draws[name].ravel(), full.draws[name].ravel()
        mc_error = np.hypot(a.std() / np.sqrt(sleep_fit.parameters.loc[name, "ess_bulk"]),
                            b.std() / np.sqrt(full.parameters.loc[name, "ess_bulk"]))
        assert abs(a.mean() - b.mean()) < 4 * mc_error, name
    ranef_gap = (sleep_fit.ranef["Subject"] - full.ranef["Subject"]).abs() / full.ranef_sd["Subject"]
    assert ranef_gap.to_numpy().max() < 0.2


def test_centred_effects_give_the_same_posterior(sleep_design, sleep_fit):
    centred = fit_bayes(sleep_design, seed=22, centred=True, progressbar=False, warn=False)
    assert "sampled centred (γ ~ N(0, Σ)) for Subject" in centred.summary()
    for name in sleep_fit.parameters.index:
        a, b = sleep_fit.parameters.loc[name], centred.parameters.loc[name]
        assert abs(a["median"] - b["median"]) < 0.2 * a["sd"], name
    gap = (sleep_fit.ranef["Subject"] - centred.ranef["Subject"]).abs() / centred.ranef_sd["Subject"]
    assert gap.to_numpy().max() < 0.2


def test_same_seed_same_draws(sleep_design):
    a = fit_bayes(sleep_design, seed=5, draws=100, tune=100, progressbar=False, warn=False)
    b = fit_bayes(sleep_design, seed=5, draws=100, tune=100, progressbar=False, warn=False)
    np.testing.assert_array_equal(a.unconstrained, b.unconstrained)
    for gamma_a, gamma_b in zip(a.ranef_samples, b.ranef_samples):
        np.testing.assert_array_equal(gamma_a, gamma_b)
    np.testing.assert_array_equal(a.predictive_draws(), b.predictive_draws())


def test_every_random_use_has_its_own_stream(sleep_design, monkeypatch):
    """Chains, starting points, γ draws, new-level predictions and predictive draws each take their own
    stream of the seed (they overlapped: γ drew from chain 1's stream, predictions from chains 2 and 3's).
    A run sampled again at a higher target_accept after divergences restarts its chains' streams: the
    discarded run's draws are not kept, so the streams are still used once in what the fit holds."""
    from bayesmixed.engines.bayes import seeds

    used = []
    original = seeds.stream

    def recording(seed, purpose, index=0):
        used.append((purpose, index))
        return original(seed, purpose, index)

    monkeypatch.setattr(seeds, "stream", recording)
    fit = fit_bayes(sleep_design, seed=5, draws=20, tune=20, chains=3, progressbar=False, warn=False)
    fit.ranef_samples
    fit.predict(pd.DataFrame({"Days": [1.0], "Subject": ["new"]}), allow_new_levels=True)
    fit.predictive_draws()
    fit_bayes(sleep_design, seed=5, draws=20, chains=1, prior_only=True)
    assert sorted(set(used)) == sorted([(seeds.CHAIN, c) for c in range(3)] + [(seeds.START, 0), (seeds.RANEF, 0),
                                  (seeds.PREDICT, 0), (seeds.PREDICTIVE, 0), (seeds.PRIOR, 0)])
    states = {tuple(original(5, purpose, index).generate_state(4)) for purpose, index in used}
    assert len(states) == len(set(used))  # distinct first states: no two uses share a stream


def test_short_run_warns_loudly(sleep_design):
    with pytest.warns(SamplingWarning, match="effective sample size"):
        fit = fit_bayes(sleep_design, seed=5, draws=30, tune=30, chains=2, progressbar=False)
    assert not fit.diagnose().ok and "WARNING" in fit.summary()


def test_prior_predictive(sleep_design):
    prior = fit_bayes(sleep_design, prior_only=True, draws=200, seed=1)
    assert prior.is_prior and set(prior.idata.groups()) >= {"prior", "prior_predictive", "observed_data"}
    sd = prior.parameters.loc["sd(Subject:Days)", "median"]
    scale = prior.priors["sd(Subject:Days)"].param("sigma")
    assert 0.4 * scale < sd < 0.95 * scale  # half-normal median is 0.674 σ


def recovery_data(family: str, seed: int = 3) -> tuple[pd.DataFrame, dict[str, float]]:
    rng = np.random.default_rng(seed)
    groups, per_group = 40, 25
    g = np.repeat(np.arange(groups), per_group)
    x = rng.normal(size=g.size)
    sd0, sd1, rho = 0.6, 0.3, 0.4
    cov = np.array([[sd0**2, rho * sd0 * sd1], [rho * sd0 * sd1, sd1**2]])
    b = rng.standard_normal((groups, 2)) @ np.linalg.cholesky(cov).T
    eta = 0.5 + 0.8 * x + b[g, 0] + b[g, 1] * x
    frame = pd.DataFrame({"x": x, "g": [f"g{i}" for i in g]})
    truth = {"(Intercept)": 0.5, "x": 0.8, "sd(g:(Intercept))": sd0, "sd(g:x)": sd1}
    if family == "gaussian":
        frame["y"] = eta + 0.7 * rng.normal(size=g.size)
        truth["sigma"] = 0.7
    elif family == "binomial":
        frame["y"] = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    else:
        frame["y"] = rng.poisson(np.exp(eta))
    return frame, truth


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
def test_parameter_recovery(family):
    frame, truth = recovery_data(family)
    design = build_design("y ~ x + (x | g)", frame, family=family)
    fit = fit_bayes(design, seed=11, draws=500, tune=500, progressbar=False, warn=False)
    table = fit.parameters
    for name, value in truth.items():
        low, high = table.loc[name, "median"] - 3 * table.loc[name, "sd"], table.loc[name, "median"] + 3 * table.loc[name, "sd"]
        assert low < value < high, (name, value, low, high)
    assert table["r_hat"].max() < 1.05  # 500 draws per chain: convergence is checked loosely here, recovery is the point
    mu = fit.fitted().to_numpy()
    sd = {"gaussian": lambda: fit.sigma, "binomial": lambda: np.sqrt(mu * (1 - mu)),  # one trial each
          "poisson": lambda: np.sqrt(mu)}[family]()
    np.testing.assert_allclose(fit.residuals("pearson"), (frame["y"] - mu) / sd)


def test_model_fit_bayes_entry_point():
    model = bm.Model("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
    assert "cor(Subject)" in str(model.priors)
    fit = model.fit("bayes", draws=200, tune=200, seed=1, progressbar=False, warn=False,
                    priors={"Days": bm.prior.Normal(0, 5)})
    assert fit.priors["Days"].param("sigma") == 5


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["pymc", "nutpie", "numpyro"])
def test_pymc_backends_agree(sleep_design, sleep_fit, sampler):
    pytest.importorskip({"pymc": "pymc", "nutpie": "nutpie", "numpyro": "numpyro"}[sampler])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_bayes(sleep_design, sampler=sampler, seed=2, draws=500, tune=500, progressbar=False, warn=False)
    for name in sleep_fit.parameters.index:
        a, b = sleep_fit.parameters.loc[name], fit.parameters.loc[name]
        assert abs(a["median"] - b["median"]) < 0.25 * a["sd"], (name, a["median"], b["median"])
    assert fit.ranef["Subject"].shape == (18, 2)


@pytest.mark.slow
def test_pymc_model_structure(sleep_fit):
    model = sleep_fit.pymc_model
    names = {v.name for v in model.free_RVs}
    assert {"beta", "u_Subject", "chol_Subject", "sigma"} <= names
    point = model.initial_point()
    assert np.isfinite(model.compile_logp()(point))
    assert all(np.all(np.isfinite(g)) for g in model.compile_dlogp()(point))

"""Every plot in bayesmixed.plots, made on a real fit; the PNGs go to tests/_artifacts/plots/ to be looked at."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

import bayesmixed as bm  # noqa: E402
from bayesmixed import plots  # noqa: E402
from bayesmixed.errors import BayesmixedError  # noqa: E402

ARTIFACTS = Path(__file__).parents[1] / "_artifacts" / "plots"
SLEEP = "Reaction ~ Days + (Days | Subject)"
HOUSEHOLDS = "income ~ 1 + (1 | postcode)"


@lru_cache(maxsize=None)
def sleep_fit():
    return bm.lmer(SLEEP, bm.datasets.load("sleepstudy"))


@lru_cache(maxsize=None)
def sleep_bayes():
    model = bm.Model(SLEEP, bm.datasets.load("sleepstudy"))
    return model.fit("bayes", draws=200, tune=200, chains=2, seed=3, progressbar=False, warn=False)


@lru_cache(maxsize=None)
def households_fit():
    return bm.lmer(HOUSEHOLDS, bm.datasets.load("households"))


def save(figure, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    figure.savefig(ARTIFACTS / f"{name}.png", dpi=80)
    plt.close(figure)


def scatter_points(axes) -> int:
    return sum(len(collection.get_offsets()) for collection in axes.collections
               if not isinstance(collection, PolyCollection) and len(collection.get_offsets()))


def has_envelope(axes) -> bool:
    return any(isinstance(c, PolyCollection) and c.get_label() == "95% envelope" for c in axes.collections)


@pytest.mark.parametrize("re, scope", [(True, "conditional"), (False, "marginal")])
def test_residuals_vs_fitted(re, scope):
    figure = plots.residuals_vs_fitted(sleep_fit(), re=re)
    (axes,) = figure.axes
    assert axes.get_xlabel() == "fitted Reaction"
    assert axes.get_ylabel() == f"{scope} Pearson residual"
    assert SLEEP in axes.get_title()
    assert scatter_points(axes) == 180
    save(figure, f"residuals_vs_fitted_{scope}")


def test_residuals_vs_predictor_and_unknown_predictor():
    figure = plots.residuals_vs_predictor(sleep_fit(), "Days", kind="response")
    (axes,) = figure.axes
    assert axes.get_xlabel() == "Days" and axes.get_ylabel() == "conditional residual"
    offsets = axes.collections[0].get_offsets()
    np.testing.assert_allclose(np.asarray(offsets)[:, 1], sleep_fit().residuals().to_numpy())
    save(figure, "residuals_vs_days")
    with pytest.raises(BayesmixedError, match="unknown predictor 'Dayz'"):
        plots.residuals_vs_predictor(sleep_fit(), "Dayz")


def test_qq_residuals_has_an_envelope():
    figure = plots.qq_residuals(sleep_fit())
    (axes,) = figure.axes
    assert has_envelope(axes)
    assert scatter_points(axes) == 180
    assert "Normal QQ" in axes.get_title() and SLEEP in axes.get_title()
    save(figure, "qq_residuals")


def test_qq_ranef_has_one_panel_with_envelope_per_random_effect_column():
    figure = plots.qq_ranef(sleep_fit())
    assert len(figure.axes) == 2  # (Intercept) and Days
    assert [axes.get_title() for axes in figure.axes] == ["Subject: (Intercept) (18 levels)", "Subject: Days (18 levels)"]
    assert all(has_envelope(axes) and scatter_points(axes) == 18 for axes in figure.axes)
    save(figure, "qq_ranef")


def test_caterpillar_sorts_levels_with_intervals():
    figure = plots.caterpillar(sleep_fit())
    assert len(figure.axes) == 2
    intercepts = sleep_fit().ranef["Subject"]["(Intercept)"]
    labels = [tick.get_text() for tick in figure.axes[0].get_yticklabels()]
    assert labels == list(intercepts.sort_values().index)
    assert figure.axes[0].get_xlabel() == "(Intercept) (95% interval)"
    save(figure, "caterpillar")


def test_shrinkage_pulls_small_groups_towards_the_grand_mean():
    households = bm.datasets.load("households")
    truth = households.groupby("postcode")["true_mean"].first()
    fit = households_fit()
    figure = plots.shrinkage(fit, truth=truth)
    (axes,) = figure.axes
    raw, pooled, true_points = (np.asarray(c.get_offsets()) for c in axes.collections[:3])
    assert len(raw) == len(pooled) == len(true_points) == 60  # one point per postcode
    grand = float(fit.fixef["(Intercept)"])
    assert np.all(np.abs(pooled[:, 1] - grand) <= np.abs(raw[:, 1] - grand) + 1e-9)
    smallest = raw[:, 0] <= 3
    # partial pooling beats the raw means where groups are small
    true_by_size = true_points[smallest, 1]
    assert np.mean(np.abs(pooled[smallest, 1] - true_by_size)) < np.mean(np.abs(raw[smallest, 1] - true_by_size))
    assert "postcode" in axes.get_xlabel() and "income" in axes.get_ylabel()
    save(figure, "shrinkage_households")


def test_diagnostic_plots_work_on_a_bayesian_fit():
    fit = sleep_bayes()
    figure = plots.residuals_vs_fitted(fit)
    assert scatter_points(figure.axes[0]) == 180
    residuals = np.asarray(figure.axes[0].collections[0].get_offsets())[:, 1]
    assert abs(residuals.std() - 1) < 0.2  # Pearson residuals divide by σ
    save(figure, "bayes_residuals_vs_fitted")
    figure = plots.qq_ranef(fit)
    assert len(figure.axes) == 2 and all(has_envelope(axes) for axes in figure.axes)
    save(figure, "bayes_qq_ranef")
    figure = plots.caterpillar(fit)
    assert len(figure.axes) == 2
    save(figure, "bayes_caterpillar")


def test_trace_and_rank_plots_of_the_population_parameters():
    fit = sleep_bayes()
    figure = plots.trace(fit)
    assert SLEEP in figure._suptitle.get_text()
    titles = {axes.get_title() for axes in figure.axes}
    assert {"beta\n(Intercept)", "beta\nDays", "sigma"} <= titles
    save(figure, "bayes_trace")
    figure = plots.rank(fit)
    assert len(figure.axes) >= 3
    save(figure, "bayes_rank")


def test_posterior_predictive_check():
    figure = plots.posterior_predictive(sleep_bayes(), num_pp_samples=50)
    (axes,) = figure.axes
    assert "Reaction" in axes.get_xlabel()
    assert len(axes.get_lines()) >= 50  # the replicated densities, the observed one and their mean
    save(figure, "bayes_posterior_predictive")


def test_plots_of_a_frequentist_fit_refuse_bayesian_only_plots():
    with pytest.raises(BayesmixedError, match="Bayesian fit"):
        plots.trace(sleep_fit())
    with pytest.raises(BayesmixedError, match="random-intercept"):
        plots.shrinkage(bm.lmer("Reaction ~ Days + (0 + Days | Subject)", bm.datasets.load("sleepstudy")))

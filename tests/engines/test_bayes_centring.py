"""The full route's automatic parameterisation: centred where the frequentist fit says the data pin each level's
effect down (conditional sd well below the term's sd), non-centred where the prior dominates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayesmixed.design import build_design
from bayesmixed.engines.bayes.fit import CENTRE_BELOW, automatic_centring, choose_route, resolve_centred
from bayesmixed.engines.bayes.layout import FULL


def counts(per_level: int, sd_site: float, sd_year: float, seed: int = 0) -> pd.DataFrame:
    """Poisson counts, 12 sites crossed with 4 years, per_level rows per cell."""
    rng = np.random.default_rng(seed)
    site, year = np.meshgrid(np.arange(12), np.arange(4), indexing="ij")
    site, year = np.repeat(site.ravel(), per_level), np.repeat(year.ravel(), per_level)
    eta = 1.0 + sd_site * rng.standard_normal(12)[site] + sd_year * rng.standard_normal(4)[year]
    return pd.DataFrame({"y": rng.poisson(np.exp(eta)), "site": [f"s{i}" for i in site], "year": [f"y{i}" for i in year]})


def test_data_dominated_effects_are_centred():
    # ~2.7 expected counts x 8 rows a cell: info·sd² ≈ 0.5² · 4 · 8 · 2.7 ≈ 22 per site, far above 1/CENTRE_BELOW² − 1
    design = build_design("y ~ 1 + (1 | site) + (1 | year)", counts(8, 0.5, 0.5), family="poisson")
    assert automatic_centring(design) == frozenset({"site", "year"})


def test_prior_dominated_effects_stay_non_centred():
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(40), 2)  # two binary rows per level: a level's data say little about its effect
    y = rng.binomial(1, 1 / (1 + np.exp(-(0.3 * rng.standard_normal(40))[g])))
    design = build_design("y ~ 1 + (1 | g)", pd.DataFrame({"y": y, "g": [f"g{i}" for i in g]}), family="binomial")
    assert automatic_centring(design) == frozenset()



def test_a_singular_term_stays_non_centred():
    """A correlation at +1 (Laplace fit): the slope's conditional sds only mirror the intercept's, so the ratio
    test would pass, but the slope's sd has posterior mass at 0, where centred effects make a funnel (this data
    set, centred: R-hat 1.12, bulk ESS 38 for sd(g:x); non-centred: clean)."""
    from bayesmixed.engines.checks import singular_components
    from bayesmixed.engines.glmm.fit import fit_glmm

    rng = np.random.default_rng(200)
    g = np.repeat(np.arange(30), 6)
    x = rng.uniform(-1, 1, g.size)
    u = rng.standard_normal((30, 2)) @ np.linalg.cholesky(np.array([[0.25, 0.05], [0.05, 0.09]])).T
    y = rng.poisson(np.exp(0.8 + 0.3 * x + u[g, 0] + u[g, 1] * x))
    design = build_design("y ~ x + (x | g)", pd.DataFrame({"y": y, "x": x, "g": [f"g{i}" for i in g]}),
                          family="poisson")
    laplace = fit_glmm(design, check_derivatives=False)
    assert singular_components(laplace.theta, design.theta_lower).tolist() == [2]  # Λ's slope diagonal
    assert np.all(np.diag(laplace.covariance_blocks[0]) > 1e-3)  # no variance at zero: the old test passed it
    assert automatic_centring(design) == frozenset()

def test_explicit_choice_wins():
    design = build_design("y ~ 1 + (1 | site) + (1 | year)", counts(8, 0.5, 0.5), family="poisson")
    assert resolve_centred(design, False, "numba") == frozenset()
    assert resolve_centred(design, ["site"], "numba") == frozenset({"site"})
    assert choose_route(design, None, "numba") == FULL
    assert 0 < CENTRE_BELOW < 1


def crossed_with_covariates(seed: int = 2) -> pd.DataFrame:
    """Binary responses, 60 subjects x 8 items crossed: a subject-level score (mean 20) and group, an item-level
    two-level type, and a row-level x."""
    rng = np.random.default_rng(seed)
    subject, item = np.meshgrid(np.arange(60), np.arange(8), indexing="ij")
    subject, item = subject.ravel(), item.ravel()
    score, group, kind = rng.normal(20, 4, 60), rng.integers(0, 2, 60), np.arange(8) % 2
    x = rng.standard_normal(subject.size)
    eta = (-2 + 0.1 * score[subject] + 0.4 * group[subject] - 0.8 * kind[item] + 0.3 * x
           + 1.2 * rng.standard_normal(60)[subject] + 0.5 * rng.standard_normal(8)[item])
    return pd.DataFrame({"y": rng.binomial(1, 1 / (1 + np.exp(-eta))), "score": score[subject],
                         "group": np.where(group[subject] == 1, "b", "a"), "kind": np.where(kind[item] == 1, "k1", "k0"),
                         "x": x, "subject": [f"s{i}" for i in subject], "item": [f"i{i}" for i in item]})


FORMULA = "y ~ score + group + kind + x + (1 | subject) + (1 | item)"


def test_level_constant_fixed_effects_move_into_the_centred_means():
    """Each column constant within a centred term's levels goes to one term (the intercept to the one with the
    fewest levels); x varies within both and stays in η."""
    from bayesmixed.engines.bayes.layout import make_layout

    design = build_design(FORMULA, crossed_with_covariates(), family="binomial")
    layout = make_layout(design, FULL, frozenset({"subject", "item"}))
    names = list(design.fixef_names)
    absorbed = {t.group: {names[c] for c in t.absorbed} for t in layout.terms}
    assert absorbed == {"subject": {"score", "groupb"}, "item": {"(Intercept)", "kindk1"}}
    assert make_layout(design, FULL, frozenset({"subject"})).terms[0].absorbed  # alone, subject takes the intercept
    assert "(Intercept)" in {names[c] for c in make_layout(design, FULL, frozenset({"subject"})).terms[0].absorbed}


def test_hierarchical_centring_is_the_same_model():
    """log p(β, α) with the absorbed means equals log p(β, γ) without them at α = γ + Mβ (a shift, Jacobian 1), and
    the gradient matches central differences; the γ reported are α − Mβ."""
    import dataclasses

    from bayesmixed.engines.bayes import default_priors
    from bayesmixed.engines.bayes.kernels import log_density
    from bayesmixed.engines.bayes.layout import absorbed_means, make_layout, pack_model
    from bayesmixed.engines.bayes.posterior import ranef_draws

    design = build_design(FORMULA, crossed_with_covariates(), family="binomial")
    priors = default_priors(design)
    layout = make_layout(design, FULL, frozenset({"subject", "item"}))
    plain = dataclasses.replace(layout, terms=tuple(dataclasses.replace(t, absorbed=()) for t in layout.terms))
    x = np.random.default_rng(0).normal(scale=0.3, size=layout.size)
    shifted = x.copy()
    for t, mean in zip(layout.terms, absorbed_means(design, layout, x[None, :design.p])):
        shifted[t.u_index + np.arange(t.n_levels)] += mean[0]
    grad = np.zeros(layout.size)
    lp = log_density(shifted, grad, pack_model(design, layout, priors))
    assert lp == log_density(x, np.zeros(layout.size), pack_model(design, plain, priors))
    model = pack_model(design, layout, priors)
    for i in list(range(design.p)) + [layout.terms[0].sd_index, layout.terms[1].u_index, layout.terms[0].u_index + 3]:
        e = np.zeros(layout.size)
        e[i] = 1e-6
        numeric = (log_density(shifted + e, np.zeros(layout.size), model) - log_density(shifted - e, np.zeros(layout.size), model)) / 2e-6
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-4)
    gammas = ranef_draws(layout, design, model, shifted[None, None, :], seed=0)
    expected = ranef_draws(plain, design, None, x[None, None, :], seed=0)
    for ours, theirs in zip(gammas, expected):
        np.testing.assert_allclose(ours, theirs, atol=1e-12)

"""The full route's automatic parameterisation: centred where the frequentist fit says the data pin each level's
effect down (conditional sd well below the term's sd), non-centred where the prior dominates."""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def test_explicit_choice_wins():
    design = build_design("y ~ 1 + (1 | site) + (1 | year)", counts(8, 0.5, 0.5), family="poisson")
    assert resolve_centred(design, False, "numba") == frozenset()
    assert resolve_centred(design, ["site"], "numba") == frozenset({"site"})
    assert choose_route(design, None, "numba") == FULL
    assert 0 < CENTRE_BELOW < 1

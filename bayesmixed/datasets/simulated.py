"""Simulated data sets: the lecture's household income by postcode, and the sim_slopes benchmark."""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_households(
    seed: int = 2024,
    n_postcodes: int = 60,
    grand_mean: float = 32.0,
    postcode_sd: float = 6.0,
    household_sd: float = 12.0,
) -> pd.DataFrame:
    """Household income (thousands) by postcode: income = μ + α_postcode + ε, α ~ N(0, τ²), ε ~ N(0, σ²).

    Sampling is very uneven, as in the lecture's example: a handful of postcodes have one or two
    households, most a few dozen, a few several hundred. The true postcode means μ + α are kept in
    column `true_mean`, so shrinkage of the estimates can be shown against the truth.
    """
    rng = np.random.default_rng(seed)
    sizes = np.clip(np.round(rng.lognormal(mean=2.8, sigma=1.3, size=n_postcodes)), 1, 400).astype(int)
    # Fix the extremes so every seed shows both ends of the lecture's point.
    sizes[:4] = [1, 1, 2, 2]
    sizes[4:6] = [250, 400]
    rng.shuffle(sizes)
    true_means = grand_mean + rng.normal(0.0, postcode_sd, size=n_postcodes)
    labels = np.array([f"PC{i + 1:02d}" for i in range(n_postcodes)])
    postcode = np.repeat(np.arange(n_postcodes), sizes)
    income = true_means[postcode] + rng.normal(0.0, household_sd, size=postcode.size)
    return pd.DataFrame(
        {
            "household": np.arange(1, postcode.size + 1),
            "postcode": pd.Categorical.from_codes(postcode, categories=list(labels)),
            "income": np.round(income, 3),
            "true_mean": true_means[postcode],
        }
    )


def simulate_slopes(seed: int = 7, n_groups: int = 1000, per_group: int = 20) -> pd.DataFrame:
    """The sim_slopes benchmark: y = 250 + 10x + b0 + b1·x + ε, (b0, b1) ~ N(0, Σ), sd 25 and 6, ρ = 0.3, σ = 25.

    With the defaults this reproduces the shared sim_slopes.csv exactly (x, then b, then ε drawn).
    """
    rng = np.random.default_rng(seed)
    n = n_groups * per_group
    x = rng.uniform(0, 9, size=n)
    sd = np.array([25.0, 6.0])
    covariance = np.outer(sd, sd) * np.array([[1.0, 0.3], [0.3, 1.0]])
    b = rng.standard_normal((n_groups, 2)) @ np.linalg.cholesky(covariance).T
    noise = rng.normal(0.0, 25.0, size=n)
    group = np.repeat(np.arange(n_groups), per_group)
    y = 250.0 + 10.0 * x + b[group, 0] + b[group, 1] * x + noise
    labels = [f"g{i}" for i in range(n_groups)]
    # R's factor() sorts labels as strings: g0, g1, g10, g100, ...
    categories = sorted(labels)
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(np.array(labels)[group], categories=categories)})

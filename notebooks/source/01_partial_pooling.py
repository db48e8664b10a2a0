"""Notebook 01: grouped data, shrinkage and partial pooling (built by scripts/build_notebooks.py)."""

# %% [markdown]
# # 1. Grouped data, shrinkage and partial pooling
#
# Data often come in groups rather than as independent draws: pupils within classes, measurements on the
# same person over time, households within postcodes. Observations in the same group are correlated, so
# the independence assumption of an ordinary linear model is wrong. Random effects are the way to handle
# it.
#
# The lecture's example: **estimate the mean household income of every postcode**. Some postcodes have
# hundreds of households in the survey, some only one or two. This notebook compares three answers:
#
# 1. *complete pooling*: ignore the postcodes, one grand mean for everybody;
# 2. *no pooling*: each postcode's own sample mean (the lecture's Approach 1);
# 3. *partial pooling*: postcode as a random effect (Approach 2), which pulls each postcode's estimate
#    towards the grand mean, the more so the less data it has.
#
# The data are simulated, so the **true** postcode means are known and we can see which answer is best.

# %%
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import bayesmixed as bm
from bayesmixed import plots

households = bm.datasets.load("households")
households.head()

# %% [markdown]
# ## The data: very uneven sampling
#
# `income` is in thousands; `true_mean` is the postcode's true mean, which a real survey would not have.

# %%
sizes = households.groupby("postcode", observed=True).size()
print(f"{len(households)} households in {sizes.size} postcodes")
print(sizes.describe().round(1).to_string())

figure, axes = plt.subplots(figsize=(6, 3), layout="constrained")
axes.hist(sizes, bins=np.logspace(0, np.log10(sizes.max()), 20))
axes.set_xscale("log")
axes.set_xlabel("households in the postcode (log scale)")
axes.set_ylabel("postcodes")
axes.set_title("Group sizes");

# %% [markdown]
# ## The model
#
# The one-way random-effects model: income $y_{ij}$ of household $j$ in postcode $i$ is
#
# $$y_{ij} = \mu + \alpha_i + \varepsilon_{ij},\qquad \alpha_i \sim N(0, \sigma_\alpha^2),\quad \varepsilon_{ij} \sim N(0, \sigma^2).$$
#
# In lme4's formula language that is `income ~ 1 + (1 | postcode)`. We fit it by REML (the next notebooks
# explain why REML rather than ML).

# %%
fit = bm.lmer("income ~ 1 + (1 | postcode)", households)
print(fit.summary())

# %% [markdown]
# ## Three estimates of each postcode's mean
#
# The random effects are not parameters; what we report is their conditional expectation given the data
# (the lecture's $E(\gamma \mid y) = DZ'V^{-1}(y - X\beta)$, `fit.ranef`). For this model it has a closed
# form: each postcode's deviation from the grand mean is its raw deviation, multiplied by a **shrinkage
# factor**
#
# $$\hat\alpha_i = \lambda_i\,(\bar y_i - \hat\mu),\qquad \lambda_i = \frac{\sigma_\alpha^2}{\sigma_\alpha^2 + \sigma^2 / n_i}.$$
#
# A postcode with many households ($\sigma^2/n_i$ small) keeps nearly its own mean ($\lambda_i \approx 1$);
# one with a single household is pulled most of the way to $\hat\mu$.

# %%
grand_mean = fit.fixef["(Intercept)"]
estimates = pd.DataFrame({
    "n": sizes,
    "no_pooling": households.groupby("postcode", observed=True)["income"].mean(),
    "partial_pooling": grand_mean + fit.ranef["postcode"]["(Intercept)"],
    "truth": households.groupby("postcode", observed=True)["true_mean"].first(),
})
estimates["complete_pooling"] = grand_mean

variance_between = fit.varcorr["vcov"].iloc[0]
variance_within = fit.sigma ** 2
estimates["lambda"] = variance_between / (variance_between + variance_within / estimates["n"])
by_formula = grand_mean + estimates["lambda"] * (estimates["no_pooling"] - grand_mean)
formula_error = float(np.max(np.abs(by_formula - estimates["partial_pooling"])))
print(f"sigma_alpha^2 = {variance_between:.2f}, sigma^2 = {variance_within:.2f}, grand mean = {grand_mean:.2f}")
print(f"largest difference between fit.ranef and the shrinkage formula: {formula_error:.1e}")
estimates.sort_values("n").round(2).head(8)

# %% [markdown]
# ## Shrinkage, seen
#
# Each arrow goes from a postcode's raw mean to its partial-pooling estimate; the crosses are the truth.
# The small postcodes on the left move most, and mostly towards their true means.

# %%
plots.shrinkage(fit, truth=estimates["truth"]);

# %% [markdown]
# The amount of shrinkage, $1 - \lambda_i$, depends only on the group size and the two variances: plotted
# against $n_i$ it falls on one curve.

# %%
observed_shrinkage = 1 - (estimates["partial_pooling"] - grand_mean) / (estimates["no_pooling"] - grand_mean)
n_grid = np.logspace(0, np.log10(sizes.max()), 200)
figure, axes = plt.subplots(figsize=(6, 3.5), layout="constrained")
axes.plot(n_grid, 1 - variance_between / (variance_between + variance_within / n_grid), color="C1",
          label=r"$1-\lambda(n) = \frac{\sigma^2/n}{\sigma_\alpha^2 + \sigma^2/n}$")
axes.scatter(estimates["n"], observed_shrinkage, s=15, label="postcodes (from fit.ranef)", zorder=3)
axes.set_xscale("log")
axes.set_xlabel("households in the postcode (log scale)")
axes.set_ylabel("fraction pulled towards the grand mean")
axes.legend();

# %% [markdown]
# ## Which estimate is closest to the truth?
#
# Root-mean-square error against the true postcode means, overall and by group size. Complete pooling is
# wrong for every postcode that really differs; no pooling is very noisy where data are few; partial
# pooling borrows strength from the other postcodes exactly where it is needed.

# %%
size_class = pd.cut(estimates["n"], [0, 5, 20, 100, np.inf], labels=["1-5", "6-20", "21-100", ">100"])
errors = estimates[["complete_pooling", "no_pooling", "partial_pooling"]].sub(estimates["truth"], axis=0)
rmse = (errors ** 2).groupby(size_class, observed=True).mean() ** 0.5
rmse.loc["all postcodes"] = (errors ** 2).mean() ** 0.5
rmse.insert(0, "postcodes", size_class.value_counts().reindex(rmse.index).fillna(len(estimates)).astype(int))
rmse.round(2)

# %%
figure, axes = plt.subplots(figsize=(6, 3.5), layout="constrained")
axes.scatter(estimates["n"], errors["no_pooling"].abs(), s=15, label="no pooling")
axes.scatter(estimates["n"], errors["partial_pooling"].abs(), s=15, label="partial pooling")
axes.set_xscale("log")
axes.set_xlabel("households in the postcode (log scale)")
axes.set_ylabel("|estimate - true mean|")
axes.set_title("Error against the truth")
axes.legend();

# %% [markdown]
# ## When are random effects useful?
#
# The lecture's list, all of which this example has: many levels of a factor; little data on some levels;
# uneven sampling across levels; and levels not all sampled (a new postcode gets the grand mean, with the
# between-postcode variance as its uncertainty, not "no estimate").
#
# ## The lessons, as numbers
#
# The test suite reruns this notebook and checks these.

# %%
small = estimates["n"] <= 5
lessons = {
    "shrinkage_formula_error": formula_error,
    "rmse_no_pooling": float(rmse.loc["all postcodes", "no_pooling"]),
    "rmse_partial_pooling": float(rmse.loc["all postcodes", "partial_pooling"]),
    "rmse_complete_pooling": float(rmse.loc["all postcodes", "complete_pooling"]),
    "mean_shrinkage_small_groups": float(observed_shrinkage[small].mean()),
    "mean_shrinkage_large_groups": float(observed_shrinkage[estimates["n"] > 100].mean()),
}
print("LESSONS " + json.dumps(lessons))

"""Notebook 05: diagnostics (residual and random-effect checks; simulated residuals for a GLMM)."""

# %% [markdown]
# # 5. Diagnostics
#
# A mixed model has more than one kind of fitted value, so more than one kind of residual: the
# **conditional** residual $y - X\hat\beta - Z\hat\gamma$ estimates $\varepsilon$, the **marginal** one
# $y - X\hat\beta$ estimates $Z\gamma + \varepsilon$. The conditional residuals are the useful ones for
# checking the model (bayesmixed's default, `re=True`). The lecture's checks:
#
# - residuals against fitted values: spots non-constant variance (heteroskedasticity);
# - residuals against each predictor: spots non-linearity;
# - a normal QQ plot of the residuals: checks $\varepsilon \sim N$;
# - a normal QQ plot of each column of random effects: checks $\gamma \sim N$.
#
# For a GLMM the normal QQ plot is the wrong yardstick (the residuals are not normal even when the model
# is right); simulation-based scaled residuals replace it.

# %%
import json
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

import bayesmixed as bm
from bayesmixed import plots

sleep = bm.datasets.load("sleepstudy")
fit = bm.lmer("Reaction ~ Days + (Days | Subject)", sleep)
print(fit)

# %% [markdown]
# ## Residuals against fitted values and against the predictor
#
# Each panel has a smoothed trend (binned means); under the model it stays near zero and the spread is
# even. The QQ plots carry a simulation envelope: the band in which 95% of QQ points of *normal* samples of
# this size fall.

# %%
plots.residuals_vs_fitted(fit);

# %%
plots.residuals_vs_predictor(fit, "Days");

# %%
plots.qq_residuals(fit);

# %% [markdown]
# A few observations fall outside the envelope in the tails: sleepstudy has some unusually slow reaction
# times. Not alarming for inference on the fixed effects, worth knowing.
#
# ## The random effects
#
# One QQ plot per column of random effects (here: intercept and slope per subject), and the caterpillar
# plot: each subject's effect with its conditional 95% interval, sorted.

# %%
plots.qq_ranef(fit);

# %%
plots.caterpillar(fit);

# %% [markdown]
# ## What a problem looks like
#
# Drop `Days` from the model, fixed and random, and plot the residuals against `Days`: the trend the
# model left out is plain to see. Residuals against a predictor are how non-linearity or a missing term
# shows up. (`plots.residuals_vs_predictor` takes only the model's own X columns, so for a variable left
# out of the model we draw the plot ourselves.)

# %%
too_simple = bm.lmer("Reaction ~ 1 + (1 | Subject)", sleep)
residuals = too_simple.residuals()
day_means = residuals.groupby(sleep["Days"]).mean()
figure, axes = plt.subplots(figsize=(6, 3.5), layout="constrained")
axes.scatter(sleep["Days"], residuals, s=10, alpha=0.6)
axes.plot(day_means.index, day_means.to_numpy(), color="C1", marker="o", label="mean residual per day")
axes.axhline(0, color="grey", lw=1)
axes.set_xlabel("Days (not in the model)")
axes.set_ylabel("conditional residual")
axes.set_title("Reaction ~ 1 + (1 | Subject): residuals against Days")
axes.legend(fontsize="small");

# %% [markdown]
# ## GLMMs: the normal QQ plot misleads
#
# `cbpp`: new cases of contagious bovine pleuropneumonia in 15 herds over four periods, a binomial GLMM
# `cbind(incidence, size - incidence) ~ period + (1 | herd)`. The Pearson residuals of a binomial model
# with a handful of animals per herd and period are discrete and skewed, so their normal QQ plot looks
# poor **whether or not the model is right**.

# %%
cbpp = bm.datasets.load("cbpp")
binomial = bm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
plots.qq_residuals(binomial);

# %% [markdown]
# ## Simulated (scaled) residuals, DHARMa's method
#
# Simulate many responses for each observation from the fitted model, conditional on the fitted random
# effects; the scaled residual is where the real observation falls among its simulations,
# $u_i = \hat F_i(y_i)$ (for counts, ties are broken at random within the jump of $\hat F_i$). If the model
# is right, the $u_i$ are **uniform on (0, 1)** whatever the family. The whole method fits in a few lines,
# written out here from the fit's fitted probabilities (bayesmixed's own implementation follows below):

# %%
N_SIMULATIONS = 250
rng = np.random.default_rng(7)


def scaled_residuals(observed: np.ndarray, simulated: np.ndarray) -> np.ndarray:
    """u_i = P(sim < y_i) + U * P(sim = y_i), from the simulations (n_sim x n_obs) of each observation."""
    below = np.mean(simulated < observed, axis=0)
    at = np.mean(simulated == observed, axis=0)
    return below + rng.uniform(size=observed.size) * at


def dispersion_test(observed: np.ndarray, simulated: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """(ratio, p): sum of squared deviations from the prediction, observed / mean simulated, two-sided p."""
    observed_spread = np.sum((observed - predicted) ** 2)
    simulated_spread = np.sum((simulated - predicted) ** 2, axis=1)
    tail = min(np.mean(simulated_spread >= observed_spread), np.mean(simulated_spread <= observed_spread))
    return observed_spread / simulated_spread.mean(), min(1.0, 2 * tail)


cases = cbpp["incidence"].to_numpy()
herd_size = cbpp["size"].to_numpy()
probability = binomial.fitted().to_numpy()  # conditional on the fitted herd effects
simulated_cases = rng.binomial(herd_size, probability, size=(N_SIMULATIONS, cases.size))
cbpp_u = scaled_residuals(cases, simulated_cases)
cbpp_dispersion = dispersion_test(cases, simulated_cases, herd_size * probability)
print(f"cbpp: KS test of uniformity p = {stats.kstest(cbpp_u, 'uniform').pvalue:.3f}; "
      f"dispersion ratio {cbpp_dispersion[0]:.2f} (p = {cbpp_dispersion[1]:.3f})")

# %%
def scaled_residual_plots(u: np.ndarray, predicted: np.ndarray, title: str) -> None:
    """Uniform QQ plot of u, and u against the rank of the prediction with its quartiles by bins."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    expected = (np.arange(u.size) + 0.5) / u.size
    left.scatter(expected, np.sort(u), s=10)
    left.plot([0, 1], [0, 1], color="C3", lw=1)
    left.set_xlabel("expected (uniform)")
    left.set_ylabel("observed scaled residual")
    left.set_title("uniform QQ plot")
    rank = stats.rankdata(predicted) / predicted.size
    right.scatter(rank, u, s=10, alpha=0.6)
    edges = np.linspace(0, 1, 6)
    centres = (edges[:-1] + edges[1:]) / 2
    for q in (0.25, 0.5, 0.75):
        binned = [np.quantile(u[(rank > lo) & (rank <= hi)], q) for lo, hi in zip(edges[:-1], edges[1:])]
        right.plot(centres, binned, color="C1", marker="o", ms=3)
        right.axhline(q, color="grey", ls=":", lw=1)
    right.set_xlabel("prediction (rank-transformed)")
    right.set_ylabel("scaled residual")
    right.set_title("residuals vs predicted, quartiles by bin")
    figure.suptitle(title)


scaled_residual_plots(cbpp_u, herd_size * probability, "cbpp binomial GLMM: scaled residuals")

# %% [markdown]
# The points follow the diagonal and the binned quartiles wobble around 0.25, 0.5 and 0.75 as much as
# eleven points per bin allow; the dispersion ratio is not significantly different from 1. Nothing to
# worry about, although the normal QQ plot above looked bad.
#
# bayesmixed's implementation (`bayesmixed.inference.simulated_residuals`, which the HTML report uses)
# does the same, and adds DHARMa's outlier test (observations outside all their simulations) and a
# pointwise 95% band on the QQ plot:

# %%
from bayesmixed.inference.simulated_residuals import simulate_residuals
from bayesmixed.plots.scaled_residuals import scaled_residuals as scaled_residuals_figure

packaged = simulate_residuals(binomial, n=N_SIMULATIONS, seed=8)
for test in packaged.tests():
    print(test)
scaled_residuals_figure(packaged, title="cbpp binomial GLMM: bayesmixed's simulated residuals");

# %% [markdown]
# ## What overdispersion looks like
#
# Now a model that is wrong. We simulate counts with more variance than a Poisson allows (negative
# binomial, 30 groups of 15) and fit a Poisson GLMM `y ~ x + (1 | group)`. The random intercept absorbs
# differences *between* groups, not the extra variance *within* them.

# %%
groups, per_group = 30, 15
counts = pd.DataFrame({"group": np.repeat([f"g{i:02d}" for i in range(groups)], per_group),
                       "x": rng.uniform(-1, 1, groups * per_group)})
mean_count = np.exp(1 + 0.5 * counts["x"] + np.repeat(rng.normal(0, 0.5, groups), per_group))
counts["y"] = rng.negative_binomial(2, 2 / (2 + mean_count))  # variance mu + mu^2 / 2
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    poisson = bm.glmer("y ~ x + (1 | group)", counts, family="poisson")
poisson_mean = poisson.fitted().to_numpy()
simulated_counts = rng.poisson(poisson_mean, size=(N_SIMULATIONS, poisson_mean.size))
poisson_u = scaled_residuals(counts["y"].to_numpy(), simulated_counts)
poisson_dispersion = dispersion_test(counts["y"].to_numpy(), simulated_counts, poisson_mean)
print(f"Poisson fit to overdispersed counts: KS p = {stats.kstest(poisson_u, 'uniform').pvalue:.2g}; "
      f"dispersion ratio {poisson_dispersion[0]:.2f} (p = {poisson_dispersion[1]:.3f})")
scaled_residual_plots(poisson_u, poisson_mean, "Poisson GLMM fitted to overdispersed counts")

# %% [markdown]
# The S shape in the uniform QQ plot (too many residuals near 0 and 1) and the outer quartiles pushed
# towards the edges are the signature of overdispersion: the observations are more spread out than the
# model's simulations. The remedy is in the model: an observation-level random effect `(1 | obs)`, or a
# negative binomial family, $\operatorname{Var}(y \mid \mu) = \mu + \mu^2/\theta$, which is how these counts
# were made. Refit with `family="negbin"` and check again:

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    negbin = bm.glmer("y ~ x + (1 | group)", counts, family="negbin")
size = negbin.dispersion  # theta, estimated (the simulation used 2)
negbin_mean = negbin.fitted().to_numpy()
simulated_negbin = rng.negative_binomial(size, size / (size + negbin_mean), size=(N_SIMULATIONS, negbin_mean.size))
negbin_u = scaled_residuals(counts["y"].to_numpy(), simulated_negbin)
negbin_dispersion = dispersion_test(counts["y"].to_numpy(), simulated_negbin, negbin_mean)
print(f"negative binomial fit: theta = {size:.2f}; KS p = {stats.kstest(negbin_u, 'uniform').pvalue:.2g}; "
      f"dispersion ratio {negbin_dispersion[0]:.2f} (p = {negbin_dispersion[1]:.3f})")
scaled_residual_plots(negbin_u, negbin_mean, "negative binomial GLMM fitted to the same counts")

# %% [markdown]
# The diagonal is back, the quartiles are flat: the model now describes how variable the counts are.
#
# ## What to take away
#
# - For LMMs: residuals vs fitted and vs each predictor, normal QQ of residuals and of each random-effect
#   column, caterpillar plot. Read them against their envelopes, not against perfection.
# - For GLMMs: simulated scaled residuals, uniform when the model is right, with tests for uniformity
#   and dispersion; a failed dispersion check points to a different family, not just a different plot.
#
# ## The lessons, as numbers

# %%
lessons = {
    "sleep_residual_trend_vs_days": float(np.corrcoef(sleep["Days"], fit.residuals())[0, 1]),
    "too_simple_residual_trend_vs_days": float(np.corrcoef(sleep["Days"], too_simple.residuals())[0, 1]),
    "cbpp_ks_p": float(stats.kstest(cbpp_u, "uniform").pvalue),
    "cbpp_dispersion_ratio": float(cbpp_dispersion[0]),
    "cbpp_packaged_ks_p": float(packaged.uniformity().p_value),
    "overdispersed_ks_p": float(stats.kstest(poisson_u, "uniform").pvalue),
    "overdispersed_dispersion_ratio": float(poisson_dispersion[0]),
    "overdispersed_dispersion_p": float(poisson_dispersion[1]),
    "negbin_theta": float(size),
    "negbin_ks_p": float(stats.kstest(negbin_u, "uniform").pvalue),
    "negbin_dispersion_ratio": float(negbin_dispersion[0]),
}
print("LESSONS " + json.dumps(lessons))

"""Notebook 02: the one-way random-effects ANOVA, the ICC and a variance estimated at zero."""

# %% [markdown]
# # 2. The one-way random-effects ANOVA, the ICC, and a variance estimated at zero
#
# The simplest random-effects model: a factor with $a$ levels and $n$ observations per level,
#
# $$y_{ij} = \mu + \alpha_i + \varepsilon_{ij},\qquad \alpha_i \sim N(0, \sigma_\alpha^2),\quad \varepsilon_{ij} \sim N(0, \sigma^2),\qquad i = 1..a,\ j = 1..n.$$
#
# Two observations in the same group share $\alpha_i$, so they are correlated: the **intra-class
# correlation** is
#
# $$\rho = \operatorname{Corr}(y_{ij}, y_{ik}) = \frac{\sigma_\alpha^2}{\sigma_\alpha^2 + \sigma^2}.$$
#
# We fit it to lme4's `Dyestuff` data (yield of dyestuff from 6 batches of an intermediate product, 5
# preparations each), then to a data set where the between-batch variance is **estimated at exactly zero**,
# and look at what the profile likelihood and the parametric bootstrap say about $\sigma_\alpha$ there.

# %%
import json
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import optimize, stats

import bayesmixed as bm

# Monte Carlo size: bootstrap replicates here (the test suite sets it small to run fast).
N_MC = int(os.environ.get("BAYESMIXED_NOTEBOOK_DRAWS", 1000))
print(f"bootstrap replicates: {N_MC}")

# %%
dyestuff = bm.datasets.load("dyestuff")
figure, axes = plt.subplots(figsize=(6, 3), layout="constrained")
codes = dyestuff["Batch"].cat.codes
axes.scatter(dyestuff["Yield"], codes, s=20)
axes.set_yticks(range(6), dyestuff["Batch"].cat.categories)
axes.set_xlabel("Yield (grams of standard colour)")
axes.set_ylabel("Batch")
axes.set_title("Dyestuff: 6 batches x 5 preparations");

# %% [markdown]
# ## The fit, and the ICC
#
# `Yield ~ 1 + (1 | Batch)`: a fixed intercept $\mu$, a random intercept per batch.

# %%
fit = bm.lmer("Yield ~ 1 + (1 | Batch)", dyestuff)
print(fit.summary())

# %%
variance_batch, variance_residual = fit.varcorr["vcov"]
icc_by_hand = variance_batch / (variance_batch + variance_residual)
print(f"ICC by hand from VarCorr: {icc_by_hand:.4f}")
print("fit.icc():")
print(fit.icc())

# %% [markdown]
# ## REML and the classical ANOVA estimate
#
# For balanced data the REML estimates are the classical ANOVA (method-of-moments) estimates whenever
# these are positive: with mean squares $MSA = n\sum_i(\bar y_i - \bar y)^2/(a-1)$ and
# $MSE = \sum_{ij}(y_{ij} - \bar y_i)^2/(a(n-1))$,
#
# $$\hat\sigma^2 = MSE,\qquad \hat\sigma_\alpha^2 = \frac{MSA - MSE}{n}.$$
#
# The second one is negative when $MSA < MSE$; REML cannot go below zero and stops at the boundary.

# %%
def sums_of_squares(data: pd.DataFrame) -> tuple[int, int, float, float]:
    """(a, n, SSA, SSE) of the balanced one-way layout Yield by Batch."""
    groups = data.groupby("Batch", observed=True)["Yield"]
    a, n = groups.ngroups, groups.size().iloc[0]
    ssa = n * ((groups.mean() - data["Yield"].mean()) ** 2).sum()
    sse = ((data["Yield"] - groups.transform("mean")) ** 2).sum()
    return a, n, ssa, sse


def mean_squares(data: pd.DataFrame) -> tuple[float, float]:
    """(MSA, MSE) = (SSA / (a - 1), SSE / (a (n - 1)))."""
    a, n, ssa, sse = sums_of_squares(data)
    return ssa / (a - 1), sse / (a * (n - 1))


msa, mse = mean_squares(dyestuff)
anova_between = (msa - mse) / 5
print(f"MSA = {msa:.1f}, MSE = {mse:.1f}")
print(f"ANOVA: sigma_alpha^2 = {anova_between:.3f}, sigma^2 = {mse:.3f}")
print(f"REML:  sigma_alpha^2 = {variance_batch:.3f}, sigma^2 = {variance_residual:.3f}")

# %% [markdown]
# ## A variance estimated at zero
#
# lme4's `Dyestuff2` is a simulated version of these data in which the batches do not differ. We simulate
# a data set like it (6 batches of 5, no batch effect at all, residual sd 3.7). Here $MSA < MSE$: the
# batch means vary *less* than the residual noise alone would make them, and the estimate of
# $\sigma_\alpha$ is exactly 0 — a **singular fit**, which the summary reports.

# %%
rng = np.random.default_rng(1)
dyestuff2 = pd.DataFrame({
    "Batch": pd.Categorical(np.repeat(list("ABCDEF"), 5)),
    "Yield": np.round(rng.normal(5.6, 3.7, size=30), 3),
})
msa2, mse2 = mean_squares(dyestuff2)
print(f"MSA = {msa2:.2f} < MSE = {mse2:.2f}: ANOVA estimate of sigma_alpha^2 = {(msa2 - mse2) / 5:.2f}")
fit2 = bm.lmer("Yield ~ 1 + (1 | Batch)", dyestuff2)
print(fit2.summary())
print("singular:", fit2.is_singular)
fit2.icc()

# %% [markdown]
# ## The profile likelihood of $\sigma_\alpha$
#
# A zero estimate does not mean the variance is zero: how far from zero could it plausibly be? The
# profile likelihood answers that. Fix $\sigma_\alpha$, maximise the likelihood over the other parameters,
# and measure the drop from the maximum on the signed square-root scale
#
# $$\zeta(\sigma_\alpha) = \operatorname{sign}(\sigma_\alpha - \hat\sigma_\alpha)\sqrt{d(\sigma_\alpha) - d(\hat\sigma_\alpha)},\qquad d = -2\log L_{\text{profiled}}.$$
#
# The 95% interval is where $|\zeta| \le 1.96$. For the balanced one-way model the ML deviance has a closed
# form in the two sums of squares ($\tau = \sigma^2 + n\sigma_\alpha^2$, $N = an$, $\hat\mu = \bar y$):
#
# $$d = N\log 2\pi + a(n-1)\log\sigma^2 + a\log\tau + SSE/\sigma^2 + SSA/\tau,$$
#
# so we can draw $\zeta$ ourselves and check it against `fit.confint(method="profile")` (lme4's method,
# which uses the ML deviance also for a REML fit).

# %%
def ml_deviance(sigma_between: float, sigma: float, sums: tuple[int, int, float, float]) -> float:
    """-2 log L of the balanced one-way model at mu = the grand mean (its ML estimate)."""
    a, n, ssa, sse = sums
    tau = sigma ** 2 + n * sigma_between ** 2
    return (a * n * np.log(2 * np.pi) + a * (n - 1) * np.log(sigma ** 2) + a * np.log(tau)
            + sse / sigma ** 2 + ssa / tau)


def profile_zeta(grid: np.ndarray, data: pd.DataFrame) -> np.ndarray:
    """zeta(sigma_between) with sigma maximised out at each grid value."""
    sums = sums_of_squares(data)

    def profiled(s_between: float) -> float:
        best = optimize.minimize_scalar(lambda log_s: ml_deviance(s_between, np.exp(log_s), sums),
                                        bounds=(-5, 10), method="bounded", options={"xatol": 1e-10})
        return best.fun
    deviances = np.array([profiled(s) for s in grid])
    best = optimize.minimize_scalar(profiled, bounds=(0, grid.max()), method="bounded", options={"xatol": 1e-8})
    return np.sign(grid - best.x) * np.sqrt(np.maximum(deviances - best.fun, 0))


profiles = {}
for name, data, this_fit, top in [("Dyestuff", dyestuff, fit, 130), ("simulated Dyestuff2", dyestuff2, fit2, 5)]:
    grid = np.linspace(0, top, 121)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the singular fit's ML refit repeats the warning above
        interval = this_fit.confint(method="profile").loc[".sig01"].to_numpy()
    profiles[name] = (grid, profile_zeta(grid, data), interval)
    print(f"{name}: profile 95% interval for sigma_alpha {interval.round(3)}")

figure, axes_pair = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
for axes, (name, (grid, zeta, interval)) in zip(axes_pair, profiles.items()):
    axes.plot(grid, zeta, label=r"$\zeta$ from the closed-form deviance")
    for z in (-1.96, 1.96):
        axes.axhline(z, color="grey", ls=":", lw=1)
    for end in interval:
        axes.axvline(end, color="C3", ls="--", lw=1)
    axes.axvline(np.nan, color="C3", ls="--", lw=1, label="fit.confint(method='profile')")
    axes.set_xlabel(r"$\sigma_\alpha$ (Batch sd)")
    axes.set_ylabel(r"$\zeta$")
    axes.set_title(name)
axes_pair[0].legend(fontsize="small");

# %% [markdown]
# On the left the profile is a nearly straight line through 0 at $\hat\sigma_\alpha$ and crosses $\pm1.96$
# where `confint` says. On the right $\zeta$ starts at 0 on the boundary and only rises: the interval is
# $[0, \text{upper}]$, and the upper end is far from zero. "Estimated at zero" is not "known to be zero".
#
# ## The parametric bootstrap of $\sigma_\alpha$: a spike at zero
#
# The bootstrap asks what estimates we would get if the fitted model were true: simulate new responses
# from it (`fit.simulate`), refit each, and look at the distribution of the refitted $\hat\sigma_\alpha$.
# Because the estimate is truncated at 0, the distribution has a point mass there — even for Dyestuff,
# whose fitted $\sigma_\alpha$ is far from zero.

# %%
def bootstrap_sigma_between(this_fit, data: pd.DataFrame, n: int, seed: int) -> np.ndarray:
    """sigma_alpha re-estimated by REML from n data sets simulated from this_fit."""
    estimates = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # every singular refit would warn
        for y in this_fit.simulate(n, seed=seed):
            refit = bm.lmer("Yield ~ 1 + (1 | Batch)", data.assign(Yield=y))
            estimates.append(refit.varcorr["sdcor"].iloc[0])
    return np.array(estimates)


boot = {"Dyestuff": bootstrap_sigma_between(fit, dyestuff, N_MC, seed=2),
        "simulated Dyestuff2": bootstrap_sigma_between(fit2, dyestuff2, N_MC, seed=3)}
zero_fraction = {name: float(np.mean(values < 1e-6)) for name, values in boot.items()}

figure, axes_pair = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
for axes, (name, values), this_fit in zip(axes_pair, boot.items(), (fit, fit2)):
    axes.hist(values, bins=40, color="C0")
    axes.axvline(this_fit.varcorr["sdcor"].iloc[0], color="C3", label="estimate from the data")
    axes.set_xlabel(r"bootstrap $\hat\sigma_\alpha$")
    axes.set_title(f"{name}: {zero_fraction[name]:.0%} of refits at exactly 0")
axes_pair[0].legend(fontsize="small")
print("share of bootstrap estimates at 0:", zero_fraction)

# %% [markdown]
# The percentile interval of these draws is the bootstrap confidence interval, which
# `fit.confint(method="boot")` computes directly (its own random draws, so its ends differ a little).

# %%
intervals = {}
for name, this_fit in [("Dyestuff", fit), ("simulated Dyestuff2", fit2)]:
    own = np.quantile(boot[name], [0.025, 0.975])
    packaged = this_fit.confint(method="boot", n_boot=N_MC, seed=4, progress=False).loc[".sig01"].to_numpy()
    profile = profiles[name][2]
    intervals[name] = {"profile": profile, "bootstrap (above)": own, "confint(method='boot')": packaged}
pd.DataFrame({(name, how): bounds for name, rows in intervals.items() for how, bounds in rows.items()},
             index=["2.5 %", "97.5 %"]).T.round(2)

# %% [markdown]
# The methods disagree most where the estimate's distribution has its spike. For Dyestuff the bootstrap
# interval starts at 0 as soon as more than 2.5% of the refits land on zero, while the profile interval
# starts well above it; for the singular data both start at 0 and their upper ends are close.
#
# ## What to take away
#
# - The ICC is the share of the total variance that lies between groups; here about 0.4.
# - With balanced data REML gives the ANOVA estimates, truncated at zero.
# - A variance estimated at zero happens easily with few groups. The profile interval and the bootstrap
#   distribution (with its spike at zero) show what the data still allow. A Wald interval $\hat\sigma \pm
#   1.96\,se$ cannot: it is centred on a boundary. Notebook 06 comes back to testing $\sigma_\alpha^2 = 0$.
#
# ## The lessons, as numbers

# %%
lessons = {
    "monte_carlo_size": N_MC,
    "icc": float(fit.icc().loc["Batch", "icc"]),
    "icc_by_hand": float(icc_by_hand),
    "reml_minus_anova_between": float(variance_batch - anova_between),
    "singular_sd": float(fit2.varcorr["sdcor"].iloc[0]),
    "singular_flagged": bool(fit2.is_singular),
    "singular_profile_interval": [float(v) for v in profiles["simulated Dyestuff2"][2]],
    "dyestuff_profile_interval": [float(v) for v in profiles["Dyestuff"][2]],
    "zeta_at_dyestuff_profile_ends": [float(np.interp(end, profiles["Dyestuff"][0], profiles["Dyestuff"][1]))
                                      for end in profiles["Dyestuff"][2]],
    "zero_fraction_dyestuff": zero_fraction["Dyestuff"],
    "zero_fraction_singular": zero_fraction["simulated Dyestuff2"],
}
print("LESSONS " + json.dumps(lessons))

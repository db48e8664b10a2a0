"""Notebook 04: going Bayesian (priors, prior predictive, posterior, diagnostics, crossed and nested designs)."""

# %% [markdown]
# # 4. Going Bayesian
#
# The lecture ends its inference section with "probably best to go Bayesian". A Bayesian mixed model keeps
# the same likelihood and adds a prior on every parameter; the answer is the posterior
#
# $$p(\beta, \sigma, D \mid y) \;\propto\; p(y \mid \beta, \sigma, D)\; p(\beta)\, p(\sigma)\, p(D),$$
#
# with the random effects $\gamma$ either integrated out or sampled alongside. There is no boundary problem
# (a variance near zero is just a posterior with mass near zero), intervals for variances need no
# asymptotic approximation, and models are compared by predictive accuracy (notebook 06). The price:
# priors to choose and justify, and a sampler whose convergence must be checked every time.
#
# In bayesmixed the same formula is fitted with `fit("bayes")`: NUTS (a Hamiltonian Monte Carlo sampler),
# 4 chains.

# %%
import json
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

import bayesmixed as bm
from bayesmixed import plots

# Monte Carlo size: posterior draws (and tuning steps) per chain; the test suite sets it small.
N_MC = int(os.environ.get("BAYESMIXED_NOTEBOOK_DRAWS", 1000))
print(f"draws per chain: {N_MC}")

# %% [markdown]
# ## Priors
#
# `model.priors` shows the default priors, **scaled to the data** (rstanarm's and bambi's rule): weakly
# informative, wide compared with anything the data could say, but not flat. Every line can be overridden
# by the name it has here.

# %%
dyestuff = bm.datasets.load("dyestuff")
model = bm.Model("Yield ~ 1 + (1 | Batch)", dyestuff)
print(model.priors)

# %% [markdown]
# ## The prior predictive: what do these priors say about data?
#
# Before looking at the posterior, simulate data sets from the priors alone (`fit("prior")`) and compare
# them with the real data. Sensible priors give data sets of the right order of magnitude, and wider than
# the real one; absurd ones (negative yields in the thousands, say) would show up here.

# %%
prior = model.fit("prior", draws=N_MC, seed=1)
prior_y = prior.predictive_draws()  # (draws x observations): one simulated data set per row
figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
for axes, statistic, label in ((left, np.mean, "mean"), (right, np.std, "sd")):
    simulated = statistic(prior_y, axis=1)
    axes.hist(simulated, bins=np.linspace(*np.quantile(simulated, [0.005, 0.995]), 40), density=True, alpha=0.7,
              label="data sets drawn from the prior")
    axes.axvline(statistic(dyestuff["Yield"]), color="k", lw=2, label="observed")
    axes.set_xlabel(f"{label} of Yield in a data set")
left.set_title("Prior predictive: the data set mean")
right.set_title("... and the data set sd")
left.legend(fontsize="small")
prior_range = np.quantile(prior_y, [0.025, 0.975])
print(f"95% of prior predictive yields in {prior_range.round(0)}; observed range "
      f"[{dyestuff['Yield'].min()}, {dyestuff['Yield'].max()}]")

# %% [markdown]
# ## The posterior
#
# With a Gaussian response, bayesmixed integrates $\gamma$ out analytically while sampling and draws it
# afterwards from its exact conditional. With six batches it integrates $\beta$ out too (the "joint marginal"
# route; a one-factor model with many groups takes the faster per-group "marginal" route). The summary gives,
# for each parameter, the posterior median, sd and 95% credible interval, and the diagnostics of the
# sampler.

# %%
bayes = model.fit("bayes", draws=N_MC, tune=N_MC, seed=1, progressbar=False)
print(bayes.summary())

# %% [markdown]
# ## Diagnostics: did the sampler work?
#
# Never read a posterior before these checks:
#
# - **R-hat** compares the chains with each other (and the halves of each chain); above 1.01 the chains
#   have not found the same distribution.
# - **ESS**, the effective sample size: the draws are autocorrelated, so 4000 draws may be worth far
#   fewer independent ones. Bulk ESS is for medians, tail ESS for interval ends; want a few hundred.
# - **Divergences**: NUTS could not follow the posterior's curvature somewhere (typical in the "funnel"
#   near a variance of zero); even a few mean the posterior there may be wrong.
#
# The trace plot shows each chain's draws (left: densities per chain, right: the draws in order; they
# should look like overlapping noise). The rank plot histograms each chain's ranks among all draws: flat
# bars mean the chains agree.

# %%
print(bayes.diagnose())
plots.trace(bayes);

# %%
plots.rank(bayes);

# %% [markdown]
# ## Posterior of $\sigma_\alpha$, beside REML
#
# The posterior of the between-batch sd, with REML's estimate and profile interval from notebook 02. With
# only 6 batches the posterior is wide and skewed; the ICC is reported with its credible interval.

# %%
reml = bm.lmer("Yield ~ 1 + (1 | Batch)", dyestuff)
profile = reml.confint(method="profile").loc[".sig01"].to_numpy()
sd_draws = bayes.draws["sd(Batch:(Intercept))"].ravel()
figure, axes = plt.subplots(figsize=(7, 3.5), layout="constrained")
axes.hist(sd_draws, bins=60, density=True, alpha=0.7, label="posterior draws")
axes.axvline(reml.varcorr["sdcor"].iloc[0], color="C3", label="REML estimate")
axes.axvspan(*profile, color="C3", alpha=0.12, label="REML profile 95% interval")
axes.set_xlabel(r"$\sigma_\alpha$ (sd of Batch)")
axes.legend(fontsize="small")
print("posterior ICC:")
print(bayes.icc())

# %% [markdown]
# ## Priors matter when groups are few
#
# Six batches carry little information about $\sigma_\alpha$, so its prior shows in the posterior. Refit
# with a much tighter prior, HalfNormal(20), which says the batch sd is most likely under 40:

# %%
tight = model.fit("bayes", draws=N_MC, tune=N_MC, seed=2, progressbar=False,
                  priors={"sd(Batch:(Intercept))": bm.prior.HalfNormal(20)})
default_scale = model.priors["sd(Batch:(Intercept))"].param("sigma")
grid = np.linspace(0, 160, 400)
figure, axes = plt.subplots(figsize=(7, 3.5), layout="constrained")
for label, fit, scale, color in (("default", bayes, default_scale, "C0"), ("HalfNormal(20)", tight, 20.0, "C1")):
    draws = fit.draws["sd(Batch:(Intercept))"].ravel()
    axes.hist(draws, bins=np.linspace(0, 160, 60), density=True, alpha=0.5, color=color,
              label=f"posterior, {label} prior (median {np.median(draws):.1f})")
    axes.plot(grid, stats.halfnorm(scale=scale).pdf(grid), color=color, ls="--", label=f"{label} prior")
axes.set_xlabel(r"$\sigma_\alpha$")
axes.legend(fontsize="small");

# %% [markdown]
# Which prior is right is a question about the subject (how different can batches of this product be?),
# not about the data. Report the prior, and check how much the conclusions move when it changes.
#
# ## Crossed random effects: Penicillin
#
# Penicillin potency measured on 24 plates with 6 samples each, every sample on every plate: plate and
# sample are **crossed** factors, `(1 | plate) + (1 | sample)`. Now $\gamma$ cannot be integrated out
# group by group: every plate shares observations with every sample. bayesmixed integrates both terms'
# effects out together (the "joint marginal" route, a dense system of size 24 + 6 here) or, beyond 200 random
# effects, on the REML engine's blocked factor (the "blocked marginal" route); the summary says which it took.

# %%
penicillin = bm.datasets.load("penicillin")
crossed_formula = "diameter ~ 1 + (1 | plate) + (1 | sample)"
crossed_reml = bm.lmer(crossed_formula, penicillin)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the summary below reports every diagnostic
    crossed = bm.Model(crossed_formula, penicillin).fit("bayes", draws=N_MC, tune=N_MC, seed=3, progressbar=False)
print(crossed.summary())

# %%
bm.side_by_side(reml=crossed_reml, bayes=crossed)

# %%
plots.trace(crossed);

# %% [markdown]
# A posterior predictive check: data sets simulated from the fitted model should look like the observed
# one.

# %%
plots.posterior_predictive(crossed);

# %% [markdown]
# ## Nested random effects: Pastes
#
# Paste strength from 10 batches, 3 casks within each batch, 2 analyses per cask. Cask "a" of batch A has
# nothing to do with cask "a" of batch B: casks are **nested** in batches, `(1 | batch/cask)`, which
# means `(1 | batch) + (1 | cask:batch)`.

# %%
pastes = bm.datasets.load("pastes")
nested_formula = "strength ~ 1 + (1 | batch/cask)"
nested_reml = bm.lmer(nested_formula, pastes)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the summary below reports every diagnostic
    nested = bm.Model(nested_formula, pastes).fit("bayes", draws=N_MC, tune=N_MC, seed=4, progressbar=False)
print(nested.summary())

# %%
bm.side_by_side(reml=nested_reml, bayes=nested)

# %%
plots.rank(nested);

# %% [markdown]
# The batch sd is small and poorly determined: REML puts it near 1.3 with a profile interval that
# reaches 0, and its posterior runs from nearly 0 to over 3. That is the "funnel" geometry in which a
# sampler that draws the random effects themselves struggles (divergences, low ESS); integrating them out
# avoids it. Read the diagnostics above as they are: whenever R-hat, ESS or divergences are flagged, the
# remedies the summary prints (more tuning, a higher `target_accept`, a tighter prior on that sd) come
# before any interval is trusted.
#
# ## What to take away
#
# - Priors: print them, check them with the prior predictive, and test how much they matter.
# - Posterior: only after the diagnostics pass (R-hat, ESS, divergences; trace and rank plots).
# - Crossed and nested designs are written as in lme4 and fitted the same way.
#
# ## The lessons, as numbers

# %%
def sd_median(fit, name: str) -> float:
    return float(np.median(fit.draws[name]))


lessons = {
    "monte_carlo_size": N_MC,
    "prior_predictive_95": [float(v) for v in prior_range],
    "observed_range": [float(dyestuff["Yield"].min()), float(dyestuff["Yield"].max())],
    "posterior_median_sd_batch": sd_median(bayes, "sd(Batch:(Intercept))"),
    "tight_prior_median_sd_batch": sd_median(tight, "sd(Batch:(Intercept))"),
    "reml_profile_sd_batch": [float(v) for v in profile],
    "dyestuff_max_rhat": float(bayes.diagnose().max_rhat),
    "crossed_sd_sample": sd_median(crossed, "sd(sample:(Intercept))"),
    "crossed_sd_plate": sd_median(crossed, "sd(plate:(Intercept))"),
    "crossed_divergences": int(crossed.diagnose().divergences),
    "crossed_max_rhat": float(crossed.diagnose().max_rhat),
    "nested_sd_cask": sd_median(nested, "sd(cask:batch:(Intercept))"),
    "nested_sd_batch": sd_median(nested, "sd(batch:(Intercept))"),
    "nested_divergences": int(nested.diagnose().divergences),
    "nested_max_rhat": float(nested.diagnose().max_rhat),
}
print("LESSONS " + json.dumps(lessons))

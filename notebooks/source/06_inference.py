"""Notebook 06: inference and model comparison (LRT and its pitfalls, the boundary, the parametric bootstrap,
AIC with ML, LOO/WAIC and leave-one-group-out)."""

# %% [markdown]
# # 6. Inference and model comparison
#
# The lecture's warnings about testing in mixed models:
#
# 1. Models that differ in their **fixed effects** cannot be compared by REML likelihoods: use ML.
# 2. Even with ML, the $\chi^2$ approximation to the likelihood-ratio statistic can be seriously wrong.
# 3. $H_0: \sigma_\alpha^2 = 0$ puts the parameter on the **boundary** of its space, where the usual
#    $\chi^2$ reference does not hold.
# 4. So: p-values on fixed effects tend to be too small, p-values on random effects too large.
# 5. The reasonable ways out: a **parametric bootstrap**, or a Bayesian comparison.
#
# We take each in turn on lme4's `sleepstudy` (reaction times of 18 subjects over 10 days of sleep
# deprivation).

# %%
import json
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

import bayesmixed as bm

# Monte Carlo size: bootstrap replicates and posterior draws per chain (the test suite sets it small).
N_MC = int(os.environ.get("BAYESMIXED_NOTEBOOK_DRAWS", 1000))
print(f"bootstrap replicates and posterior draws per chain: {N_MC}")
sleep = bm.datasets.load("sleepstudy")

# %% [markdown]
# ## 1. Fixed effects: REML cannot compare them
#
# Does reaction time change with `Days`? The two models differ in a fixed effect. REML maximises the
# likelihood of the error contrasts $K'y$ with $K'X = 0$; with different $X$ those are different data, so
# their REML likelihoods cannot be compared. bayesmixed refuses to tabulate their AICs:

# %%
without_days = bm.lmer("Reaction ~ 1 + (Days | Subject)", sleep)
with_days = bm.lmer("Reaction ~ Days + (Days | Subject)", sleep)
try:
    bm.aic_table(without_days, with_days)
    refused = False
except bm.BayesmixedError as error:
    refused = True
    print(error)

# %% [markdown]
# `bm.anova`, like lme4's `anova`, refits both models by ML before the likelihood-ratio test and says so
# in its notes. The statistic is $2(\ell_1 - \ell_0)$, referred to $\chi^2$ with 1 degree of freedom:

# %%
fixed_test = bm.anova(without_days, with_days)
fixed_test

# %% [markdown]
# ## 2. A variance on the boundary
#
# Now a random-effects question. In the first three days (`Days` 0 to 2), do subjects differ in how fast
# they slow down? Compare a random intercept with a random intercept **and** an uncorrelated random slope:
#
# $$H_0: \sigma^2_{\text{slope}} = 0 \quad\text{vs}\quad H_1: \sigma^2_{\text{slope}} > 0.$$
#
# Under $H_0$ the variance sits on the boundary (it cannot be negative). Then the LRT statistic is not
# $\chi^2_1$: in about half of the data sets the estimate is 0 and the statistic exactly 0. The asymptotic
# null distribution is the **50:50 mixture** $\tfrac12\chi^2_0 + \tfrac12\chi^2_1$, so the correct p-value is
# half the naive one. `bm.anova` reports both.

# %%
early = sleep[sleep["Days"] <= 2]
intercept_only = bm.lmer("Reaction ~ Days + (1 | Subject)", early)
with_slopes = bm.lmer("Reaction ~ Days + (Days || Subject)", early)
boundary_test = bm.anova(intercept_only, with_slopes)
statistic = float(boundary_test["chisq"].iloc[1])
p_chisq = float(stats.chi2.sf(statistic, 1))
p_mixture = 0.5 * p_chisq
print(f"statistic {statistic:.3f}: chi-square(1) p = {p_chisq:.4f}, 50:50 mixture p = {p_mixture:.4f}")
boundary_test

# %% [markdown]
# ## 3. The parametric bootstrap, in the lecture's six steps
#
# The mixture is itself an asymptotic result. The parametric bootstrap does not rely on one:
#
# 1. fit the full and the null model to the data;
# 2. compute the test statistic;
# 3. simulate pseudo-data from the fitted null model;
# 4. fit both models to the pseudo-data and compute the statistic;
# 5. repeat steps 3-4 many times;
# 6. the p-value is the proportion of simulated statistics at least as large as the observed one.
#
# Written out by hand (ML fits, as for any LRT):

# %%
N_BY_HAND = max(50, N_MC // 5)
null_formula, full_formula = "Reaction ~ Days + (1 | Subject)", "Reaction ~ Days + (Days || Subject)"
null_ml = bm.lmer(null_formula, early, REML=False)  # step 1
full_ml = bm.lmer(full_formula, early, REML=False)
observed = 2 * (full_ml.loglik - null_ml.loglik)  # step 2
by_hand = []
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # singular refits (slope variance 0) are expected under H0
    for pseudo_y in null_ml.simulate(N_BY_HAND, seed=11):  # steps 3 and 5
        pseudo = early.assign(Reaction=pseudo_y)
        refit_null = bm.lmer(null_formula, pseudo, REML=False)  # step 4
        refit_full = bm.lmer(full_formula, pseudo, REML=False)
        by_hand.append(max(0.0, 2 * (refit_full.loglik - refit_null.loglik)))
by_hand = np.array(by_hand)
p_by_hand = float(np.mean(by_hand >= observed))  # step 6
print(f"observed statistic {observed:.3f}; by hand, {N_BY_HAND} simulations: p = {p_by_hand:.3f}")

# %% [markdown]
# `bm.bootstrap_lrt` does the same, faster (the designs built once, refits warm-started from the
# fitted values) and with a Monte Carlo standard error; like pbkrtest it reports $p = (k + 1)/(n + 1)$,
# which never claims 0.

# %%
bootstrap = bm.bootstrap_lrt(intercept_only, with_slopes, n=N_MC, seed=12, progress=False)
print(bootstrap)

# %%
simulated = np.asarray(bootstrap.simulated)
at_zero = float(np.mean(simulated < 1e-6))
positive = simulated[simulated >= 1e-6]
figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
bins = np.linspace(0, max(8, observed + 1), 41)
# density of the positive part, scaled so that its area is the share of positive statistics
left.hist(positive, bins=bins, weights=np.full(positive.size, 1 / simulated.size / np.diff(bins)[0]), alpha=0.6,
          label="bootstrap statistics > 0")
grid = np.linspace(0.05, bins[-1], 300)
left.plot(grid, stats.chi2.pdf(grid, 1), color="C3", label=r"$\chi^2_1$")
left.plot(grid, 0.5 * stats.chi2.pdf(grid, 1), color="C2", ls="--",
          label=r"$\frac{1}{2}\chi^2_1$ (the mixture's continuous half)")
left.axvline(observed, color="k", label="observed statistic")
left.set_ylim(0, 1.0)
left.set_xlabel(r"LRT statistic $2(\ell_1 - \ell_0)$")
left.set_title(f"null distribution ({at_zero:.0%} exactly 0, not drawn)")
left.legend(fontsize="small")
right.plot(np.sort(simulated), 1 - np.arange(simulated.size) / simulated.size, drawstyle="steps-post",
           label="bootstrap")
right.plot(grid, stats.chi2.sf(grid, 1), color="C3", label=r"$\chi^2_1$")
right.plot(grid, 0.5 * stats.chi2.sf(grid, 1), color="C2", ls="--", label="50:50 mixture")
right.axvline(observed, color="k")
right.set_xlim(0, bins[-1])
right.set_xlabel("t")
right.set_ylabel(r"P(statistic $\geq$ t): the p-value at t")
right.set_title("tail probabilities")
right.legend(fontsize="small")
p_values = {"chi-square(1)": p_chisq, "50:50 mixture": p_mixture, "bootstrap by hand": p_by_hand,
            "bm.bootstrap_lrt": float(bootstrap.p_value)}
print({name: round(p, 4) for name, p in p_values.items()})

# %% [markdown]
# About half the simulated statistics are exactly zero, as the mixture predicts; the naive $\chi^2_1$
# p-value is about twice too large, and the bootstrap agrees with the mixture.
#
# ## 4. AIC, with ML only
#
# AIC $= -2\ell + 2k$ can compare models that differ in their fixed effects, provided both are fitted by
# full ML. Comparing random-effects structures by AIC is shakier: a variance at or near zero is not a full
# parameter, so the penalty $2k$ is only approximate (bayesmixed says so in a note). The lecture's advice
# for those: "probably best to go Bayesian".

# %%
formulas = ["Reaction ~ 1 + (Days | Subject)", "Reaction ~ Days + (Days | Subject)",
            "Reaction ~ Days + I(Days ** 2) + (Days | Subject)"]
aic = bm.aic_table(*[bm.lmer(formula, sleep, REML=False) for formula in formulas])
aic

# %% [markdown]
# ## 5. Bayesian comparison: LOO, WAIC and leave-one-group-out
#
# A Bayesian comparison asks how well each model **predicts** data it has not seen: the expected log
# predictive density $\text{elpd} = \sum_i \log p(y_i \mid y_{-i})$, estimated without refitting by
# Pareto-smoothed importance sampling (PSIS-LOO) or by WAIC. No nesting, no boundary, no degrees of
# freedom needed: here, correlated against uncorrelated random slopes on the full data.

# %%
bayes_fits = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # each summary below reports its diagnostics
    for name, formula in (("correlated", "Reaction ~ Days + (Days | Subject)"),
                          ("uncorrelated", "Reaction ~ Days + (Days || Subject)")):
        bayes_fits[name] = bm.Model(formula, sleep).fit("bayes", draws=N_MC, tune=N_MC, seed=5, progressbar=False)
        print(bayes_fits[name].diagnose())

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the table's notes carry the Pareto-k warnings
    loo = bm.compare(bayes_fits, ic="loo")
loo

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    waic = bm.compare(bayes_fits, ic="waic")
waic

# %% [markdown]
# `elpd_diff` is the loss of the worse model against the best, `dse` its standard error: a difference of
# a couple of standard errors or less means the data cannot tell the models apart. Read the notes: PSIS-LOO
# names the observations whose Pareto $k$ is too high for the estimate to be trusted.
#
# Leaving out single observations measures how well a model predicts new observations of subjects it has
# seen. To predict **new subjects**, leave out a whole subject at a time (`unit="group"`; each subject's
# random effects integrated out):

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    logo = bm.compare(bayes_fits, ic="loo", unit="group")
logo

# %% [markdown]
# ## What to take away
#
# - Different fixed effects: compare ML fits (`bm.anova` refits; `aic_table` refuses REML).
# - A variance tested against zero: the $\chi^2$ p-value is too large; use the 50:50 mixture or, better,
#   the parametric bootstrap.
# - The parametric bootstrap is six simple steps; `bm.bootstrap_lrt` runs them with a Monte Carlo error.
# - AIC needs ML, and is approximate for random-effects structures.
# - LOO/WAIC compare predictive accuracy with honest uncertainty (`dse`); choose the unit (observation or
#   group) by the prediction you care about.
#
# ## The lessons, as numbers

# %%
lessons = {
    "monte_carlo_size": N_MC,
    "aic_table_refused_reml": refused,
    "anova_said_refit": any("refitted with ML" in note for note in fixed_test.notes),
    "fixed_effect_p": float(fixed_test["p"].iloc[1]),
    "boundary_statistic": statistic,
    "boundary_statistic_by_hand": float(observed),
    "p_chisq": p_chisq,
    "p_mixture": p_mixture,
    "p_by_hand": p_by_hand,
    "p_bootstrap": float(bootstrap.p_value),
    "bootstrap_mc_se": float(bootstrap.mc_se),
    "bootstrap_share_at_zero": at_zero,
    "aic_best": str(aic["delta_aic"].idxmin()),
    "loo_models": list(loo.index),
    "loo_elpd": [float(v) for v in loo["elpd_loo"]],
    "logo_elpd": [float(v) for v in logo["elpd_loo"]],
    "max_rhat": max(float(fit.diagnose().max_rhat) for fit in bayes_fits.values()),
}
print("LESSONS " + json.dumps(lessons))
